import CharLSTMKit
import Foundation
import Testing

/// Sampling and evaluation at the edges: tiny temperatures are greedy, streaming keeps nothing,
/// and every size that becomes memory is bounded before it is allocated.
@Suite struct SamplingLimitsTests {
  /// A randomly initialized model over the small corpus's vocabulary: its logits are spread
  /// enough that a broken softmax (1/T overflowing) shows at once.
  private func sampler(seed: UInt64 = 3) throws -> (Sampler, [Int32]) {
    let (tokenizer, ids) = try smallCorpus()
    var g = SeededGenerator(seed: seed)
    let config = ModelConfig(vocabSize: tokenizer.vocabulary.count, embedSize: 8, hiddenSize: 24, layers: 2)
    return (Sampler(model: CharModel<Float>(config: config, generator: &g), tokenizer: tokenizer), Array(ids.prefix(12)))
  }

  @Test func temperaturesBelowTheThresholdAreExactlyGreedy() throws {
    for seed in [1, 2, 3] as [UInt64] {
      let (s, prompt) = try sampler(seed: seed)
      let greedy = s.generate(prompt: prompt, options: SamplingOptions(temperature: 0, length: 60, seed: seed))
      // Subnormal (1e-320 made 1/T infinite and every draw NaN: "zzzz…"), the smallest
      // double, and values just under the 1e-4 threshold, with and without top-k / top-p.
      for t in [1e-320, Double.leastNonzeroMagnitude, 1e-300, 1e-10, 9.9e-5] {
        for (k, p) in [(0, 1.0), (5, 1.0), (0, 0.5)] {
          let o = SamplingOptions(temperature: t, topK: k, topP: p, length: 60, seed: seed &+ 11)
          #expect(o.isGreedy)
          #expect(s.generate(prompt: prompt, options: o) == greedy, "T \(t), top-k \(k), top-p \(p), seed \(seed)")
        }
      }
    }
    #expect(!SamplingOptions(temperature: 1e-4).isGreedy)
    // Just above the threshold the softmax stays finite: every id is a real draw, not the
    // fallback to the last candidate that NaN probabilities gave.
    let (s, prompt) = try sampler()
    let V = Int32(s.model.config.vocabSize)
    let sharp = s.generate(prompt: prompt, options: SamplingOptions(temperature: 1.5e-4, length: 200, seed: 4))[0]
    #expect(sharp.allSatisfy { $0 >= 0 && $0 < V })
    #expect(!sharp.allSatisfy { $0 == V - 1 }, "every draw fell through to the last candidate")
  }

