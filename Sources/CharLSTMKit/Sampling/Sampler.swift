#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// How the next character is drawn from the model's distribution.
public struct SamplingOptions: Sendable, Equatable {
  /// Softmax temperature: < 1 sharper, > 1 flatter, 0 picks the most likely character.
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

  /// Options with the given values; the defaults sample 500 characters at temperature 0.8, seed 1.
  public init(temperature: Double = 0.8, topK: Int = 0, topP: Double = 1, length: Int = 500, count: Int = 1, seed: UInt64 = 1) {
    self.temperature = temperature
    self.topK = topK
    self.topP = topP
    self.length = length
    self.count = count
    self.seed = seed
  }

  /// Throws with the option named when a value is out of range.
  public func validate() throws(TrainingError) {
    if !(temperature >= 0 && temperature.isFinite) { throw .invalidOption(name: "--temperature", value: "\(temperature)", expected: "a number ≥ 0 (0 = always the most likely character)") }
    if topK < 0 { throw .invalidOption(name: "--top-k", value: "\(topK)", expected: "an integer ≥ 0 (0 = off)") }
    if !(topP > 0 && topP <= 1) { throw .invalidOption(name: "--top-p", value: "\(topP)", expected: "a number in (0, 1]") }
    if length < 0 { throw .invalidOption(name: "--length", value: "\(length)", expected: "an integer ≥ 0") }
    if count < 1 { throw .invalidOption(name: "--count", value: "\(count)", expected: "an integer ≥ 1") }
  }
}

/// Generates text from a model: primes the state with a prompt, then draws one character per
/// step, carrying the state (no work per character beyond one model step and one draw).
public final class Sampler {
  /// The model that predicts each next character.
  public let model: CharModel<Float>
  /// The tokenizer the model was trained with (ids ↔ characters).
  public let tokenizer: Tokenizer
  /// Scratch: logits [B, V], sorted indices [V], probabilities [V].
  private var logits: [Float] = []
  private var order: [Int32] = []
  private var probs: [Double] = []

  /// A sampler over `model`; `tokenizer` must have the model's vocabulary size (checked).
  public init(model: CharModel<Float>, tokenizer: Tokenizer) {
    precondition(model.config.vocabSize == tokenizer.vocabulary.count, "model V \(model.config.vocabSize) ≠ vocabulary \(tokenizer.vocabulary.count)")
    self.model = model
    self.tokenizer = tokenizer
  }

  /// The token an empty prompt starts from: a line break when the vocabulary has one (the
  /// natural start of a text), else the most frequent character.
  public var defaultStartToken: Int32 {
    let v = tokenizer.vocabulary
    if let nl = v.symbols.firstIndex(of: "\n") { return Int32(nl) }
    return Int32(v.mostFrequent(1).first ?? 0)
  }

  /// Generates `options.count` continuations of `prompt`.
  ///
  /// - Parameters:
  ///   - prompt: ids that prime the model (an empty prompt starts from ``defaultStartToken``).
  ///   - onToken: called with (stream, id) as each character is drawn, in order, so callers
  ///     can stream the text.
  /// - Returns: the generated ids of each stream (without the prompt).
  @discardableResult
  public func generate(prompt: [Int32], options: SamplingOptions, onToken: (Int, Int32) -> Void = { _, _ in }) -> [[Int32]] {
    let B = options.count
    let V = model.config.vocabSize
    var rng = SeededGenerator(seed: options.seed)
    var state = LSTMState<Float>.zeros(for: model.config, batch: B)
    // Weights packed once for the whole generation; per character only one step and a draw.
    let session = InferenceSession(model: model, batch: B)
    logits = [Float](repeating: 0, count: B * V)
    order = [Int32](repeating: 0, count: V)
    probs = [Double](repeating: 0, count: V)
    let start = prompt.isEmpty ? [defaultStartToken] : prompt
    var current = [Int32](repeating: start[0], count: B)
    // Prime: feed all prompt characters but the last; the last is the first step's input.
    for id in start.dropLast() {
      for b in 0..<B { current[b] = id }
      advance(session, &current, &state)
    }
    for b in 0..<B { current[b] = start[start.count - 1] }
    var out = [[Int32]](repeating: [], count: B)
    for b in 0..<B { out[b].reserveCapacity(options.length) }
    for _ in 0..<options.length {
      advance(session, &current, &state)
      for b in 0..<B {
        let next = logits.withUnsafeBufferPointer { l in
          draw(UnsafeBufferPointer(rebasing: l[(b * V)..<((b + 1) * V)]), options, &rng)
        }
        current[b] = next
        out[b].append(next)
        onToken(b, next)
      }
    }
    return out
  }

  /// One model step for every stream: logits ← model(current).
  private func advance(_ session: InferenceSession<Float>, _ current: inout [Int32], _ state: inout LSTMState<Float>) {
    current.withUnsafeBufferPointer { c in
      logits.withUnsafeMutableBufferPointer { l in
        session.step(tokens: c, state: &state, logits: l)
      }
    }
  }

  /// Draws one id from softmax(logits / temperature), restricted by top-k and top-p.
  func draw(_ logits: UnsafeBufferPointer<Float>, _ o: SamplingOptions, _ rng: inout SeededGenerator) -> Int32 {
    let V = logits.count
    if o.temperature == 0 {
      var best = 0
      for j in 1..<V where logits[j] > logits[best] { best = j }
      return Int32(best)
    }
    var kept = V
    let restricted = (o.topK > 0 && o.topK < V) || o.topP < 1
    if restricted {
      for j in 0..<V { order[j] = Int32(j) }
      order.sort { logits[Int($0)] != logits[Int($1)] ? logits[Int($0)] > logits[Int($1)] : $0 < $1 }
      if o.topK > 0 { kept = min(kept, o.topK) }
    }
    // Softmax over the kept candidates, subtracting the maximum first.
    let invT = 1 / o.temperature
    var mx = -Double.infinity
    for r in 0..<kept { mx = max(mx, Double(logits[restricted ? Int(order[r]) : r])) }
    var total = 0.0
    for r in 0..<kept {
      let p = exp((Double(logits[restricted ? Int(order[r]) : r]) - mx) * invT)
      probs[r] = p
      total += p
    }
    if o.topP < 1 {
      // Smallest prefix (by decreasing probability) whose mass reaches P.
      var mass = 0.0
      for r in 0..<kept {
        mass += probs[r]
        if mass >= o.topP * total {
          kept = r + 1
          total = mass
          break
        }
      }
    }
    var u = rng.nextUnitDouble() * total
    for r in 0..<kept {
      u -= probs[r]
      if u < 0 { return Int32(restricted ? Int(order[r]) : r) }
    }
    return Int32(restricted ? Int(order[kept - 1]) : kept - 1)
  }
}
