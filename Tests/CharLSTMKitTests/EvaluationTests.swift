import CharLSTMKit
import Foundation
import Testing

/// `Evaluation.meanLoss` against scoring every character one at a time.
///
/// The reference cuts the text the way meanLoss documents — `streams` contiguous streams of
/// n = ⌊(N−1)/streams⌋ predictions each, every stream starting from a zero state, and the
/// leftover predictions continuing the last stream — and scores each prediction with one
/// `CharModel<Double>.step` (batch 1) on the same weights, accumulating −log softmax in Double.
/// The windows, the state carried between them, the stream layout and the tail are the part
/// under test. Tolerance 2e-6 relative: the Float model's per-character losses carry ~1e-7
/// relative error each (fp32 accumulation over H ≤ 16 terms per gate), far below what any
/// misplaced character, lost state or mishandled tail changes (4e-5 to 1e-3 relative on these
/// cases, measured by perturbing the reference: a tail started from a zero state, one stream).
/// (Products are bit-identical for every thread count, so the process-wide setting does not matter.)
@Suite struct EvaluationTests {
  static let config = ModelConfig(vocabSize: 13, embedSize: 6, hiddenSize: 9, layers: 2)

  static func reference(_ model: CharModel<Double>, _ tokens: [Int32], streams: Int) -> (loss: Double, count: Int) {
    let predictions = tokens.count - 1
    let n = predictions / streams
    let V = model.config.vocabSize
    var total = 0.0
    var logits = [Double](repeating: 0, count: V)
    func score(_ position: Int, _ state: inout LSTMState<Double>) {
      [tokens[position]].withUnsafeBufferPointer { x in
        logits.withUnsafeMutableBufferPointer { model.step(tokens: x, state: &state, logits: $0) }
      }
      let m = logits.max()!
      total += m + log(logits.map { exp($0 - m) }.reduce(0, +)) - logits[Int(tokens[position + 1])]
    }
    var state = LSTMState<Double>.zeros(for: model.config, batch: 1)
    for b in 0..<streams {
      state = .zeros(for: model.config, batch: 1)
      for t in 0..<n { score(b * n + t, &state) }
    }
    // The tail continues the last stream, whose state `state` still is.
    for position in (streams * n)..<predictions { score(position, &state) }
    return (total / Double(predictions), predictions)
  }

  struct Case: CustomStringConvertible, Sendable {
    var tokens: Int, batch: Int, seq: Int
    var description: String { "\(tokens) tokens, batch \(batch), seq \(seq)" }
  }

  @Test(arguments: [
    Case(tokens: 203, batch: 4, seq: 7),  // 4 streams of 50: windows 7×7 + 1, tail of 2
    Case(tokens: 30, batch: 8, seq: 10),  // 2 streams (29/10), of 14 predictions: windows 10 + 4, tail of 1
    Case(tokens: 101, batch: 3, seq: 40),  // 2 streams of 50 (100/40): windows 40 + 10, no tail
    Case(tokens: 64, batch: 5, seq: 3),  // 5 streams of 12: windows of 3, tail of 3
    Case(tokens: 17, batch: 1, seq: 100),  // one stream, the window cut to the text
  ])
  func meanLossScoresEveryCharacterOnce(_ c: Case) throws {
    var g = SeededGenerator(seed: 31)
    let model = CharModel<Float>(config: Self.config, generator: &g)
    let exact = CharModel<Double>(config: Self.config, parameters: model.parameters.map(Double.init))
    var tg = SeededGenerator(seed: UInt64(c.tokens * 1000 + c.batch))
    let tokens = (0..<c.tokens).map { _ in Int32(tg.next() % UInt64(Self.config.vocabSize)) }
    // The text as a slice that does not start at index 0, as a split of a corpus is.
    let padded = TokenIDs([Int32](repeating: 5, count: 9) + tokens)
    let got = Evaluation.meanLoss(model: model, tokens: padded[9...], batch: c.batch, seqLength: c.seq)
    let (streams, _) = Evaluation.effectiveShape(tokens: c.tokens, batch: c.batch, seqLength: c.seq)
    let want = Self.reference(exact, tokens, streams: streams)
    #expect(got.count == c.tokens - 1)
    #expect(abs(got.loss - want.loss) <= 2e-6 * want.loss, "\(c): meanLoss \(got.loss) vs one by one \(want.loss)")
  }

  @Test func streamShapes() {
    for (tokens, batch, seq, streams, window) in [(203, 4, 7, 4, 7), (30, 8, 10, 2, 10), (101, 3, 40, 2, 40), (17, 1, 100, 1, 16)] {
      let shape = Evaluation.effectiveShape(tokens: tokens, batch: batch, seqLength: seq)
      #expect(shape.streams == streams && shape.seqLength == window, "\(tokens), \(batch), \(seq): \(shape)")
    }
    let none = Evaluation.meanLoss(model: CharModel<Float>(config: Self.config, parameters: .init(repeating: 0, count: Self.config.parameterCount)), tokens: [3], batch: 2, seqLength: 4)
    #expect(none.count == 0 && none.loss == 0)
  }
}