  @Test func streamDrawsWhatGenerateReturnsAndKeepsNothing() throws {
    let (s, prompt) = try sampler()
    for count in [1, 3] {
      let o = SamplingOptions(temperature: 0.9, topK: 10, length: 50, count: count, seed: 8)
      var streamed = [[Int32]](repeating: [], count: count)
      s.stream(prompt: prompt, options: o) { b, id in streamed[b].append(id) }
      #expect(streamed == s.generate(prompt: prompt, options: o))
    }
    // A length far beyond what generate may keep streams until the caller stops it.
    struct Enough: Error {}
    var seen = 0
    #expect(throws: Enough.self) {
      try s.stream(prompt: prompt, options: SamplingOptions(length: Int.max, seed: 2)) { _, _ in
        seen += 1
        if seen == 1000 { throw Enough() }
      }
    }
    #expect(seen == 1000)
  }

  @Test func optionRangesNameTheirSetting() {
    let cases: [(SamplingOptions, SamplingSetting, String)] = [
      (SamplingOptions(temperature: -1), .temperature, "temperature"), (SamplingOptions(temperature: .nan), .temperature, "temperature"),
      (SamplingOptions(temperature: 101), .temperature, "temperature"), (SamplingOptions(temperature: .infinity), .temperature, "temperature"),
      (SamplingOptions(topK: -1), .topK, "top-k"), (SamplingOptions(topK: Int.max), .topK, "top-k"),
      (SamplingOptions(topP: 0), .topP, "top-p"), (SamplingOptions(topP: .nan), .topP, "top-p"),
      (SamplingOptions(length: -1), .length, "length"), (SamplingOptions(count: 0), .count, "text count"),
      (SamplingOptions(count: 10_001), .count, "text count"), (SamplingOptions(count: 100_000_000), .count, "10,000"),
    ]
    for (o, setting, needle) in cases {
      do {
        try o.validate()
        Issue.record("\(o) was accepted")
      } catch {
        guard case .outOfRange(setting, _, _) = error else { Issue.record("\(error) does not name \(setting)"); continue }
        #expect(error.description.contains(needle) && !error.description.contains("--"), "\(error.description)")
      }
    }
    // Streaming takes any length; keeping the texts is bounded by count × length.
    #expect(throws: Never.self) { try SamplingOptions(length: Int.max, count: 1).validate() }
    #expect(throws: Never.self) { try SamplingOptions(length: 10_000, count: 10_000).validateStored() }
    for (length, count) in [(10_001, 10_000), (100_000_001, 1), (Int.max, 2)] {
      do {
        try SamplingOptions(length: length, count: count).validateStored()
        Issue.record("\(count) × \(length) was accepted")
      } catch {
        #expect(error == .tooManyStoredCharacters(count: count, length: length) && error.description.contains("100,000,000"))
      }
    }
    #expect(SamplingOptions(length: Int.max, count: 2).storedCharacters == nil)
  }

  @Test func generationsThatCannotFitAreRefusedBeforeAllocating() throws {
    let huge = ModelConfig(vocabSize: 1 << 20, embedSize: 1 << 16, hiddenSize: 1 << 16, layers: 64)
    do {
      try Sampler.checkMemory(model: huge, options: SamplingOptions(), storing: false)
      Issue.record("a model of \(huge.parameterCount) parameters was accepted")
    } catch {
      #expect(error.description.contains("does not fit in memory") && !error.description.contains("\n"), "\(error.description)")
    }
    let small = ModelConfig(vocabSize: 65, embedSize: 64, hiddenSize: 128, layers: 2)
    try Sampler.checkMemory(model: small, options: SamplingOptions(count: 10_000), storing: true)
    let a = Sampler.estimatedBytes(model: small, options: SamplingOptions(length: 1000, count: 10), storing: true)
    let b = Sampler.estimatedBytes(model: small, options: SamplingOptions(length: 1000, count: 10), storing: false)
    #expect(a - b == 4 * 10 * 1000)  // the kept ids
  }

  @Test func evaluationWindowsAreCutToTheTextAndBoundedByMemory() throws {
    let (tokenizer, ids) = try smallCorpus()
    var g = SeededGenerator(seed: 5)
    let config = ModelConfig(vocabSize: tokenizer.vocabulary.count, embedSize: 8, hiddenSize: 16, layers: 1)
    let model = CharModel<Float>(config: config, generator: &g)
    let tokens = ids[...]
    // A window longer than the text scores the same as one exactly as long, and allocates
    // only the text's length.
    let one = Evaluation.effectiveShape(tokens: tokens.count, batch: 1, seqLength: 1 << 16)
    #expect(one.streams == 1 && one.seqLength == tokens.count - 1)
    let many = Evaluation.effectiveShape(tokens: tokens.count, batch: 1 << 16, seqLength: 100)
    #expect(many.streams == (tokens.count - 1) / 100 && many.seqLength == 100)
    let long = Evaluation.meanLoss(model: model, tokens: tokens, batch: 1, seqLength: 1 << 16)
    let exact = Evaluation.meanLoss(model: model, tokens: tokens, batch: 1, seqLength: tokens.count - 1)
    #expect(long.count == exact.count && long.loss == exact.loss)
    let streams = TrainingSetting.evaluationStreams, window = TrainingSetting.evaluationSeqLength
    for (b, t, setting) in [(0, 10, streams), (1 << 16 + 1, 10, streams), (1, 0, window), (1, 1_000_000_000_000, window)] {
      do {
        try Evaluation.check(model: config, tokens: tokens.count, batch: b, seqLength: t)
        Issue.record("\(b) streams × \(t) steps accepted")
      } catch {
        guard case .outOfRange(setting, _, _) = error else { Issue.record("\(error) does not name \(setting)"); continue }
        #expect(error.description.contains(setting.rawValue), "\(error.description)")
      }
    }
    try Evaluation.check(model: config, tokens: tokens.count, batch: 1 << 16, seqLength: 1 << 16)
    // A text of 2^40 characters read as 65536 × 65536 windows of a wide model would not fit.
    let wide = ModelConfig(vocabSize: 1 << 16, embedSize: 64, hiddenSize: 4096, layers: 4)
    do {
      try Evaluation.check(model: wide, tokens: 1 << 40, batch: 1 << 16, seqLength: 1 << 16)
      Issue.record("a 2^32-row window was accepted")
    } catch {
      guard case .exceedsMemory(_, _, _, let reduce) = error else { Issue.record("\(error)"); return }
      #expect(reduce == [streams, window] && error.description.contains("does not fit in memory"), "\(error.description)")
    }
  }
}
