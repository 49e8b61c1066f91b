import ArgumentParser
import CharLSTMKit
import Foundation

/// `generate --interactive`: on a terminal, a prompt loop. Each line typed is a prompt; its
/// continuation streams as it is drawn (the same text `generate --prompt LINE` gives with the
/// same options). Ctrl-C stops the current text only; Ctrl-D (end of input) quits.
struct InteractiveSession {
  let command: GenerateCommand
  let sampler: Sampler
  let stops: [[Int32]]

  func run() throws {
    guard isatty(0) == 1 else {
      throw ValidationError("--interactive needs a terminal on standard input; for prompts from a file or a pipe use --prompt-file FILE (or - for standard input)")
    }
    GenerationSignals.install {
      // Ctrl-C at the prompt (no text running) only reminds how to quit.
      if !generating.isSet { Output.note("\n(Ctrl-D quits)") }
    }
    Output.note("charlstm: interactive; type a prompt and press Enter (Ctrl-C stops a text, Ctrl-D quits)")
    let tokenizer = sampler.tokenizer
    while true {
      Output.note("> ", newline: false)
      guard let line = readLine(strippingNewline: true) else { break }
      let ids: [Int32]
      do {
        ids = try tokenizer.encode(line, unknown: command.dropUnknown ? .drop : .error)
      } catch {
        Output.note("charlstm: \(error.description); type other characters, or start with --drop-unknown")
        continue
      }
      GenerationSignals.flag.clear()
      generating.set()
      defer { generating.clear() }
      do {
        if !command.noPrompt { Output.write(tokenizer.decode(ids)) }
        if let width = command.beamWidth {
          let search = BeamSearch(width: width, length: command.length, stops: stops, endToken: sampler.endToken, weights: command.options.precision)
          let best = search.run(model: sampler.model, prompt: sampler.primer(ids))
          Output.write(tokenizer.decode(best.tokens))
        } else {
          try sampler.run([command.request(sampler, ids, stream: 0, stops: stops)], weights: command.options.precision) { _, event in
            if GenerationSignals.flag.isSet { throw GenerationInterrupted() }
            if case .token(let id, _, _) = event { Output.write(tokenizer.symbol(id)) }
          }
        }
        Output.write("\n")
      } catch is GenerationInterrupted {
        Output.write("\n")
        Output.note("(stopped)")
      }
    }
    Output.write("")
  }
}

/// Whether a text is being generated (so Ctrl-C knows what to stop).
private let generating = GenerationSignals.Flag()
