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
      streams to standard output as it is produced. The same --seed gives the same texts, \
      whether a prompt runs alone, with --count or among others in a --prompt-file: text k of \
      a prompt always draws from stream k of the seed.

      Examples:
        charlstm generate checkpoints/tinyshakespeare.safetensors --prompt "ROMEO:" --length 400
        charlstm generate checkpoints/tinyshakespeare.best.safetensors --temperature 0 --length 100
        charlstm generate checkpoints/tinyshakespeare.safetensors --top-p 0.9 --count 3 --seed 7
        charlstm generate checkpoints/tinyshakespeare.safetensors --prompt-file prompts.txt --stop $'\\n\\n' --json
        charlstm generate checkpoints/tinyshakespeare.safetensors --prompt "KING" --beam 8 --length 60
        charlstm generate checkpoints/tinyshakespeare.safetensors --interactive
      """)

  @Argument(help: "A checkpoint written by 'charlstm train'.")
  var checkpoint: String

  @Option(help: "Text that primes the model (default: start of a line, or of a document in --documents mode).")
  var prompt: String?

  @Option(help: ArgumentHelp("A file of prompts, one per line ('-': standard input); all run as parallel streams of one batch, and the texts are printed in input order.", valueName: "file"))
  var promptFile: String?

  @Option(help: "Characters to generate per text, at most (any length for one text: it streams and is not kept).")
  var length: Int = 500

  @Option(help: "Softmax temperature, 0 to 100; 0 (or below 1e-4) always picks the most likely character.")
  var temperature: Double = 0.8

  @Option(help: "Sample only among the K most likely characters (0 = off).")
  var topK: Int = 0

  @Option(help: "Sample from the smallest set of characters whose probability reaches P (1 = off).")
  var topP: Double = 1

  @Option(help: "Seed for the draws.")
  var seed: UInt64 = 1

  @Option(help: "Texts per prompt, in parallel streams (at most 10,000; texts × --length at most 100,000,000 characters when more than one text is kept until printed).")
  var count: Int = 1

  @Option(name: .customLong("stop"), help: ArgumentHelp("End a text when it produces TEXT (repeatable); the stop text is not printed.", valueName: "text"))
  var stops: [String] = []

  @Option(name: .customLong("beam"), help: ArgumentHelp("Beam search with N hypotheses for the most likely continuation of --length characters (deterministic; ignores --temperature, --top-k, --top-p and --seed).", valueName: "n"))
  var beamWidth: Int?

  @Flag(help: "One JSON object per text: prompt, text (the continuation), finish_reason (length, stop, end), characters, logprob.")
  var json = false

  @Option(help: ArgumentHelp("Write the texts to FILE instead of standard output; the file appears whole or not at all.", valueName: "file"))
  var output: String?

  @Flag(help: "Let --output replace an existing file.")
  var overwrite = false

  @Flag(help: "On a terminal: type a prompt, get a continuation streamed; Ctrl-C stops the current text, Ctrl-D quits.")
  var interactive = false

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

  func validate() throws {
    if prompt != nil && promptFile != nil { throw ValidationError("--prompt and --prompt-file cannot be combined: put the prompt in the file") }
    if interactive {
      for (on, name) in [(promptFile != nil, "--prompt-file"), (output != nil, "--output"), (json, "--json"), (count != 1, "--count")] where on {
        throw ValidationError("--interactive cannot be combined with \(name)")
      }
    }
    if overwrite && output == nil { throw ValidationError("--overwrite applies to --output FILE; add --output") }
    if let w = beamWidth {
      if count != 1 { throw ValidationError("--beam finds the one most likely text per prompt; leave out --count") }
      do { try BeamSearch(width: w, length: length).validate() } catch { throw ValidationError(userMessage(error, command: self)) }
    }
    // One text streams in constant memory; several are kept until printed (checked again
    // with the number of prompts once the file is read).
    do {
      if count > 1 { try options.validateStored() } else { try options.validate() }
    } catch { throw ValidationError(userMessage(error, command: self)) }
  }

  func run() throws {
    threads.apply()
    let ckpt = try Checkpoint.load(from: checkpoint)
    let tokenizer = ckpt.tokenizer
    let sampler = Sampler(model: ckpt.makeModel(), tokenizer: tokenizer)
    let stopIDs = usableStops(tokenizer)
    if interactive {
      try InteractiveSession(command: self, sampler: sampler, stops: stopIDs).run()
      return
    }
    let prompts = try promptFile.map(readPrompts) ?? [prompt ?? ""]
    let encoded = try prompts.enumerated().map { k, p in
      do {
        return try tokenizer.encode(p, unknown: dropUnknown ? .drop : .error)
      } catch let e as TextError where promptFile != nil {
        throw ValidationError("prompt on line \(k + 1) of \(promptFile!): \(e.description); fix the line or pass --drop-unknown")
      }
    }
    let texts = prompts.count * count
    if beamWidth == nil {
      let keeps = texts > 1 || json
      if texts > 1 {
        let (total, overflow) = texts.multipliedReportingOverflow(by: length)
        if overflow || total > SamplingOptions.maxStoredCharacters {
          throw ValidationError("\(texts) texts × --length \(length) exceeds the 100,000,000 characters kept until printed (about 400 MB); use fewer prompts, a smaller --count or --length")
        }
      }
      var o = options
      o.count = min(texts, 512)
      try Sampler.checkMemory(model: ckpt.model, options: o, storing: keeps)
    }
    // Signals first, then --output's temporary file: a Ctrl-C sent once the file exists finds
    // the handler in place (the other order left a moment in which it was ignored and the
    // generation ran on: seen as a hang of interruptedOutputWritesNothing on a loaded machine).
    GenerationSignals.install()
    let sink = try TextSink(output: output, overwrite: overwrite)
    if beamWidth != nil {
      // A search checks for the signal only between prompts; a long one ends at once instead,
      // leaving --output's path as it was.
      nonisolated(unsafe) let unsafeSink = sink
      let target = output
      GenerationSignals.onSignal {
        unsafeSink.abandon()
        Output.note("charlstm: interrupted\(target.map { "; \($0) was not written" } ?? "")")
        Foundation.exit(130)
      }
    }
    do {
      if let width = beamWidth {
        try beamSearch(width: width, sampler: sampler, prompts: prompts, encoded: encoded, stops: stopIDs, sink: sink)
      } else if texts == 1 && !json {
        try streamOne(sampler: sampler, prompt: encoded[0], stops: stopIDs, sink: sink)
      } else {
        try batch(sampler: sampler, prompts: prompts, encoded: encoded, stops: stopIDs, sink: sink)
      }
      try sink.finish()
    } catch is GenerationInterrupted {
      sink.abandon()
      Output.note("charlstm: interrupted\(output.map { "; \($0) was not written" } ?? "")")
      Foundation.exit(130)
    }
  }

  /// The stop texts as ids; a stop with characters the model cannot produce is left out with
  /// a warning (it could never match).
  func usableStops(_ tokenizer: Tokenizer) -> [[Int32]] {
    stops.compactMap { s -> [Int32]? in
      if s.isEmpty {
        Output.note("charlstm: warning: an empty --stop matches nothing; left out")
        return nil
      }
      do {
        return try tokenizer.encode(s, unknown: .error)
      } catch {
        Output.note("charlstm: warning: --stop \(jsonString(s)) has characters the model cannot produce (\(String(describing: error))); it can never match and is left out")
        return nil
      }
    }
  }

  /// The request of text `stream` of an encoded prompt.
  func request(_ sampler: Sampler, _ ids: [Int32], stream: Int, stops: [[Int32]]) -> TextRequest {
    TextRequest(
      prompt: sampler.primer(ids), options: options, stream: stream, stops: stops,
      endToken: sampler.endToken)
  }

  /// One text streamed as it is drawn: constant memory for any --length.
  func streamOne(sampler: Sampler, prompt ids: [Int32], stops: [[Int32]], sink: TextSink) throws {
    let tokenizer = sampler.tokenizer
    if !noPrompt { try sink.write(tokenizer.decode(ids)) }
    try sampler.run([request(sampler, ids, stream: 0, stops: stops)], weights: options.precision) { _, event in
      if GenerationSignals.flag.isSet { throw GenerationInterrupted() }
      if case .token(let id, _, _) = event { try sink.write(tokenizer.symbol(id)) }
    }
    try sink.write("\n")
  }

  /// Every prompt × --count texts as rows of one batch, printed in input order as they end.
  func batch(sampler: Sampler, prompts: [String], encoded: [[Int32]], stops: [[Int32]], sink: TextSink) throws {
    let tokenizer = sampler.tokenizer
    var requests: [TextRequest] = []
    for ids in encoded {
      for k in 0..<count { requests.append(request(sampler, ids, stream: k, stops: stops)) }
    }
    var texts = [[Int32]](repeating: [], count: requests.count)
    var ended = [(FinishReason, Double)?](repeating: nil, count: requests.count)
    var printed = 0
    try sampler.run(requests, capacity: min(requests.count, 512), weights: options.precision) { k, event in
      if GenerationSignals.flag.isSet { throw GenerationInterrupted() }
      switch event {
      case .token(let id, _, _): texts[k].append(id)
      case .finished(let reason, _, let logprob):
        ended[k] = (reason, logprob)
        // Print every text whose predecessors are all printed.
        while printed < requests.count, let (reason, logprob) = ended[printed] {
          let p = printed / count
          try emit(
            index: printed, of: requests.count, prompt: prompts[p], echo: tokenizer.decode(encoded[p]),
            text: tokenizer.decode(texts[printed]), characters: texts[printed].count, finish: reason, logprob: logprob, sink: sink)
          texts[printed] = []
          printed += 1
        }
      }
    }
  }

  /// The most likely continuation of each prompt.
  func beamSearch(width: Int, sampler: Sampler, prompts: [String], encoded: [[Int32]], stops: [[Int32]], sink: TextSink) throws {
    let tokenizer = sampler.tokenizer
    let search = BeamSearch(width: width, length: length, stops: stops, endToken: sampler.endToken, weights: options.precision)
    for (p, ids) in encoded.enumerated() {
      if GenerationSignals.flag.isSet { throw GenerationInterrupted() }
      let best = search.run(model: sampler.model, prompt: sampler.primer(ids))
      try emit(
        index: p, of: prompts.count, prompt: prompts[p], echo: tokenizer.decode(ids), text: tokenizer.decode(best.tokens),
        characters: best.tokens.count, finish: best.finish, logprob: best.logprob, sink: sink)
    }
  }

  /// One finished text: a JSON line, or the text with its prompt (under a header when there
  /// are several).
  func emit(index: Int, of total: Int, prompt: String, echo: String, text: String, characters: Int, finish: FinishReason, logprob: Double, sink: TextSink) throws {
    if json {
      let object: [String: Any] = [
        "prompt": prompt, "text": text, "finish_reason": finish.rawValue, "characters": characters,
        "logprob": logprob.isFinite ? logprob : -Double.greatestFiniteMagnitude,
      ]
      let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
      try sink.write(String(decoding: data, as: UTF8.self) + "\n")
    } else {
      let header = total > 1 ? "──── \(index + 1)/\(total) ────\n" : ""
      try sink.write(header + (noPrompt ? "" : echo) + text + "\n")
    }
  }

  /// The prompts of `path`, one per line (a final line break ends the last line, it does not
  /// start an empty one; "\r\n" endings are accepted).
  func readPrompts(_ path: String) throws -> [String] {
    let bytes: [UInt8]
    if path == "-" {
      bytes = Array(FileHandle.standardInput.readDataToEndOfFile())
    } else {
      if PathKind(of: path) == .directory { throw ValidationError("--prompt-file \(path) is a directory; give a file of prompts, one per line") }
      guard let data = FileManager.default.contents(atPath: path) else {
        throw ValidationError("--prompt-file \(path) cannot be read (\(FileManager.default.fileExists(atPath: path) ? "permission denied" : "no such file")); give a file of prompts, one per line")
      }
      bytes = Array(data)
    }
    guard let text = String(validating: bytes, as: UTF8.self) else {
      throw ValidationError("--prompt-file \(path) is not valid UTF-8; convert it (e.g. iconv -f latin1 -t utf-8)")
    }
    var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.hasSuffix("\r") ? String($0.dropLast()) : String($0) }
    if lines.last == "" { lines.removeLast() }
    if lines.isEmpty { throw ValidationError("--prompt-file \(path) has no prompts; write one prompt per line") }
    if lines.count > SamplingOptions.maxCount {
      throw ValidationError("--prompt-file \(path) has \(lines.count) prompts; at most 10,000 run in one command: split the file")
    }
    return lines
  }
}
