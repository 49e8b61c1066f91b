import CharLSTMKit
import Foundation
import Testing

/// The batched generation engine: texts that share a batch are the texts they are alone;
/// stops and the end-of-text symbol end texts where the unconstrained text shows them.
@Suite struct TextBatchTests {
  /// A random model with weights scaled up so its distributions are far from uniform, and a
  /// tokenizer of single letters.
  static func sampler(V: Int = 7, E: Int = 5, H: Int = 37, layers: Int = 2, seed: UInt64 = 3) -> Sampler {
    let config = ModelConfig(vocabSize: V, embedSize: E, hiddenSize: H, layers: layers)
    var g = SeededGenerator(seed: seed)
    let base = CharModel<Float>(config: config, generator: &g)
    let model = CharModel<Float>(config: config, parameters: base.parameters.map { $0 * 4 })
    let symbols = (0..<V).map { String(UnicodeScalar(UInt8(ascii: "a") + UInt8($0))) }
    let vocabulary = Vocabulary(symbols: symbols, counts: Array(repeating: 1, count: V), unknownIndex: nil)
    return Sampler(model: model, tokenizer: Tokenizer(options: TokenizerOptions(), vocabulary: vocabulary))
  }

  /// Runs `requests` and collects each one's characters, log-probabilities and ending.
  static func collect(_ s: Sampler, _ requests: [TextRequest], capacity: Int? = nil, weights: Kernels.Precision = .fp32)
    -> [(ids: [Int32], logprobs: [Double], finish: FinishReason?, characters: Int, total: Double)]
  {
    var out = [(ids: [Int32], logprobs: [Double], finish: FinishReason?, characters: Int, total: Double)](
      repeating: ([], [], nil, -1, 0), count: requests.count)
    s.run(requests, capacity: capacity, weights: weights) { k, e in
      switch e {
      case .token(let id, let lp, _):
        #expect(out[k].finish == nil, "token after the end of text \(k)")
        out[k].ids.append(id)
        out[k].logprobs.append(lp)
      case .finished(let f, let n, let lp):
        #expect(out[k].finish == nil, "text \(k) finished twice")
        out[k].finish = f
        out[k].characters = n
        out[k].total = lp
      }
    }
    return out
  }

  static func request(_ prompt: [Int32], length: Int, seed: UInt64, stream: Int = 0, temperature: Double = 1, topK: Int = 0, topP: Double = 1,
                      stops: [[Int32]] = [], end: Int32? = nil) -> TextRequest {
    TextRequest(
      prompt: prompt, options: SamplingOptions(temperature: temperature, topK: topK, topP: topP, length: length, seed: seed),
      stream: stream, stops: stops, endToken: end)
  }

