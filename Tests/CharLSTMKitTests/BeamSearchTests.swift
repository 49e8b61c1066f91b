import CharLSTMKit
import Foundation
import Testing

/// Beam search against an exhaustive search of every continuation on a tiny model.
@Suite struct BeamSearchTests {
  /// The best ended continuation by brute force: every sequence of up to `length` ids,
  /// scored with the model's own one-step forward pass; a sequence ends at the end id, at a
  /// stop (removed from its text) or at `length`.
  static func exhaustive(_ model: CharModel<Float>, prompt: [Int32], length: Int, stops: [[Int32]], end: Int32?) -> BeamSearch.Result {
    let V = model.config.vocabSize
    var state = LSTMState<Float>.zeros(for: model.config, batch: 1)
    var logits = [Float](repeating: 0, count: V)
    func feed(_ id: Int32, _ s: inout LSTMState<Float>) -> [Double] {
      [id].withUnsafeBufferPointer { t in logits.withUnsafeMutableBufferPointer { model.step(tokens: t, state: &s, logits: $0) } }
      let mx = Double(logits.max()!)
      let logZ = mx + log(logits.reduce(0.0) { $0 + exp(Double($1) - mx) })
      return logits.map { Double($0) - logZ }
    }
    var lp: [Double] = []
    for id in prompt { lp = feed(id, &state) }
    var best = BeamSearch.Result(tokens: [], finish: .length, logprob: -.infinity)
    func visit(_ tokens: [Int32], _ score: Double, _ lp: [Double], _ s: LSTMState<Float>) {
      for j in 0..<V {
        let sc = score + lp[j]
        let id = Int32(j)
        var ended: (FinishReason, [Int32])?
        var t = tokens
        if id == end {
          ended = (.end, t)
        } else {
          t.append(id)
          if let st = stops.first(where: { t.count >= $0.count && Array(t.suffix($0.count)) == $0 }) {
            ended = (.stop, Array(t.dropLast(st.count)))
          } else if t.count == length {
            ended = (.length, t)
          }
        }
        if let (f, text) = ended {
          if sc > best.logprob { best = .init(tokens: text, finish: f, logprob: sc) }
        } else {
          var s2 = s
          visit(t, sc, feed(id, &s2), s2)
        }
      }
    }
    visit([], 0, lp, state)
    return best
  }

  static func model(V: Int, seed: UInt64) -> CharModel<Float> {
    let config = ModelConfig(vocabSize: V, embedSize: 3, hiddenSize: 11, layers: 2)
    var g = SeededGenerator(seed: seed)
    let base = CharModel<Float>(config: config, generator: &g)
    return CharModel<Float>(config: config, parameters: base.parameters.map { $0 * 5 })
  }

  /// A beam as wide as the number of texts finds exactly the exhaustive optimum, with and
  /// without stops and an end id; narrower beams never score above it.
  @Test(arguments: [UInt64(1), 2, 3, 4])
  func aWideBeamIsExhaustive(seed: UInt64) {
    let m = Self.model(V: 4, seed: seed)
    for (stops, end) in [([[Int32]](), Int32?.none), ([[2, 1], [3, 3]], nil), ([[1, 1]], Int32(0))] {
      let exact = Self.exhaustive(m, prompt: [1, 2], length: 5, stops: stops, end: end)
      let beam = BeamSearch(width: 256, length: 5, stops: stops, endToken: end).run(model: m, prompt: [1, 2])
      #expect(beam.tokens == exact.tokens && beam.finish == exact.finish, "seed \(seed), stops \(stops), end \(String(describing: end))")
      #expect(abs(beam.logprob - exact.logprob) < 1e-4)
      for w in [1, 2, 3, 8] {
        let narrow = BeamSearch(width: w, length: 5, stops: stops, endToken: end).run(model: m, prompt: [1, 2])
        #expect(narrow.logprob <= exact.logprob + 1e-4, "width \(w) beat the optimum")
      }
    }
  }

  /// Width 1 is greedy decoding.
  @Test func widthOneIsGreedy() {
    let m = Self.model(V: 6, seed: 7)
    let tokenizerSymbols = (0..<6).map { String(UnicodeScalar(UInt8(ascii: "a") + UInt8($0))) }
    let vocabulary = Vocabulary(symbols: tokenizerSymbols, counts: Array(repeating: 1, count: 6), unknownIndex: nil)
    let sampler = Sampler(model: m, tokenizer: Tokenizer(options: TokenizerOptions(), vocabulary: vocabulary))
    let greedy = sampler.generate(prompt: [3], options: SamplingOptions(temperature: 0, length: 30))[0]
    let beam = BeamSearch(width: 1, length: 30).run(model: m, prompt: [3])
    #expect(beam.tokens == greedy && beam.finish == .length)
  }

  /// Widths and lengths out of range name their setting.
  @Test func optionsAreChecked() {
    #expect(throws: SamplingError.outOfRange(.beamWidth, value: "0", expected: "an integer from 1 to 1,024")) { try BeamSearch(width: 0, length: 10).validate() }
    #expect(throws: SamplingError.self) { try BeamSearch(width: 2000, length: 10).validate() }
    #expect(throws: SamplingError.beamTooLong(width: 1000, length: 1_000_000, maxLength: 10_000)) { try BeamSearch(width: 1000, length: 1_000_000).validate() }
    #expect(throws: Never.self) { try BeamSearch(width: 8, length: 1000).validate() }
  }
}
