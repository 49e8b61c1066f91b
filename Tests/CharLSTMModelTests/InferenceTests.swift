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

  /// bf16 weights: the Float session (16-bit panels, AVX2 or portable kernels) against the Double
  /// session whose weights are rounded to bf16 the same way (a tight tolerance: only fp32
  /// accumulation differs), on sizes that are not multiples of any tile, batch 1 and 5; and the
  /// bf16 session stays close to fp32 (the rounding is real but small).
  @Test(arguments: [1, 5])
  func bf16WeightsMatchTheRoundedReference(batch: Int) {
    let config = ModelConfig(vocabSize: 67, embedSize: 13, hiddenSize: 41, layers: 2)
    var g = SeededGenerator(seed: 5)
    let model = CharModel<Float>(config: config, generator: &g)
    let reference = CharModel<Double>(config: config, parameters: model.parameters.map(Double.init))
    for isa in Kernels.ISA.allCases.filter(\.isSupported) {
      Kernels.withISA(isa) {
        let fast = InferenceSession(model: model, batch: batch, weights: .bf16)
        let exact = InferenceSession(model: reference, batch: batch, weights: .bf16)
        let full = InferenceSession(model: model, batch: batch)
        var sf = LSTMState<Float>.zeros(for: config, batch: batch), s32 = sf
        var sd = LSTMState<Double>.zeros(for: config, batch: batch)
        var lf = [Float](repeating: 0, count: batch * 67), l32 = lf
        var ld = [Double](repeating: 0, count: batch * 67)
        var worst32 = 0.0
        for step in 0..<10 {
          let tokens = (0..<batch).map { Int32((step * 7 + $0 * 11) % 67) }
          tokens.withUnsafeBufferPointer { t in
            lf.withUnsafeMutableBufferPointer { fast.step(tokens: t, state: &sf, logits: $0) }
            l32.withUnsafeMutableBufferPointer { full.step(tokens: t, state: &s32, logits: $0) }
            ld.withUnsafeMutableBufferPointer { exact.step(tokens: t, state: &sd, logits: $0) }
          }
          for i in lf.indices where abs(Double(lf[i]) - ld[i]) > 2e-5 {
            Issue.record("\(isa) batch \(batch) step \(step) logit \(i): \(lf[i]) vs rounded reference \(ld[i])")
            return
          }
          worst32 = max(worst32, zip(lf, l32).map { abs(Double($0) - Double($1)) }.max() ?? 0)
        }
        #expect(worst32 > 0, "bf16 weights must change something")
        #expect(worst32 < 0.05, "bf16 weights stay close to fp32: worst logit difference \(worst32)")
      }
    }
  }
}
