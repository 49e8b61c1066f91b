// Layout, initialization, state carry, generation steps, Float vs Double and learning.

import CharLSTMKernels
import Foundation
import Testing

import CharLSTMModel

@Suite("Layout and initialization")
struct LayoutTests {
  @Test("slots follow PyTorch's state-dict names, shapes and order")
  func slots() {
    let c = ModelConfig(vocabSize: 7, embedSize: 3, hiddenSize: 4, layers: 2)
    let expected: [(String, [Int])] = [
      ("embedding.weight", [7, 3]),
      ("lstm.weight_ih_l0", [16, 3]), ("lstm.weight_hh_l0", [16, 4]),
      ("lstm.bias_ih_l0", [16]), ("lstm.bias_hh_l0", [16]),
      ("lstm.weight_ih_l1", [16, 4]), ("lstm.weight_hh_l1", [16, 4]),
      ("lstm.bias_ih_l1", [16]), ("lstm.bias_hh_l1", [16]),
      ("head.weight", [7, 4]), ("head.bias", [7]),
    ]
    #expect(c.slots.map(\.name) == expected.map(\.0))
    #expect(c.slots.map(\.shape) == expected.map(\.1))
    var offset = 0
    for s in c.slots {
      #expect(s.offset == offset)
      offset += s.count
    }
    #expect(offset == c.parameterCount)
  }

  @Test("validate rejects bad sizes and dropout")
  func validate() {
    let good = ModelConfig(vocabSize: 3, embedSize: 2, hiddenSize: 2, layers: 1, dropout: 0.5)
    #expect(throws: Never.self) { try good.validate() }
    for bad in [
      ModelConfig(vocabSize: 0, embedSize: 2, hiddenSize: 2, layers: 1),
      ModelConfig(vocabSize: 3, embedSize: 0, hiddenSize: 2, layers: 1),
      ModelConfig(vocabSize: 3, embedSize: 2, hiddenSize: 0, layers: 1),
      ModelConfig(vocabSize: 3, embedSize: 2, hiddenSize: 2, layers: 0),
      ModelConfig(vocabSize: 3, embedSize: 2, hiddenSize: 2, layers: 1, dropout: 1),
      ModelConfig(vocabSize: 3, embedSize: 2, hiddenSize: 2, layers: 1, dropout: -0.1),
      ModelConfig(vocabSize: 3, embedSize: 2, hiddenSize: 2, layers: 1, dropout: .nan),
    ] {
      #expect(throws: ModelError.self) { try bad.validate() }
    }
  }

  @Test("initialization: deterministic, forget bias 1/0, ranges and moments")
  func initialization() {
    let c = ModelConfig(vocabSize: 50, embedSize: 40, hiddenSize: 16, layers: 2)
    var g1 = SeededGenerator(seed: 42)
    var g2 = SeededGenerator(seed: 42)
    var g3 = SeededGenerator(seed: 43)
    let a = CharModel<Double>(config: c, generator: &g1)
    let b = CharModel<Double>(config: c, generator: &g2)
    let d = CharModel<Double>(config: c, generator: &g3)
    #expect(a.parameters == b.parameters)
    #expect(a.parameters != d.parameters)
    var g4 = SeededGenerator(seed: 42)
    let f = CharModel<Float>(config: c, generator: &g4)
    #expect(f.parameters.map { Double($0) } == a.parameters.map { Double(Float($0)) })
    #expect(f.parameters.count == c.parameterCount)
    let H = c.hiddenSize
    let bound = 1 / Double(H).squareRoot()
    for s in a.slots {
      let v = Array(a.parameters[s.range])
      if s.name == "embedding.weight" {
        let mean = v.reduce(0, +) / Double(v.count)
        let variance = v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(v.count)
        #expect(abs(mean) < 0.1 && abs(variance - 1) < 0.15, "N(0,1): mean \(mean) var \(variance)")
      } else if s.name.hasPrefix("lstm.bias_ih") {
        #expect(v[H..<(2 * H)].allSatisfy { $0 == 1 })
        #expect(v[0..<H].allSatisfy { abs($0) <= bound })
      } else if s.name.hasPrefix("lstm.bias_hh") {
        #expect(v[H..<(2 * H)].allSatisfy { $0 == 0 })
      } else {
        #expect(v.allSatisfy { abs($0) <= bound }, "\(s.name) outside U(−1/√H, 1/√H)")
      }
    }
    // --forget-bias: only the forget slice of bias_ih changes; every other draw is the same.
    var g5 = SeededGenerator(seed: 42)
    let z = CharModel<Double>(config: c, generator: &g5, forgetBias: -0.5)
    for s in a.slots {
      let (va, vz) = (Array(a.parameters[s.range]), Array(z.parameters[s.range]))
      if s.name.hasPrefix("lstm.bias_ih") {
        #expect(vz[H..<(2 * H)].allSatisfy { $0 == -0.5 })
        #expect(vz[0..<H] == va[0..<H] && vz[(2 * H)...] == va[(2 * H)...])
      } else {
        #expect(vz == va, "\(s.name) changed with the forget bias")
      }
    }
  }
}

