import ArgumentParser
import CharLSTMKit
import Foundation

/// `charlstm eval CKPT CORPUS`: how well a model predicts a text.
struct EvalCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "eval",
    abstract: "Loss of a checkpoint on a text, in nats and bits per character (state carried).",
    discussion: """
      Every next character is scored once, with the recurrent state carried through the text. \
      With --windows N, nanoGPT's measure is printed beside it: the mean loss over --samples \
      random windows of N characters, each scored from a zero state (karpathy/nanoGPT, \
      estimate_loss), so a figure can be compared with a transformer's. --tail F scores only the \
      last fraction F of the text: the validation split of 'train --val-fraction F'. A run \
      trained with --ema is scored on its averaged weights; --trained-weights scores the \
      weights it trained instead.

      Examples:
        charlstm eval checkpoints/tinyshakespeare.best.safetensors corpora/tinyshakespeare.txt --json
        charlstm eval checkpoints/tinyshakespeare.best.safetensors corpora/tinyshakespeare.txt --tail 0.1 --windows 256
      """)

  @Argument(help: "A checkpoint written by 'charlstm train'.")
  var checkpoint: String

  @Argument(help: "A UTF-8 text file or a directory of them.")
  var corpus: String

  @Option(help: "Only read files matching this glob inside a directory corpus.")
  var include: String?

  @Option(help: "Read the text as N parallel streams, 1 to 65536 (faster; each stream starts from a zero state).")
  var streams: Int = 1

  @Option(help: "Window length for the streams, 1 to 65536 (and the pieces --windows reads its windows in: memory, not the result).")
  var seq: Int = 100

  @Flag(help: "Skip characters the model does not know (default: map to its unknown symbol, or fail).")
  var dropUnknown = false

  @Option(help: "Score only the last fraction F of the text, in (0, 1] (the split 'train --val-fraction F' holds out).")
  var tail: Double?

  @Option(help: "Also report nanoGPT's measure: random windows of N characters (1 to 65536), each from a zero state.")
  var windows: Int?

  @Option(help: "How many random windows for --windows (1 to 1,000,000).")
  var samples: Int = 2000

  @Option(help: "Seed of the window positions for --windows.")
  var seed: UInt64 = 1337

  @Flag(help: "For a checkpoint of a run with --ema: score the weights the run trained, not their moving average (the model's weights, scored by default).")
  var trainedWeights = false

  @Flag(help: "Print one JSON object.")
  var json = false

  @OptionGroup var threads: ThreadOptions
  @OptionGroup var numerics: PrecisionOptions

  func validate() throws {
    if streams < 1 || streams > Evaluation.maxStreams { throw ValidationError("--streams \(streams) is invalid: expected an integer from 1 to 65536") }
    if seq < 1 || seq > Evaluation.maxSeqLength { throw ValidationError("--seq \(seq) is invalid: expected an integer from 1 to 65536") }
    if let tail, !(tail > 0 && tail <= 1) { throw ValidationError("--tail \(tail) is invalid: expected a fraction in (0, 1], e.g. 0.1") }
    if let windows, windows < 1 || windows > Evaluation.maxSeqLength { throw ValidationError("--windows \(windows) is invalid: expected 1 to 65536 characters, e.g. 256") }
    if samples < 1 || samples > 1_000_000 { throw ValidationError("--samples \(samples) is invalid: expected 1 to 1,000,000") }
  }

  func run() throws {
    threads.apply()
    let ckpt = try Checkpoint.load(from: checkpoint)
    // A model trained on documents reads the text the same way (end-of-text symbols between them).
    let documents = ckpt.corpus?.documents ?? .stream
    let (all, _) = try CorpusLoader.encode(path: corpus, with: ckpt.tokenizer, include: include, documents: documents, unknown: dropUnknown ? .drop : .mapToUnknown)
    // The same cut as training's validation split.
    let tokens = try tail.map { t throws -> TokenSlice in
      t == 1 ? all[...] : try Corpus.split(all, validationFraction: t, documentEnd: documents == .stream ? nil : ckpt.tokenizer.endOfTextID).validation
    } ?? all[...]
    try Evaluation.check(model: ckpt.model, tokens: tokens.count, batch: streams, seqLength: seq)
    if let windows {
      // Scored 100 windows at a time, each in pieces of --seq steps.
      let piece = min(windows, seq)
      try Evaluation.check(model: ckpt.model, tokens: piece * min(samples, 100) + 1, batch: min(samples, 100), seqLength: piece)
    }
    let model: CharModel<Float>
    if trainedWeights {
      guard let trained = ckpt.trainingParameters else {
        throw ValidationError("\(checkpoint) holds no trained weights beside the model's (its run had no --ema); drop --trained-weights")
      }
      model = CharModel<Float>(config: ckpt.model, parameters: trained)
    } else {
      model = ckpt.makeModel()
    }
    let precision = numerics.scoring
    let (loss, n) = Kernels.withPrecision(precision) {
      Evaluation.meanLoss(model: model, tokens: tokens, batch: streams, seqLength: seq)
    }
    guard n > 0 else { throw ValidationError("\(corpus) has fewer than 2 characters; nothing to predict") }
    let windowed = try windows.map { w throws -> Double in
      guard let l = Kernels.withPrecision(precision, { Evaluation.windowedLoss(model: model, tokens: tokens, window: w, samples: samples, seed: seed, seqLength: seq) }) else {
        throw ValidationError("--windows \(w) needs a text longer than one window (\(counted(tokens.count, "character")) here); give a shorter --windows")
      }
      return l
    }
    if json {
      var object: [String: Any] = ["loss": loss, "bpc": loss / log(2), "characters": n]
      if let windowed, let windows {
        object["windowed"] = ["loss": windowed, "bpc": windowed / log(2), "window": windows, "samples": samples, "seed": seed]
      }
      let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
      Output.write(String(decoding: data, as: UTF8.self) + "\n")
    } else {
      Output.write(String(format: "%@: %.4f nats/char · %.4f bits/char over %@ (state carried)\n", corpus, loss, loss / log(2), counted(n, "character")))
      if let windowed, let windows {
        Output.write(String(format: "%@: %.4f nats/char · %.4f bits/char over %@ random %d-character windows from a zero state (seed %llu)\n", corpus, windowed, windowed / log(2), grouped(samples), windows, seed))
      }
    }
  }
}
