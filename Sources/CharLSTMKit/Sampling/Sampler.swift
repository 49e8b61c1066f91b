#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// How the next character is drawn from the model's distribution.
public struct SamplingOptions: Sendable, Equatable {
  /// Softmax temperature: < 1 sharper, > 1 flatter, 0 (or below ``greedyTemperature``) picks
  /// the most likely character.
  public var temperature = 0.8
  /// Keep only the K most likely characters (0: all).
  public var topK = 0
  /// Keep the smallest set of most likely characters whose probability reaches P (1: all).
  public var topP = 1.0
  /// Characters to generate per text.
  public var length = 500
  /// Texts generated side by side (independent streams, one batch).
  public var count = 1
  /// Seed of the draws: the same seed, prompt and model give the same text.
  public var seed: UInt64 = 1
  /// How the weights are held while sampling: fp32, or bf16 (rounded once; half the bytes read
  /// per character, activations and accumulation stay fp32). The seed's draws are the same;
  /// the text can differ where two characters' probabilities are within bf16 rounding.
  public var precision: Kernels.Precision = .fp32

  /// Options with the given values; the defaults sample 500 characters at temperature 0.8, seed 1.
  public init(temperature: Double = 0.8, topK: Int = 0, topP: Double = 1, length: Int = 500, count: Int = 1, seed: UInt64 = 1) {
    self.temperature = temperature
    self.topK = topK
    self.topP = topP
    self.length = length
    self.count = count
    self.seed = seed
  }

  /// Temperatures below this behave exactly as 0 (greedy): 1/T would overflow the softmax
  /// (a subnormal T makes every exponent infinite), and a T this small is greedy in effect.
  public static let greedyTemperature = 1e-4
  /// The largest temperature accepted; beyond about 10 every distribution is nearly uniform.
  public static let maxTemperature = 100.0
  /// The most texts generated side by side (one batch).
  public static let maxCount = 10_000
  /// The most characters ``Sampler/generate(prompt:options:onToken:)`` keeps, `count × length`
  /// over all streams (4 bytes each: 400 MB); ``Sampler/stream(prompt:options:onToken:)`` keeps
  /// none and takes any length.
  public static let maxStoredCharacters = 100_000_000

  /// Whether the draws pick the most likely character: temperature 0, or below ``greedyTemperature``.
  public var isGreedy: Bool { temperature < Self.greedyTemperature }

  /// Characters kept when every stream's text is stored (`count × length`), nil on overflow.
  public var storedCharacters: Int? {
    let (n, overflow) = count.multipliedReportingOverflow(by: length)
    return overflow ? nil : n
  }

  /// Throws ``SamplingError/outOfRange(_:value:expected:)`` naming the setting when a value is
  /// out of range. Any `length` ≥ 0 is valid here (streaming keeps nothing); storing texts is
  /// bounded by ``validateStored()``.
  public func validate() throws(SamplingError) {
    if !(temperature >= 0 && temperature <= Self.maxTemperature) {
      throw .outOfRange(.temperature, value: "\(temperature)", expected: "a number from 0 to 100 (0 = always the most likely character; below 1e-4 counts as 0)")
    }
    if topK < 0 || topK > 1 << 24 { throw .outOfRange(.topK, value: "\(topK)", expected: "an integer from 0 (off) to 16,777,216") }
    if !(topP > 0 && topP <= 1) { throw .outOfRange(.topP, value: "\(topP)", expected: "a number in (0, 1]") }
    if length < 0 { throw .outOfRange(.length, value: "\(length)", expected: "an integer ≥ 0") }
    if count < 1 || count > Self.maxCount { throw .outOfRange(.count, value: "\(count)", expected: "an integer from 1 to 10,000") }
  }

  /// ``validate()``, and `count × length` within ``maxStoredCharacters``: what
  /// ``Sampler/generate(prompt:options:onToken:)`` needs, since it returns every text.
  /// - Throws: ``SamplingError/tooManyStoredCharacters(count:length:)`` beyond it.
  public func validateStored() throws(SamplingError) {
    try validate()
    guard let n = storedCharacters, n <= Self.maxStoredCharacters else {
      throw .tooManyStoredCharacters(count: count, length: length)
    }
  }
}

