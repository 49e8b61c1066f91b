import CharLSTMKit

/// A completion request checked against a model and the server's limits and turned into one
/// ``TextRequest`` per choice: choice `p × n + k` continues prompt `p` with stream `k` of the
/// seed, the texts `charlstm generate --prompt P --count n --seed S` gives.
struct CompletionPlan: Sendable {
  /// The most stop texts per request.
  static let maxStops = 16

  let request: CompletionRequest
  /// Index of the model in the server's list.
  let modelIndex: Int
  let model: ServedModel
  /// The seed used (the request's, or a random one).
  let seed: UInt64
  /// Each prompt's ids (empty for an empty prompt: its text starts from the start token).
  let promptIDs: [[Int32]]
  /// Each prompt's text as the model reads it (normalized), which `echo` repeats.
  let promptTexts: [String]
  /// Characters in all prompts (each once).
  let promptCharacters: Int
  /// Choice i is `texts[i]`.
  let texts: [TextRequest]

  /// Checks `request` and plans its choices.
  /// - Throws: ``ServeError/unknownModel(_:available:)``, ``ServeError/unknownCharacters(model:characters:)``
  ///   or ``ServeError/invalidValue(param:value:expected:)`` for a value beyond a limit.
  init(_ request: CompletionRequest, models: [ServedModel], limits: ServerConfiguration) throws(ServeError) {
    guard let index = models.firstIndex(where: { $0.id == request.model }) else {
      throw .unknownModel(request.model, available: models.map(\.id))
    }
    let model = models[index]
    if request.maxTokens > limits.maxTokens {
      throw .invalidValue(param: "max_tokens", value: "\(request.maxTokens)", expected: "at most \(limits.maxTokens) characters on this server (--max-tokens)")
    }
    let choices = request.n.multipliedReportingOverflow(by: request.prompts.count)
    if choices.overflow || choices.partialValue > limits.maxN {
      let what = request.prompts.count == 1 ? "\(request.n)" : "\(request.n) × \(request.prompts.count) prompts"
      throw .invalidValue(param: "n", value: what, expected: "at most \(limits.maxN) choices per request on this server (--max-n)")
    }
    if request.stop.count > Self.maxStops {
      throw .invalidValue(param: "stop", value: "a list of \(request.stop.count)", expected: "at most \(Self.maxStops) stop texts")
    }
    var ids: [[Int32]] = []
    for (p, text) in request.prompts.enumerated() {
      let param = request.prompts.count == 1 ? "prompt" : "prompt[\(p)]"
      do {
        ids.append(try model.tokenizer.encode(text, unknown: .error))
      } catch {
        if case .unknownCharacters(let cs) = error { throw .unknownCharacters(model: model.id, characters: cs) }
        throw .invalidValue(param: param, value: "not readable text", expected: "text (\(error.description))")
      }
      if ids[p].count > limits.maxPromptCharacters {
        throw .invalidValue(param: param, value: "\(ids[p].count) characters", expected: "at most \(limits.maxPromptCharacters) on this server (--max-prompt-characters)")
      }
    }
    // A stop with a character outside the vocabulary can never be produced: it is left out.
    let stops = request.stop.compactMap { s -> [Int32]? in
      guard let t = try? model.tokenizer.encode(s, unknown: .error), !t.isEmpty else { return nil }
      return t
    }
    let seed = request.seed ?? UInt64.random(in: 0...UInt64.max)
    let options = SamplingOptions(
      temperature: request.temperature, topK: request.topK, topP: request.topP, length: request.maxTokens, count: 1, seed: seed)
    var texts: [TextRequest] = []
    for p in ids {
      let start = p.isEmpty ? [model.startToken] : p
      for k in 0..<request.n {
        texts.append(
          TextRequest(prompt: start, options: options, stream: k, stops: stops, endToken: model.endToken, alternatives: request.logprobs ?? 0))
      }
    }
    self.request = request
    self.modelIndex = index
    self.model = model
    self.seed = seed
    self.promptIDs = ids
    self.promptTexts = ids.map { model.tokenizer.decode($0) }
    self.promptCharacters = ids.reduce(0) { $0 + $1.count }
    self.texts = texts
  }

  /// The prompt of choice `i`.
  func prompt(ofChoice i: Int) -> String { promptTexts[i / request.n] }
}
