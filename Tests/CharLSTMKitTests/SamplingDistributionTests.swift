import CharLSTMKit
import Foundation
import Testing

/// The distributions the sampler draws from, against the exact ones.
///
/// The model has all weights zero and a chosen head bias, so every step's logits are exactly
/// the bias (h = σ(0)·tanh(0) = 0): each draw comes from the same known distribution. For each
/// setting, 4 streams × 10,000 characters = 40,000 seeded draws are counted and compared with
/// softmax(logits / T) restricted by top-k and top-p, computed here in Double:
/// - characters that top-k or top-p cut away must never be drawn;
/// - Pearson's chi-square over the kept characters (bins with an expected count below 5 pooled)
///   must stay under the critical value of significance 1e-6 for its degrees of freedom
///   (scipy.stats.chi2.isf(1e-6, df): df 1 23.93, 2 27.63, 3 30.66, 4 33.38, 5 35.89,
///   6 38.26, 7 40.52). A correct sampler fails one setting with probability 1e-6, and the draws
///   are seeded, so the outcome is fixed; a wrong temperature (e.g. T² or 1/T), a top-k or
///   top-p keeping one character too many or too few, or a biased draw moves the statistic to
///   hundreds or thousands at this many draws.
@Suite struct SamplingDistributionTests {
  /// Distinct values in no particular order, exact in Float.
  static let logits: [Float] = [0.5, 2.0, -1.0, 1.0, -3.0, 1.5, 0.0, -0.5]
  static let criticalValue: [Int: Double] = [1: 23.93, 2: 27.63, 3: 30.66, 4: 33.38, 5: 35.89, 6: 38.26, 7: 40.52]

  /// A sampler whose model always predicts `logits`.
  static func sampler() -> Sampler {
    let V = logits.count
    let config = ModelConfig(vocabSize: V, embedSize: 3, hiddenSize: 4, layers: 1)
    var p = [Float](repeating: 0, count: config.parameterCount)
    let bias = config.slots.first { $0.name == "head.bias" }!
    for (j, l) in logits.enumerated() { p[bias.offset + j] = l }
    let model = CharModel<Float>(config: config, parameters: p)
    let symbols = (0..<V).map { String(UnicodeScalar(UInt8(ascii: "a") + UInt8($0))) }
    let vocabulary = Vocabulary(symbols: symbols, counts: Array(repeating: 1, count: V), unknownIndex: nil)
    return Sampler(model: model, tokenizer: Tokenizer(options: TokenizerOptions(), vocabulary: vocabulary))
  }

  /// The exact distribution: softmax(logits / T), then the K most likely, then the smallest
  /// most-likely prefix whose mass reaches P, renormalized. Zero for characters cut away.
  static func exact(temperature: Double, topK: Int, topP: Double) -> [Double] {
    let V = logits.count
    let order = (0..<V).sorted { logits[$0] > logits[$1] }
    let kept = topK > 0 ? Array(order.prefix(topK)) : order
    let weights = kept.map { exp(Double(logits[$0]) / temperature) }
    let total = weights.reduce(0, +)
    var count = kept.count
    if topP < 1 {
      var mass = 0.0
      for r in kept.indices {
        mass += weights[r] / total
        if mass >= topP {
          count = r + 1
          break
        }
      }
    }
    let mass = weights[..<count].reduce(0, +)
    var p = [Double](repeating: 0, count: V)
    for r in 0..<count { p[kept[r]] = weights[r] / mass }
    return p
  }

  /// Pearson's statistic over the kept characters, pooling the smallest bins until every bin
  /// expects at least 5 draws; returns it with the degrees of freedom (bins − 1).
  static func chiSquare(counts: [Int], probabilities: [Double], draws: Int) -> (statistic: Double, df: Int) {
    var bins = probabilities.indices.filter { probabilities[$0] > 0 }
      .map { (expected: probabilities[$0] * Double(draws), observed: Double(counts[$0])) }
      .sorted { $0.expected < $1.expected }
    while bins.count > 2 && bins[0].expected < 5 {
      let merged = (expected: bins[0].expected + bins[1].expected, observed: bins[0].observed + bins[1].observed)
      bins.removeFirst(2)
      bins.append(merged)
      bins.sort { $0.expected < $1.expected }
    }
    let statistic = bins.reduce(0.0) { $0 + ($1.observed - $1.expected) * ($1.observed - $1.expected) / $1.expected }
    return (statistic, bins.count - 1)
  }

  struct Setting: CustomStringConvertible, Sendable {
    var temperature: Double, topK: Int, topP: Double, seed: UInt64
    var description: String { "T \(temperature), top-k \(topK), top-p \(topP)" }
  }

  @Test(arguments: [
    Setting(temperature: 0.5, topK: 0, topP: 1, seed: 11),
    Setting(temperature: 1, topK: 0, topP: 1, seed: 12),
    Setting(temperature: 2, topK: 0, topP: 1, seed: 13),
    Setting(temperature: 1, topK: 3, topP: 1, seed: 14),
    Setting(temperature: 0.5, topK: 3, topP: 1, seed: 15),
    Setting(temperature: 1, topK: 0, topP: 0.7, seed: 16),  // keeps 3: cumulative 0.405, 0.650, 0.799
    Setting(temperature: 2, topK: 0, topP: 0.7, seed: 17),  // keeps 4: 0.262, 0.466, 0.625, 0.749
    Setting(temperature: 1, topK: 5, topP: 0.9, seed: 18),  // top 5, then 4: 0.429, 0.689, 0.846, 0.942
  ])
  func drawsFollowTheExactDistribution(_ s: Setting) throws {
    let (streams, length) = (4, 10_000)
    let draws = streams * length
    let options = SamplingOptions(temperature: s.temperature, topK: s.topK, topP: s.topP, length: length, count: streams, seed: s.seed)
    let texts = Self.sampler().generate(prompt: [0], options: options)
    var counts = [Int](repeating: 0, count: Self.logits.count)
    for text in texts {
      #expect(text.count == length)
      for id in text { counts[Int(id)] += 1 }
    }
    let p = Self.exact(temperature: s.temperature, topK: s.topK, topP: s.topP)
    for j in p.indices where p[j] == 0 {
      #expect(counts[j] == 0, "\(s): character \(j) (logit \(Self.logits[j])) was cut away but drawn \(counts[j]) times")
    }
    let (statistic, df) = Self.chiSquare(counts: counts, probabilities: p, draws: draws)
    let critical = try #require(Self.criticalValue[df])
    #expect(statistic < critical, "\(s): chi-square \(statistic) ≥ \(critical) (df \(df)); counts \(counts), expected \(p.map { $0 * Double(draws) })")
    print("sampling \(s): chi-square \(String(format: "%.2f", statistic)), df \(df), critical \(critical)")
  }

  /// The streams are independent draws, not copies: with the same logits they still differ.
  @Test func streamsDrawIndependently() {
    let texts = Self.sampler().generate(prompt: [0], options: SamplingOptions(temperature: 1, length: 200, count: 3, seed: 4))
    #expect(texts[0] != texts[1] && texts[1] != texts[2])
  }
}