/// Generates text from a model: primes the state with a prompt, then draws one character per
/// step, carrying the state (no work per character beyond one model step and one draw).
public final class Sampler {
  /// The model that predicts each next character.
  public let model: CharModel<Float>
  /// The tokenizer the model was trained with (ids ↔ characters).
  public let tokenizer: Tokenizer

  /// A sampler over `model`; `tokenizer` must have the model's vocabulary size (checked).
  public init(model: CharModel<Float>, tokenizer: Tokenizer) {
    precondition(model.config.vocabSize == tokenizer.vocabulary.count, "model V \(model.config.vocabSize) ≠ vocabulary \(tokenizer.vocabulary.count)")
    self.model = model
    self.tokenizer = tokenizer
  }

  /// The token an empty prompt starts from: the end-of-text symbol in documents mode (every
  /// text follows one), else a line break when the vocabulary has one (the natural start of a
  /// text), else the most frequent character.
  public var defaultStartToken: Int32 {
    if let e = tokenizer.endOfTextID { return e }
    let v = tokenizer.vocabulary
    if let nl = v.symbols.firstIndex(of: "\n") { return Int32(nl) }
    return Int32(v.mostFrequent(1).first ?? 0)
  }

  /// The ids that prime the model for a prompt: in documents mode the end-of-text symbol and
  /// the prompt (a prompt is the start of a text, and every text follows the symbol); else the
  /// prompt, or ``defaultStartToken`` for an empty one.
  public func primer(_ prompt: [Int32]) -> [Int32] {
    if let e = tokenizer.endOfTextID { return [e] + prompt }
    return prompt.isEmpty ? [defaultStartToken] : prompt
  }

  /// The id that ends a text (documents mode), or nil when the model has none.
  public var endToken: Int32? { tokenizer.endOfTextID }

  /// Bytes a generation needs, roughly: the model's weights and their packed copy, the carried
  /// state, the per-step buffers of `options.count` streams, and the ids kept when `storing`.
  public static func estimatedBytes(model c: ModelConfig, options: SamplingOptions, storing: Bool) -> Double {
    let B = Double(options.count), H = Double(c.hiddenSize), L = Double(c.layers)
    let V = Double(c.vocabSize), E = Double(c.embedSize)
    let weights = 2 * Double(c.parameterCount)
    let perStream = 2 * L * H + max(E, H) + 4 * H + 3 * H + V + 1
    let stored = storing ? B * Double(options.length) : 0
    return 4 * (weights + B * perStream + 3 * V + stored)
  }

  /// Checks the options (``SamplingOptions/validateStored()`` when `storing`) and that the
  /// estimate fits in this machine's physical memory.
  /// - Throws: ``SamplingError`` naming the setting, or
  ///   ``SamplingError/exceedsMemory(generation:needed:available:reduce:)``.
  public static func checkMemory(model c: ModelConfig, options: SamplingOptions, storing: Bool) throws(SamplingError) {
    if storing { try options.validateStored() } else { try options.validate() }
    let need = estimatedBytes(model: c, options: options, storing: storing)
    let have = HostMemory.physicalBytes
    if have > 0 && need > have {
      throw .exceedsMemory(
        generation: "a generation of \(options.count) texts from \(c.layers)×\(c.hiddenSize), V \(c.vocabSize)", needed: need, available: have,
        reduce: storing ? [.count, .length] : [.count])
    }
  }