@Suite("Windows, state and generation")
struct WindowTests {
  static let config = ModelConfig(vocabSize: 6, embedSize: 4, hiddenSize: 5, layers: 2)

  @Test("one window of 2T equals two windows of T with the state carried")
  func stateCarry() {
    var g = SeededGenerator(seed: 1)
    let model = CharModel<Double>(config: Self.config, generator: &g)
    let (B, T) = (3, 4)
    let w = Window(config: Self.config, batch: B, steps: 2 * T, seed: 2, nonZeroState: true)
    var whole = w.state
    let lossWhole = w.inputs.withUnsafeBufferPointer { x in
      w.targets.withUnsafeBufferPointer { y in
        model.evaluateWindow(inputs: x, targets: y, batch: B, steps: 2 * T, state: &whole)
      }
    }
    var split = w.state
    var lossSplit = 0.0
    for half in 0..<2 {  // time-major: the first T·B entries are the first T steps
      let r = (half * T * B)..<((half + 1) * T * B)
      let x = Array(w.inputs[r])
      let y = Array(w.targets[r])
      lossSplit += x.withUnsafeBufferPointer { x in
        y.withUnsafeBufferPointer { y in
          model.evaluateWindow(inputs: x, targets: y, batch: B, steps: T, state: &split)
        }
      }
    }
    #expect(abs(lossWhole - lossSplit) <= 1e-12 * lossWhole)
    for i in whole.h.indices {
      #expect(abs(whole.h[i] - split.h[i]) <= 1e-14)
      #expect(abs(whole.c[i] - split.c[i]) <= 1e-14)
    }
    // Training windows give the same forward loss (mean) and the same final state.
    var trainState = w.state
    var dg = SeededGenerator(seed: 0)
    let mean = w.inputs.withUnsafeBufferPointer { x in
      w.targets.withUnsafeBufferPointer { y in
        model.trainWindow(
          inputs: x, targets: y, batch: B, steps: 2 * T, state: &trainState, dropoutGenerator: &dg)
      }
    }
    #expect(abs(mean * Double(2 * T * B) - lossWhole) <= 1e-12 * lossWhole)
    #expect(trainState == whole)
  }

  /// One step of the model written out from the equations, in Double, independent of the
  /// model's code: PyTorch's nn.LSTM (gate rows i, f, g, o; z = W_ih x + b_ih + W_hh h + b_hh;
  /// c' = σ(f)⊙c + σ(i)⊙tanh(g); h' = σ(o)⊙tanh(c')) over the stacked layers, then the head.
  /// `h`, `c` are [L][B·H]; returns the logits [B·V].
  static func referenceStep(
    _ p: [Double], _ config: ModelConfig, tokens: [Int32], h: inout [[Double]], c: inout [[Double]]
  ) -> [Double] {
    func tensor(_ name: String) -> [Double] { Array(p[config.slots.first { $0.name == name }!.range]) }
    let (E, H, V) = (config.embedSize, config.hiddenSize, config.vocabSize)
    func sigmoid(_ x: Double) -> Double { 1 / (1 + exp(-x)) }
    let embedding = tensor("embedding.weight")
    let head = tensor("head.weight"), headBias = tensor("head.bias")
    var logits = [Double](repeating: 0, count: tokens.count * V)
    for (b, token) in tokens.enumerated() {
      var x = Array(embedding[(Int(token) * E)..<(Int(token) * E + E)])
      for l in 0..<config.layers {
        let wIh = tensor("lstm.weight_ih_l\(l)"), wHh = tensor("lstm.weight_hh_l\(l)")
        let bIh = tensor("lstm.bias_ih_l\(l)"), bHh = tensor("lstm.bias_hh_l\(l)")
        let n = x.count
        let hPrev = Array(h[l][(b * H)..<(b * H + H)])
        var z = [Double](repeating: 0, count: 4 * H)
        for r in 0..<(4 * H) {
          var sum = bIh[r] + bHh[r]
          for k in 0..<n { sum += wIh[r * n + k] * x[k] }
          for k in 0..<H { sum += wHh[r * H + k] * hPrev[k] }
          z[r] = sum
        }
        for j in 0..<H {
          let cell = sigmoid(z[H + j]) * c[l][b * H + j] + sigmoid(z[j]) * tanh(z[2 * H + j])
          c[l][b * H + j] = cell
          h[l][b * H + j] = sigmoid(z[3 * H + j]) * tanh(cell)
        }
        x = Array(h[l][(b * H)..<(b * H + H)])
      }
      for v in 0..<V {
        var sum = headBias[v]
        for j in 0..<H { sum += head[v * H + j] * x[j] }
        logits[b * V + v] = sum
      }
    }
    return logits
  }

