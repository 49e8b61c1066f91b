import ArgumentParser
import CharLSTMKit
import Foundation

/// `charlstm eval CKPT CORPUS`: how well a model predicts a text.
struct EvalCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "eval",
    abstract: "Loss of a checkpoint on a text, in nats and bits per character (state carried).",
    discussion: """
      Every next character is scored once, with the recurrent state carried through the text.

      Example:
        charlstm eval checkpoints/tinyshakespeare.best.safetensors ../shared/corpora/tinyshakespeare.txt --json
      """)

  @Argument(help: "A checkpoint written by 'charlstm train'.")
  var checkpoint: String

  @Argument(help: "A UTF-8 text file or a directory of them.")
  var corpus: String

  @Option(help: "Only read files matching this glob inside a directory corpus.")
  var include: String?

  @Option(help: "Read the text as N parallel streams, 1 to 65536 (faster; each stream starts from a zero state).")
  var streams: Int = 1

  @Option(help: "Window length for the streams, 1 to 65536.")
  var seq: Int = 100

  @Flag(help: "Skip characters the model does not know (default: map to its unknown symbol, or fail).")
  var dropUnknown = false

  @Flag(help: "Print one JSON object.")
  var json = false

  @OptionGroup var threads: ThreadOptions
  @OptionGroup var numerics: PrecisionOptions

  func validate() throws {
    if streams < 1 || streams > Evaluation.maxStreams { throw ValidationError("--streams \(streams) is invalid: expected an integer from 1 to 65536") }
    if seq < 1 || seq > Evaluation.maxSeqLength { throw ValidationError("--seq \(seq) is invalid: expected an integer from 1 to 65536") }
  }

  func run() throws {
    threads.apply()
    let ckpt = try Checkpoint.load(from: checkpoint)
    let (tokens, _) = try CorpusLoader.encode(path: corpus, with: ckpt.tokenizer, include: include, unknown: dropUnknown ? .drop : .mapToUnknown)
    try Evaluation.check(model: ckpt.model, tokens: tokens.count, batch: streams, seqLength: seq)
    let (loss, n) = Kernels.withPrecision((numerics.precision ?? .auto).resolved) {
      Evaluation.meanLoss(model: ckpt.makeModel(), tokens: tokens[...], batch: streams, seqLength: seq)
    }
    guard n > 0 else { throw ValidationError("\(corpus) has fewer than 2 characters; nothing to predict") }
    if json {
      let data = try JSONSerialization.data(withJSONObject: ["loss": loss, "bpc": loss / log(2), "characters": n], options: [.sortedKeys])
      Output.write(String(decoding: data, as: UTF8.self) + "\n")
    } else {
      Output.write(String(format: "%@: %.4f nats/char · %.4f bits/char over %@\n", corpus, loss, loss / log(2), counted(n, "character")))
    }
  }
}