  /// Streams `options.count` continuations of `prompt`, keeping no text: memory stays constant
  /// whatever `options.length` is. Text k draws from `SeededGenerator(seed:stream: k)`, so the
  /// first text is the one `count` 1 gives.
  ///
  /// - Parameters:
  ///   - prompt: ids that prime the model (an empty prompt starts from ``defaultStartToken``).
  ///   - onToken: called with (stream, id) as each character is drawn, in order; throwing from
  ///     it stops the generation (e.g. when the output is closed) and the error is rethrown.
  /// - Precondition: `options.count` ≥ 1 and `options.length` ≥ 0 (see ``SamplingOptions/validate()``).
  public func stream(prompt: [Int32], options: SamplingOptions, onToken: (Int, Int32) throws -> Void) rethrows {
    precondition(options.count >= 1 && options.length >= 0, "sampling needs count ≥ 1 and length ≥ 0, got count \(options.count), length \(options.length)")
    let requests = (0..<options.count).map { TextRequest(prompt: primer(prompt), options: options, stream: $0, endToken: endToken) }
    try run(requests, capacity: options.count, weights: options.precision) { k, event in
      if case .token(let id, _, _) = event { try onToken(k, id) }
    }
  }

  /// Generates the texts of `requests` as rows of one batch of up to `capacity` texts (each
  /// request joins as soon as a row is free), reporting every event with the request's index.
  /// Prompts of any lengths, options and stop texts mix freely; each text is the same as when
  /// its request runs alone.
  /// - Parameters:
  ///   - capacity: the most texts stepped together (default: all of them, up to 256).
  ///   - weights: fp32 or bf16 weights (``SamplingOptions/precision``).
  ///   - onEvent: (request index, event), in the order they happen; throwing stops the run.
  public func run(
    _ requests: [TextRequest], capacity: Int? = nil, weights: Kernels.Precision = .fp32,
    onEvent: (Int, TextEvent) throws -> Void
  ) rethrows {
    if requests.isEmpty { return }
    let batch = TextBatch(model: model, capacity: max(1, capacity ?? min(requests.count, 256)), weights: weights)
    var next = 0
    while next < requests.count && batch.hasRoom {
      batch.add(requests[next])
      next += 1
    }
    while batch.active > 0 {
      try batch.step(onEvent)
      // Ids are given in order from 0, so a text's id is its request's index.
      while next < requests.count && batch.hasRoom {
        batch.add(requests[next])
        next += 1
      }
    }
  }

  /// Generates `options.count` continuations of `prompt` and returns them all (the same draws
  /// as ``stream(prompt:options:onToken:)``).
  ///
  /// - Parameters:
  ///   - prompt: ids that prime the model (an empty prompt starts from ``defaultStartToken``).
  ///   - onToken: called with (stream, id) as each character is drawn, in order, so callers
  ///     can stream the text.
  /// - Returns: the generated ids of each stream (without the prompt).
  /// - Precondition: `count × length` ≤ ``SamplingOptions/maxStoredCharacters`` (check with
  ///   ``SamplingOptions/validateStored()``); use ``stream(prompt:options:onToken:)`` for longer texts.
  @discardableResult
  public func generate(prompt: [Int32], options: SamplingOptions, onToken: (Int, Int32) -> Void = { _, _ in }) -> [[Int32]] {
    let stored = options.storedCharacters
    precondition(
      stored.map { $0 <= SamplingOptions.maxStoredCharacters } ?? false,
      "generate keeps count × length ids; count \(options.count) × length \(options.length) exceeds \(SamplingOptions.maxStoredCharacters): use stream(prompt:options:onToken:)")
    var out = [[Int32]](repeating: [], count: options.count)
    for b in 0..<options.count { out[b].reserveCapacity(options.length) }
    stream(prompt: prompt, options: options) { b, id in
      out[b].append(id)
      onToken(b, id)
    }
    return out
  }
}

/// This machine's memory, for the estimates that run before large allocations.
enum HostMemory {
  /// Physical memory in bytes (0 when unknown).
  static var physicalBytes: Double {
    Double(sysconf(Int32(_SC_PHYS_PAGES))) * Double(sysconf(Int32(_SC_PAGESIZE)))
  }

  /// Bytes as whole gigabytes for messages ("<1" below one).
  static func gigabytes(_ bytes: Double) -> String {
    bytes < 1e9 ? "<1" : "\(Int(min(bytes / 1e9, 1e15)))"
  }
}
