// generate-text: load a checkpoint written by `charlstm train` and print generated text.
// Usage: generate-text CHECKPOINT [PROMPT]
import CharLSTMKit
import Foundation

let arguments = CommandLine.arguments
guard arguments.count >= 2 else {
  FileHandle.standardError.write(Data("usage: generate-text CHECKPOINT [PROMPT]\n".utf8))
  exit(2)
}
let prompt = arguments.count >= 3 ? arguments[2] : ""

do {
  // One file holds the weights and the tokenizer (its vocabulary of characters).
  let checkpoint = try Checkpoint.load(from: arguments[1])
  let tokenizer = checkpoint.tokenizer
  let sampler = Sampler(model: checkpoint.makeModel(), tokenizer: tokenizer)

  // Characters the model never saw are left out of the prompt.
  let promptIDs = try tokenizer.encode(prompt, unknown: .drop)
  let options = SamplingOptions(temperature: 0.8, topP: 0.95, length: 200, seed: 42)
  let generated = sampler.generate(prompt: promptIDs, options: options)

  print(tokenizer.decode(promptIDs) + tokenizer.decode(generated[0]))
} catch {
  FileHandle.standardError.write(Data("generate-text: \(error)\n".utf8))
  exit(1)
}
