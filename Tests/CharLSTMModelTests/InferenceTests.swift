import CharLSTMKernels
import CharLSTMModel
import Testing

/// The generation path (weights packed once) computes what the training path computes.
@Suite struct InferenceTests {
  private func compare<S: KernelScalar>(_: S.Type, batch: Int, tolerance: Double) {
    let config = ModelConfig(vocabSize: 11, embedSize: 5, hiddenSize: 7, layers: 3)
    var g = SeededGenerator(seed: 77)
    let model = CharModel<S>(config: config, generator: &g)
    let session = InferenceSession(model: model, batch: batch)
    var s1 = LSTMState<S>.zeros(for: config, batch: batch)
    var s2 = s1
    var l1 = [S](repeating: 0, count: batch * 11)
    var l2 = l1
    for step in 0..<12 {
      let tokens = (0..<batch).map { Int32((step * 3 + $0 * 5) % 11) }
      tokens.withUnsafeBufferPointer { t in
        l1.withUnsafeMutableBufferPointer { model.step(tokens: t, state: &s1, logits: $0) }
        l2.withUnsafeMutableBufferPointer { session.step(tokens: t, state: &s2, logits: $0) }
      }
      for i in l1.indices where abs(Double(l1[i] - l2[i])) > tolerance {
        Issue.record("step \(step), logit \(i): \(l1[i]) vs \(l2[i])")
        return
      }
      for i in s1.h.indices where abs(Double(s1.h[i] - s2.h[i])) > tolerance || abs(Double(s1.c[i] - s2.c[i])) > tolerance {
        Issue.record("step \(step), state \(i) differs")
        return
      }
    }
  }

  @Test func doubleMatchesTheTrainingPath() { compare(Double.self, batch: 1, tolerance: 1e-12) }
  @Test func floatMatchesTheTrainingPath() { compare(Float.self, batch: 3, tolerance: 1e-5) }
}