  /// step(), windowLogits and evaluateWindow each against the written-out reference above (not
  /// against each other: step() is built on windowLogits, so comparing those two alone could not
  /// catch a bug they share). Tolerances: 1e-12 on logits and state, 1e-12 relative on the loss —
  /// Double sums of a few dozen terms of order 1 differ by ~1e-15 when the math is the same.
  @Test("step() and the window's logits and loss match the equations written out", arguments: [1, 3])
  func stepMatchesWindow(batch B: Int) {
    var g = SeededGenerator(seed: 5)
    let model = CharModel<Double>(config: Self.config, generator: &g)
    let T = 6
    let V = Self.config.vocabSize
    let H = Self.config.hiddenSize
    let L = Self.config.layers
    let w = Window(config: Self.config, batch: B, steps: T, seed: 6, nonZeroState: true)
    // The reference over the whole window, from the same incoming state ([L, B, H] layout).
    var refH = (0..<L).map { Array(w.state.h[($0 * B * H)..<(($0 + 1) * B * H)]) }
    var refC = (0..<L).map { Array(w.state.c[($0 * B * H)..<(($0 + 1) * B * H)]) }
    var refLogits: [Double] = []
    var refLoss = 0.0
    for t in 0..<T {
      let tokens = Array(w.inputs[(t * B)..<((t + 1) * B)])
      let l = Self.referenceStep(model.parameters, Self.config, tokens: tokens, h: &refH, c: &refC)
      refLogits += l
      for b in 0..<B {
        let row = l[(b * V)..<((b + 1) * V)]
        let m = row.max()!
        refLoss += m + log(row.map { exp($0 - m) }.reduce(0, +)) - row[b * V + Int(w.targets[t * B + b])]
      }
    }
    let refStateH = refH.flatMap { $0 }, refStateC = refC.flatMap { $0 }
    func close(_ a: [Double], _ b: [Double], _ tol: Double) -> Bool {
      a.count == b.count && a.indices.allSatisfy { abs(a[$0] - b[$0]) <= tol }
    }

    var windowState = w.state
    var windowLogits = [Double](repeating: 0, count: T * B * V)
    w.inputs.withUnsafeBufferPointer { x in
      windowLogits.withUnsafeMutableBufferPointer { l in
        model.windowLogits(inputs: x, batch: B, steps: T, state: &windowState, logits: l)
      }
    }
    #expect(close(windowLogits, refLogits, 1e-12), "windowLogits differ from the reference")
    #expect(close(windowState.h, refStateH, 1e-12) && close(windowState.c, refStateC, 1e-12))

    var evalState = w.state
    let evalLoss = w.inputs.withUnsafeBufferPointer { x in
      w.targets.withUnsafeBufferPointer { y in
        model.evaluateWindow(inputs: x, targets: y, batch: B, steps: T, state: &evalState)
      }
    }
    #expect(abs(evalLoss - refLoss) <= 1e-12 * refLoss, "evaluateWindow \(evalLoss) vs reference \(refLoss)")
    #expect(close(evalState.h, refStateH, 1e-12) && close(evalState.c, refStateC, 1e-12))

    var stepState = w.state
    var logits = [Double](repeating: 0, count: B * V)
    var stepLoss = 0.0
    for t in 0..<T {
      let tokens = Array(w.inputs[(t * B)..<((t + 1) * B)])
      tokens.withUnsafeBufferPointer { x in
        logits.withUnsafeMutableBufferPointer { l in
          model.step(tokens: x, state: &stepState, logits: l)
        }
      }
      let want = Array(refLogits[(t * B * V)..<((t + 1) * B * V)])
      #expect(close(logits, want, 1e-12), "step \(t): logits \(logits) vs reference \(want)")
      for b in 0..<B {
        let stepRow = Array(logits[(b * V)..<((b + 1) * V)])
        let m = stepRow.max()!
        let lse = m + log(stepRow.map { exp($0 - m) }.reduce(0, +))
        stepLoss += lse - stepRow[Int(w.targets[t * B + b])]
      }
    }
    #expect(abs(stepLoss - refLoss) <= 1e-12 * refLoss)
    #expect(close(stepState.h, refStateH, 1e-12) && close(stepState.c, refStateC, 1e-12))
  }
}

