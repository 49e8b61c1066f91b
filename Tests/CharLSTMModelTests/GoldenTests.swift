// The model against golden values from PyTorch (scripts/golden/make_lstm_golden.py).

import CharLSTMKernels
import Testing

import CharLSTMModel

@Suite("Golden values from PyTorch nn.LSTM")
struct GoldenTests {
  typealias F = GoldenFixture
  static let config = ModelConfig(
    vocabSize: F.vocab, embedSize: F.embed, hiddenSize: F.hidden, layers: F.layers)

  /// Relative comparison |a − b| ≤ tol · max(|a|, |b|, 1e-3) for every entry; reports the first miss.
  func expectClose(
    _ got: [Double], _ want: [Double], tol: Double = 1e-9, _ what: String,
    sourceLocation: SourceLocation = #_sourceLocation
  ) {
    #expect(got.count == want.count, "\(what): count", sourceLocation: sourceLocation)
    if let i = got.indices.first(where: {
      abs(got[$0] - want[$0]) > tol * max(abs(got[$0]), abs(want[$0]), 1e-3)
    }) {
      Issue.record(
        "\(what): first mismatch at \(i): got \(got[i]), PyTorch \(want[i])",
        sourceLocation: sourceLocation)
    }
  }

  @Test("state-dict names and shapes match PyTorch")
  func layout() {
    #expect(Self.config.slots.map(\.name) == F.names)
    #expect(Self.config.slots.map(\.shape) == F.shapes)
    #expect(Self.config.parameterCount == F.parameters.count)
  }

  @Test("loss, final state and gradients match PyTorch (non-zero initial state)")
  func forwardBackward() {
    let model = CharModel<Double>(config: Self.config, parameters: F.parameters)
    var state = LSTMState<Double>.zeros(for: Self.config, batch: F.batch)
    state.h = F.h0
    state.c = F.c0
    var dropout = SeededGenerator(seed: 0)
    model.zeroGradients()
    let loss = F.inputs.withUnsafeBufferPointer { x in
      F.targets.withUnsafeBufferPointer { y in
        model.trainWindow(
          inputs: x, targets: y, batch: F.batch, steps: F.steps, state: &state,
          dropoutGenerator: &dropout)
      }
    }
    #expect(abs(loss - F.loss) <= 1e-12 * F.loss, "loss \(loss) vs PyTorch \(F.loss)")
    expectClose(state.h, F.hN, "h_n")
    expectClose(state.c, F.cN, "c_n")
    for slot in model.slots {
      expectClose(
        Array(model.gradients[slot.range]), Array(F.gradients[slot.range]), "grad \(slot.name)")
    }
  }

  @Test("logits match PyTorch")
  func logits() {
    let model = CharModel<Double>(config: Self.config, parameters: F.parameters)
    var state = LSTMState<Double>.zeros(for: Self.config, batch: F.batch)
    state.h = F.h0
    state.c = F.c0
    var logits = [Double](repeating: 0, count: F.steps * F.batch * F.vocab)
    F.inputs.withUnsafeBufferPointer { x in
      logits.withUnsafeMutableBufferPointer { l in
        model.windowLogits(inputs: x, batch: F.batch, steps: F.steps, state: &state, logits: l)
      }
    }
    expectClose(logits, F.logits, "logits")
  }
}
