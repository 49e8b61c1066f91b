import ArgumentParser
import CharLSTMKit
import Foundation

/// `charlstm generate CKPT`: text from a trained model, streamed as it is produced.
struct GenerateCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "generate",
    abstract: "Generate text from a checkpoint, primed with a prompt.",
    discussion: """
      The prompt is tokenized with the checkpoint's tokenizer and primes the model; the text \
      streams to standard output as it is produced. The same --seed gives the same text.

      Examples:
        charlstm generate checkpoints/tinyshakespeare.safetensors --prompt "ROMEO:" --length 400
        charlstm generate checkpoints/tinyshakespeare.best.safetensors --temperature 0 --length 100
        charlstm generate checkpoints/tinyshakespeare.safetensors --top-p 0.9 --count 3 --seed 7
      """)

  @Argument(help: "A checkpoint written by 'charlstm train'.")
  var checkpoint: String

  @Option(help: "Text that primes the model (default: start of a line).")
  var prompt: String = ""

  @Option(help: "Characters to generate per text (any length with --count 1: the text streams and is not kept).")
  var length: Int = 500

  @Option(help: "Softmax temperature, 0 to 100; 0 (or below 1e-4) always picks the most likely character.")
  var temperature: Double = 0.8

  @Option(help: "Sample only among the K most likely characters (0 = off).")
  var topK: Int = 0

  @Option(help: "Sample from the smallest set of characters whose probability reaches P (1 = off).")
  var topP: Double = 1

  @Option(help: "Seed for the draws.")
  var seed: UInt64 = 1

  @Option(help: "Generate N texts in parallel streams (at most 10,000, and --count × --length at most 100,000,000 characters, as the texts are kept until printed).")
  var count: Int = 1

  @Flag(help: "Leave out prompt characters the model does not know instead of failing.")
  var dropUnknown = false

  @Flag(help: "Do not echo the prompt before the generated text.")
  var noPrompt = false

  @OptionGroup var threads: ThreadOptions
  @OptionGroup var numerics: PrecisionOptions

  var options: SamplingOptions {
    var o = SamplingOptions(temperature: temperature, topK: topK, topP: topP, length: length, count: count, seed: seed)
    o.precision = numerics.generationWeights
    return o
  }

  /// One text streams as it is drawn; several are kept and printed one after another.
  var storesTexts: Bool { count > 1 }

  func validate() throws {
    do {
      if storesTexts { try options.validateStored() } else { try options.validate() }
    } catch { throw ValidationError(error.description) }
  }

  func run() throws {
    threads.apply()
    let ckpt = try Checkpoint.load(from: checkpoint)
    try Sampler.checkMemory(model: ckpt.model, options: options, storing: storesTexts)
    let ids = try ckpt.tokenizer.encode(prompt, unknown: dropUnknown ? .drop : .error)
    let sampler = Sampler(model: ckpt.makeModel(), tokenizer: ckpt.tokenizer)
    let echo = noPrompt ? "" : ckpt.tokenizer.decode(ids)
    if !storesTexts {
      // Constant memory for any --length: each character is written as it is drawn.
      Output.write(echo)
      sampler.stream(prompt: ids, options: options) { _, id in Output.write(ckpt.tokenizer.symbol(id)) }
      Output.write("\n")
    } else {
      let texts = sampler.generate(prompt: ids, options: options)
      for (k, t) in texts.enumerated() {
        Output.write("──── \(k + 1)/\(count) ────\n" + echo + ckpt.tokenizer.decode(t) + "\n")
      }
    }
  }
}
