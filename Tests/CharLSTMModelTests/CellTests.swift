// The LSTM cell against numbers worked out by hand from the equations.

import CharLSTMKernels
import Foundation
import Testing

import CharLSTMModel

@Suite("Cell by hand")
struct CellTests {
  /// V=2, E=1, H=2, L=1, B=1: one step from a non-zero state, then the head.
  ///
  /// Parameters (gate rows i0 i1 f0 f1 g0 g1 o0 o1):
  ///   x = embedding[token 0] = 0.5
  ///   W_ih = [0.1, −0.2, 0.3, 0.4, −0.5, 0.6, 0.7, −0.8]ᵀ
  ///   W_hh rows: i0 [0.1, 0], i1 [0, 0.1], f0 [0.2, 0], f1 [0, −0.2],
  ///              g0 [0.3, 0.1], g1 [−0.1, 0.3], o0 [0.05, 0.05], o1 [−0.05, 0.05]
  ///   b_ih = [0.01, 0.02, 1, 1, 0, 0, −0.1, 0.1], b_hh = [0, 0, 0, 0, 0.05, −0.05, 0, 0]
  ///   h_0 = [0.2, −0.4], c_0 = [0.5, −1.0]
  /// Pre-activations z = W_ih x + b_ih + W_hh h_0 + b_hh:
  ///   z_i0 = 0.05 + 0.01 + 0.02            =  0.08
  ///   z_i1 = −0.1 + 0.02 − 0.04            = −0.12
  ///   z_f0 = 0.15 + 1 + 0.04               =  1.19
  ///   z_f1 = 0.2 + 1 + 0.08                =  1.28
  ///   z_g0 = −0.25 + 0.05 + 0.06 − 0.04    = −0.18
  ///   z_g1 = 0.3 − 0.05 − 0.02 − 0.12      =  0.11
  ///   z_o0 = 0.35 − 0.1 + 0.01 − 0.02      =  0.24
  ///   z_o1 = −0.4 + 0.1 − 0.01 − 0.02      = −0.33
  /// Activations: i = σ(0.08), σ(−0.12) = 0.519989340156, 0.470035948235
  ///              f = σ(1.19), σ(1.28)  = 0.766741064229, 0.782449776423
  ///              g = tanh(−0.18), tanh(0.11) = −0.178080868117, 0.109558470214
  ///              o = σ(0.24), σ(−0.33) = 0.559713649267, 0.418240623158
  /// c_1 = f⊙c_0 + i⊙g:
  ///   c_1[0] = 0.766741064229·0.5 + 0.519989340156·(−0.178080868117) = 0.290770379008
  ///   c_1[1] = 0.782449776423·(−1) + 0.470035948235·0.109558470214 = −0.730953356989
  /// h_1 = o⊙tanh(c_1):
  ///   h_1[0] = 0.559713649267·tanh(0.290770379008) = 0.158311488033
  ///   h_1[1] = 0.418240623158·tanh(−0.730953356989) = −0.260835035643
  /// Head W = [[1, 2], [−1, 0.5]], b = [0.1, −0.2]:
  ///   logit0 = 0.158311488033 − 0.521670071286 + 0.1 = −0.263358583253
  ///   logit1 = −0.158311488033 − 0.130417517821 − 0.2 = −0.488729005855
  @Test("one step of a 2-unit cell matches the hand computation")
  func handComputed() throws {
    let config = ModelConfig(vocabSize: 2, embedSize: 1, hiddenSize: 2, layers: 1)
    let values: [String: [Double]] = [
      "embedding.weight": [0.5, -1.0],
      "lstm.weight_ih_l0": [0.1, -0.2, 0.3, 0.4, -0.5, 0.6, 0.7, -0.8],
      "lstm.weight_hh_l0": [
        0.1, 0, 0, 0.1, 0.2, 0, 0, -0.2, 0.3, 0.1, -0.1, 0.3, 0.05, 0.05, -0.05, 0.05,
      ],
      "lstm.bias_ih_l0": [0.01, 0.02, 1, 1, 0, 0, -0.1, 0.1],
      "lstm.bias_hh_l0": [0, 0, 0, 0, 0.05, -0.05, 0, 0],
      "head.weight": [1, 2, -1, 0.5],
      "head.bias": [0.1, -0.2],
    ]
    var flat = [Double](repeating: .nan, count: config.parameterCount)
    for slot in config.slots {
      let v = try #require(values[slot.name])
      #expect(v.count == slot.count)
      for (j, x) in v.enumerated() { flat[slot.offset + j] = x }
    }
    let model = CharModel<Double>(config: config, parameters: flat)
    var state = LSTMState<Double>.zeros(for: config, batch: 1)
    state.h = [0.2, -0.4]
    state.c = [0.5, -1.0]
    var logits = [Double](repeating: 0, count: 2)
    let token: [Int32] = [0]
    token.withUnsafeBufferPointer { t in
      logits.withUnsafeMutableBufferPointer { l in model.step(tokens: t, state: &state, logits: l) }
    }
    let tol = 1e-11
    #expect(abs(state.c[0] - 0.290770379008) < tol)
    #expect(abs(state.c[1] - -0.730953356989) < tol)
    #expect(abs(state.h[0] - 0.158311488033) < tol)
    #expect(abs(state.h[1] - -0.260835035643) < tol)
    #expect(abs(logits[0] - -0.263358583253) < tol)
    #expect(abs(logits[1] - -0.488729005855) < tol)
  }
}
