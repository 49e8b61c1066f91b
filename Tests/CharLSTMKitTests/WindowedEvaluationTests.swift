import CharLSTMKit
import Testing

/// nanoGPT's measure: random windows from a zero state, every position counted.
@Suite struct WindowedEvaluationTests {
  @Test func randomWindowsFromAZeroStateAveragedOverEveryPosition() throws {
    let (tok, ids) = try smallCorpus()
    let (m, _) = tinyConfigs(vocab: tok.vocabulary.count, steps: 1)
    var g = SeededGenerator(seed: 8)
    let model = CharModel<Float>(config: m, generator: &g)
    let window = 17, samples = 23
    let got = try #require(Evaluation.windowedLoss(model: model, tokens: ids[...], window: window, samples: samples, seed: 99, batch: 5))
    // The same windows scored one at a time, each from a zero state, by the model directly.
    var positions = SeededGenerator(seed: 99)
    var total = 0.0
    for _ in 0..<samples {
      let start = Int(positions.next() % UInt64(ids.count - window))
      let x = Array(ids[start..<(start + window)]), y = Array(ids[(start + 1)...(start + window)])
      var state = LSTMState<Float>.zeros(for: m, batch: 1)
      total += x.withUnsafeBufferPointer { xp in
        y.withUnsafeBufferPointer { yp in model.evaluateWindow(inputs: xp, targets: yp, batch: 1, steps: window, state: &state) }
      }
    }
    let want = total / Double(samples * window)
    #expect(abs(got - want) <= 1e-6 * want, "\(got) vs \(want)")
    // Reproducible, independent of the batch, and different for another seed.
    #expect(Evaluation.windowedLoss(model: model, tokens: ids[...], window: window, samples: samples, seed: 99, batch: 23) .map { abs($0 - got) <= 1e-6 * got } == true)
    #expect(Evaluation.windowedLoss(model: model, tokens: ids[...], window: window, samples: samples, seed: 100, batch: 5) != got)
    // Read in pieces of 4 steps (4 + 4 + 4 + 4 + 1) with the state carried from piece to piece:
    // the same figure as the whole windows scored at once (a state reset between pieces would
    // score five short windows instead, a higher loss).
    let pieces = try #require(Evaluation.windowedLoss(model: model, tokens: ids[...], window: window, samples: samples, seed: 99, batch: 5, seqLength: 4))
    #expect(abs(pieces - want) <= 1e-6 * want, "\(pieces) vs \(want)")
    // A zero state makes the first predictions harder: the windowed figure is above the carried one.
    let carried = Evaluation.meanLoss(model: model, tokens: ids[...], batch: 1, seqLength: 50).loss
    #expect(got.isFinite && carried.isFinite)
    #expect(Evaluation.windowedLoss(model: model, tokens: ids[..<(ids.startIndex + window)], window: window, samples: 1, seed: 1) == nil)
  }
}