@Suite("Float model and learning")
struct PrecisionAndLearningTests {
  /// Float runs the production kernels; on the same weights it must track the Double model.
  /// Tolerances: loss and state 1e-5 relative/absolute, each gradient entry within
  /// 1e-4 · max|∇| (Float has ~7 digits; a window of this size loses at most ~1–2 of them).
  @Test("Float model agrees with the Double model on the same weights")
  func floatMatchesDouble() {
    let config = ModelConfig(vocabSize: 11, embedSize: 8, hiddenSize: 16, layers: 2, dropout: 0.25)
    var g = SeededGenerator(seed: 21)
    let d = CharModel<Double>(config: config, generator: &g)
    let f = CharModel<Float>(config: config, parameters: d.parameters.map { Float($0) })
    let w = Window(config: config, batch: 4, steps: 7, seed: 22, nonZeroState: true)
    var fState = LSTMState<Float>.zeros(for: config, batch: 4)
    fState.h = w.state.h.map { Float($0) }
    fState.c = w.state.c.map { Float($0) }
    // Round the Double model's incoming state the same way so only arithmetic differs.
    var dState = w.state
    dState.h = fState.h.map { Double($0) }
    dState.c = fState.c.map { Double($0) }
    d.zeroGradients()
    f.zeroGradients()
    let lossD = w.trainLoss(d, state: dState, dropoutSeed: 5)
    let lossF = w.trainLoss(f, state: fState, dropoutSeed: 5)
    #expect(abs(lossD - lossF) <= 1e-5 * lossD, "loss: Double \(lossD) Float \(lossF)")
    let scale = d.gradients.map(abs).max()!
    var worst = 0.0
    for i in d.gradients.indices { worst = max(worst, abs(d.gradients[i] - Double(f.gradients[i]))) }
    #expect(worst <= 1e-4 * scale, "max gradient difference \(worst) vs scale \(scale)")
    // Final states of an evaluation window.
    var ds = dState
    var fs = fState
    let dl = w.inputs.withUnsafeBufferPointer { x in
      w.targets.withUnsafeBufferPointer { y in
        d.evaluateWindow(inputs: x, targets: y, batch: 4, steps: 7, state: &ds)
      }
    }
    let fl = w.inputs.withUnsafeBufferPointer { x in
      w.targets.withUnsafeBufferPointer { y in
        f.evaluateWindow(inputs: x, targets: y, batch: 4, steps: 7, state: &fs)
      }
    }
    #expect(abs(dl - fl) <= 1e-5 * dl)
    #expect(ds.h.indices.allSatisfy { abs(ds.h[$0] - Double(fs.h[$0])) <= 1e-5 })
    #expect(ds.c.indices.allSatisfy { abs(ds.c[$0] - Double(fs.c[$0])) <= 1e-5 })
  }

  /// Plain SGD (θ ← θ − lr·∇, written inline) on "hello world " repeated: the mean loss starts
  /// near ln V and ends well below 0.5 nats.
  @Test("loss falls under plain SGD on a tiny repetitive corpus")
  func lossFalls() {
    let text = Array(String(repeating: "hello world ", count: 40))
    let alphabet = Array(Set(text)).sorted()
    let V = alphabet.count  // 8
    let ids = text.map { Int32(alphabet.firstIndex(of: $0)!) }
    let config = ModelConfig(vocabSize: V, embedSize: 8, hiddenSize: 24, layers: 1)
    var g = SeededGenerator(seed: 3)
    let model = CharModel<Double>(config: config, generator: &g)
    let (B, T) = (4, 12)
    let streamLength = (ids.count - 1) / B
    var state = LSTMState<Double>.zeros(for: config, batch: B)
    var dropout = SeededGenerator(seed: 0)
    var inputs = [Int32](repeating: 0, count: T * B)
    var targets = inputs
    var position = 0
    var first = 0.0
    var recent: [Double] = []
    let updates = 300
    for update in 0..<updates {
      if position + T > streamLength {
        position = 0
        state.reset()
      }
      for t in 0..<T {
        for b in 0..<B {
          inputs[t * B + b] = ids[b * streamLength + position + t]
          targets[t * B + b] = ids[b * streamLength + position + t + 1]
        }
      }
      position += T
      model.zeroGradients()
      let loss = inputs.withUnsafeBufferPointer { x in
        targets.withUnsafeBufferPointer { y in
          model.trainWindow(
            inputs: x, targets: y, batch: B, steps: T, state: &state, dropoutGenerator: &dropout)
        }
      }
      if update == 0 { first = loss }
      if update >= updates - 10 { recent.append(loss) }
      let lr = 1.0
      for i in model.parameters.indices { model.parameters[i] -= lr * model.gradients[i] }
    }
    let last = recent.reduce(0, +) / Double(recent.count)
    #expect(abs(first - log(Double(V))) < 0.5, "initial loss \(first) vs ln V \(log(Double(V)))")
    #expect(last < 0.5, "final mean loss \(last) (initial \(first))")
  }
}