  /// Alternatives describe the distribution each character was drawn from, recomputed here
  /// from the model's own logits: the n most likely after temperature and top-k, most likely
  /// first, log-probabilities that sum (as probabilities) to 1 when n covers the candidates;
  /// a greedy draw's first alternative is the character itself. Asking for them changes no
  /// character and no log-probability.
  @Test func alternativesAreTheMostLikelyCharactersOfTheDraw() {
    let s = Self.sampler()
    let V = 7
    for (temperature, topK, n) in [(1.0, 0, 3), (0.7, 0, 7), (1.0, 3, 5), (0.0, 0, 2)] {
      var plain = Self.request([1, 2], length: 25, seed: 9, temperature: temperature, topK: topK)
      var asked = plain
      asked.alternatives = n
      plain.alternatives = 0
      let without = Self.collect(s, [plain])[0]
      var ids: [Int32] = [], lps: [Double] = [], tops: [[Alternative]] = []
      s.run([asked]) { _, e in
        if case .token(let id, let lp, let top) = e {
          ids.append(id)
          lps.append(lp)
          tops.append(top)
        }
      }
      #expect(ids == without.ids && lps == without.logprobs, "asking for alternatives changes no draw")
      // The model's logits at each step, from a zero state fed the prompt and the drawn ids.
      var state = LSTMState<Float>.zeros(for: s.model.config, batch: 1)
      var logits = [Float](repeating: 0, count: V)
      let fed: [Int32] = [1, 2] + ids.dropLast()
      var rows: [[Float]] = []
      for t in fed {
        [t].withUnsafeBufferPointer { tp in logits.withUnsafeMutableBufferPointer { s.model.step(tokens: tp, state: &state, logits: $0) } }
        rows.append(logits)
      }
      for (i, top) in tops.enumerated() {
        let row = rows[i + 1].map(Double.init)
        let T = temperature < SamplingOptions.greedyTemperature ? 1 : temperature
        let order = (0..<V).sorted { row[$0] != row[$1] ? row[$0] > row[$1] : $0 < $1 }
        let kept = topK > 0 ? Array(order.prefix(topK)) : order
        let mx = row[kept[0]]
        let lse = mx * 1 / T + log(kept.map { exp((row[$0] - mx) / T) }.reduce(0, +))
        let want = kept.prefix(n).map { (Int32($0), row[$0] / T - lse) }
        #expect(top.map(\.id) == want.map(\.0), "step \(i) (T \(temperature), top-k \(topK)): \(top.map(\.id)) vs \(want.map(\.0))")
        for (a, w) in zip(top, want) { #expect(abs(a.logprob - w.1) < 1e-4, "step \(i): \(a.logprob) vs \(w.1)") }
        if n >= kept.count { #expect(abs(top.map { exp($0.logprob) }.reduce(0, +) - 1) < 1e-9) }
        if temperature == 0 { #expect(top.first?.id == ids[i] && abs(top[0].logprob - lps[i]) < 1e-12) }
        else { #expect(top.contains { $0.id == ids[i] && abs($0.logprob - lps[i]) < 1e-12 } || n < kept.count) }
      }
    }
  }

  /// Thirty different requests (prompt lengths 1–9, lengths 0–60, mixed options) through a
  /// batch of 13 rows (two row tiles of the products and a partial one), so texts join as
  /// others end and rows move: each text equals its request run alone, character for
  /// character and log-probability for log-probability.
  @Test(arguments: [Kernels.Precision.fp32, .bf16])
  func aTextIsTheSameAloneAndInAMixedBatch(weights: Kernels.Precision) {
    let s = Self.sampler()
    var requests: [TextRequest] = []
    for k in 0..<30 {
      let prompt = (0...(k % 9)).map { Int32(($0 * 3 + k) % 7) }
      requests.append(
        Self.request(prompt, length: (k * 17) % 61, seed: UInt64(100 + k), stream: k % 3, temperature: [1, 0.7, 0][k % 3],
                     topK: k % 4 == 1 ? 3 : 0, topP: k % 4 == 2 ? 0.8 : 1))
    }
    let together = Self.collect(s, requests, capacity: 13, weights: weights)
    for (k, r) in requests.enumerated() {
      let alone = Self.collect(s, [r], weights: weights)[0]
      #expect(together[k].ids == alone.ids, "text \(k) differs in the batch")
      #expect(together[k].logprobs == alone.logprobs, "text \(k)'s log-probabilities differ in the batch")
      #expect(alone.ids.count == r.options.length && alone.finish == .length && alone.characters == r.options.length)
    }
    #expect(Set(together.map { $0.ids }).count > 20, "the requests should give different texts")
  }

  /// The engine steps the model exactly: greedy texts equal the argmax chain computed with
  /// the model's own one-step forward pass.
  @Test func greedyTextsFollowTheModel() {
    let s = Self.sampler()
    let prompt: [Int32] = [1, 4, 2]
    let text = Self.collect(s, [Self.request(prompt, length: 25, seed: 1, temperature: 0)])[0].ids
    var state = LSTMState<Float>.zeros(for: s.model.config, batch: 1)
    var logits = [Float](repeating: 0, count: s.model.config.vocabSize)
    var expected: [Int32] = []
    var feed = prompt
    for _ in 0..<25 {
      for id in feed {
        [id].withUnsafeBufferPointer { t in logits.withUnsafeMutableBufferPointer { s.model.step(tokens: t, state: &state, logits: $0) } }
      }
      let next = Int32(logits.indices.max { logits[$0] < logits[$1] || (logits[$0] == logits[$1] && $0 > $1) }!)
      expected.append(next)
      feed = [next]
    }
    #expect(text == expected)
  }

  /// A stop ends the text just before its first occurrence in the unstopped text (same seed),
  /// and is not part of the text; a text without it runs to its length.
  @Test func stopsEndTextsAtTheFirstOccurrence() throws {
    let s = Self.sampler(V: 5)
    let stops: [[Int32]] = [[2, 2], [4, 0, 1]]
    var stopped = 0
    for seed in UInt64(1)...40 {
      let free = Self.collect(s, [Self.request([0], length: 80, seed: seed)])[0]
      let cut = Self.collect(s, [Self.request([0], length: 80, seed: seed, stops: stops)])[0]
      // Where the first stop ends in the free text.
      var end: (at: Int, count: Int)?
      for i in 0..<free.ids.count {
        if let st = stops.first(where: { i + 1 >= $0.count && Array(free.ids[(i + 1 - $0.count)...i]) == $0 }) {
          end = (i + 1, st.count)
          break
        }
      }
      if let e = end {
        stopped += 1
        #expect(cut.finish == .stop && cut.ids == Array(free.ids[..<(e.at - e.count)]), "seed \(seed)")
        // The total counts every drawn character, the stop's included.
        #expect(abs(cut.total - free.logprobs[..<e.at].reduce(0, +)) < 1e-9)
      } else {
        #expect(cut.finish == .length && cut.ids == free.ids, "seed \(seed)")
      }
      #expect(cut.characters == cut.ids.count)
    }
    #expect(stopped > 10, "the stops should occur for most seeds")
  }

  /// The end-of-text id ends a text before it; it is never reported as a character.
  @Test func endOfTextEndsTheText() {
    let s = Self.sampler(V: 6)
    var ended = 0
    for seed in UInt64(1)...20 {
      let free = Self.collect(s, [Self.request([1], length: 60, seed: seed)])[0]
      let doc = Self.collect(s, [Self.request([1], length: 60, seed: seed, end: 5)])[0]
      if let at = free.ids.firstIndex(of: 5) {
        ended += 1
        #expect(doc.finish == .end && doc.ids == Array(free.ids[..<at]))
      } else {
        #expect(doc.finish == .length && doc.ids == free.ids)
      }
    }
    #expect(ended > 5)
  }

  /// Log-probabilities are those of the distribution sampled from: at temperature 1 with no
  /// cut, log softmax of the model's logits at the drawn character; with top-k 1, 0.
  @Test func logprobsAreTheSamplingDistributions() {
    let s = Self.sampler()
    let prompt: [Int32] = [3]
    let r = Self.collect(s, [Self.request(prompt, length: 30, seed: 5)])[0]
    var state = LSTMState<Float>.zeros(for: s.model.config, batch: 1)
    var logits = [Float](repeating: 0, count: s.model.config.vocabSize)
    var feed: Int32 = prompt[0]
    for (t, id) in r.ids.enumerated() {
      [feed].withUnsafeBufferPointer { tk in logits.withUnsafeMutableBufferPointer { s.model.step(tokens: tk, state: &state, logits: $0) } }
      let mx = Double(logits.max()!)
      let logZ = log(logits.reduce(0.0) { $0 + exp(Double($1) - mx) }) + mx
      #expect(abs(r.logprobs[t] - (Double(logits[Int(id)]) - logZ)) < 1e-9, "step \(t)")
      feed = id
    }
    #expect(abs(r.total - r.logprobs.reduce(0, +)) < 1e-9)
    let k1 = Self.collect(s, [Self.request(prompt, length: 10, seed: 5, topK: 1)])[0]
    #expect(k1.logprobs.allSatisfy { $0 == 0 })
  }

  /// Stream k of a seed is the same text whether it is drawn with `count` texts or alone.
  @Test func countStreamsAreReproducibleAlone() {
    let s = Self.sampler()
    let many = s.generate(prompt: [2], options: SamplingOptions(temperature: 1, length: 40, count: 4, seed: 9))
    for k in 0..<4 {
      let alone = Self.collect(s, [Self.request([2], length: 40, seed: 9, stream: k)])[0].ids
      #expect(many[k] == alone, "stream \(k)")
    }
    #expect(many[0] == s.generate(prompt: [2], options: SamplingOptions(temperature: 1, length: 40, seed: 9))[0])
  }

  /// A cancelled text reports nothing more; the others are unaffected.
  @Test func cancelRemovesOneText() {
    let s = Self.sampler()
    let batch = TextBatch(model: s.model, capacity: 3)
    let a = batch.add(Self.request([1], length: 30, seed: 1))
    let b = batch.add(Self.request([2, 3], length: 30, seed: 2))
    var texts: [Int: [Int32]] = [:]
    for _ in 0..<5 { batch.step { id, e in if case .token(let t, _, _) = e { texts[id, default: []].append(t) } } }
    batch.cancel(a)
    batch.run { id, e in
      #expect(id != a, "a cancelled text reported an event")
      if case .token(let t, _, _) = e { texts[id, default: []].append(t) }
    }
    #expect(texts[b] == Self.collect(s, [Self.request([2, 3], length: 30, seed: 2)])[0].ids)
  }
}
