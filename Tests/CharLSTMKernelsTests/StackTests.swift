import CharLSTMKernels
import Testing

extension KernelTests {
/// The wavefront over a stack of layers (`lstmStackForward` / `lstmStackBackward`) against the
/// layer-by-layer walk it replaces (whole-window input projections and dX, one fused step per
/// layer and time step), bit for bit, for 1 to 3 threads.
@Suite struct StackTests {
  /// Buffers of one layer, as the model keeps them.
  final class Layer {
    let inSize: Int
    var wih: [Float], whh: [Float], bias: [Float]
    var gates: [Float], cells: [Float], hidden: [Float], tanhC: [Float]
    var mask: [Float], dropped: [Float], dHidden: [Float], dGates: [Float], dc: [Float]
    let fwdRecurrent, fwdInput, bwdRecurrent, bwdInput: UnsafeMutableRawPointer

    init(inSize: Int, B: Int, T: Int, H: Int, masked: Bool, g: inout SeededGenerator) {
      let G = 4 * H
      self.inSize = inSize
      wih = randomFloats(G * inSize, &g, scale: 0.3)
      whh = randomFloats(G * H, &g, scale: 0.3)
      bias = randomFloats(G, &g)
      gates = [Float](repeating: 0, count: T * B * G)
      cells = randomFloats((T + 1) * B * H, &g)  // block 0: c_0 (the rest is overwritten)
      hidden = randomFloats((T + 1) * B * H, &g)
      tanhC = [Float](repeating: 0, count: T * B * H)
      mask = (0..<(T * B * H)).map { _ in masked ? (g.nextUnitFloat() < 0.3 ? 0 : 1 / 0.7) : 1 }
      dropped = [Float](repeating: 0, count: T * B * H)
      dHidden = [Float](repeating: 0, count: T * B * H)
      dGates = [Float](repeating: 0, count: T * B * G)
      dc = [Float](repeating: 0, count: B * H)
      func alloc(_ k: Int, _ n: Int) -> UnsafeMutableRawPointer {
        UnsafeMutableRawPointer.allocate(byteCount: Float.packedByteCount(k: k, n: n), alignment: 64)
      }
      (fwdRecurrent, fwdInput, bwdRecurrent, bwdInput) = (alloc(H, G), alloc(inSize, G), alloc(G, H), alloc(G, inSize))
      whh.withUnsafeBufferPointer { w in
        Float.pack(transB: true, k: H, n: G, b: w.baseAddress!, ldb: H, into: fwdRecurrent)
        Float.pack(transB: false, k: G, n: H, b: w.baseAddress!, ldb: H, into: bwdRecurrent)
      }
      wih.withUnsafeBufferPointer { w in
        Float.pack(transB: true, k: inSize, n: G, b: w.baseAddress!, ldb: inSize, into: fwdInput)
        Float.pack(transB: false, k: G, n: inSize, b: w.baseAddress!, ldb: inSize, into: bwdInput)
      }
    }

    deinit { for p in [fwdRecurrent, fwdInput, bwdRecurrent, bwdInput] { p.deallocate() } }

    var everything: [Float] { gates + cells + hidden + tanhC + dropped + dHidden + dGates + dc }
  }

  /// A forward and a backward window through `L` layers, by the wavefront (`stack`) or by the
  /// layer walk; returns every layer's buffers.
  static func run(L: Int, B: Int, T: Int, H: Int, E: Int, masked: Bool, stack: Bool, seed: UInt64) -> [Float] {
    let G = 4 * H
    var g = SeededGenerator(seed: seed)
    let x0 = randomFloats(T * B * E, &g)
    let dTop = randomFloats(T * B * H, &g)
    let layers = (0..<L).map { Layer(inSize: $0 == 0 ? E : H, B: B, T: T, H: H, masked: masked, g: &g) }
    // Layer 0's input projection, as both paths do it: gates_0 = bias + X_0·W_ihᵀ over the window.
    let y0 = layers[0]
    for r in 0..<(T * B) { y0.gates.replaceSubrange((r * G)..<((r + 1) * G), with: y0.bias) }
    Float.gemm(
      transA: false, transB: true, m: T * B, n: G, k: E, alpha: 1, a: x0, lda: E, b: y0.wih, ldb: E,
      beta: 1, c: &y0.gates, ldc: G)
    if stack {
      withLayers(layers, forward: true) { Float.lstmStackForward(batch: B, steps: T, hidden: H, layers: $0) }
    } else {
      for (l, y) in layers.enumerated() {
        if l > 0 {
          for r in 0..<(T * B) { y.gates.replaceSubrange((r * G)..<((r + 1) * G), with: y.bias) }
          Float.gemm(
            transA: false, transB: true, m: T * B, n: G, k: H, alpha: 1, a: layers[l - 1].dropped, lda: H,
            b: y.wih, ldb: H, beta: 1, c: &y.gates, ldc: G)
        }
        y.gates.withUnsafeMutableBufferPointer { z in
          y.cells.withUnsafeMutableBufferPointer { c in
            y.hidden.withUnsafeMutableBufferPointer { h in
              y.tanhC.withUnsafeMutableBufferPointer { tc in
                for t in 0..<T {
                  Float.lstmStepForward(
                    batch: B, hidden: H, hPrev: h.baseAddress! + t * B * H, packed: y.fwdRecurrent,
                    gates: z.baseAddress! + t * B * G, cPrev: c.baseAddress! + t * B * H,
                    c: c.baseAddress! + (t + 1) * B * H, tanhC: tc.baseAddress! + t * B * H,
                    h: h.baseAddress! + (t + 1) * B * H)
                }
              }
            }
          }
        }
        for i in 0..<(T * B * H) { y.dropped[i] = y.hidden[B * H + i] * y.mask[i] }
      }
    }
    // Backward: the top layer's ∂L/∂h is given (through its output's dropout).
    let top = layers[L - 1]
    for i in 0..<(T * B * H) { top.dHidden[i] = dTop[i] * top.mask[i] }
    if stack {
      withLayers(layers, forward: false) { Float.lstmStackBackward(batch: B, steps: T, hidden: H, layers: $0) }
    } else {
      for l in stride(from: L - 1, through: 0, by: -1) {
        let y = layers[l]
        for i in y.dc.indices { y.dc[i] = 0 }
        y.gates.withUnsafeMutableBufferPointer { z in
          y.cells.withUnsafeMutableBufferPointer { c in
            y.tanhC.withUnsafeMutableBufferPointer { tc in
              y.dHidden.withUnsafeMutableBufferPointer { dh in
                y.dGates.withUnsafeMutableBufferPointer { dz in
                  y.dc.withUnsafeMutableBufferPointer { dc in
                    for t in stride(from: T - 1, through: 0, by: -1) {
                      Float.lstmStepBackward(
                        batch: B, hidden: H,
                        dGatesNext: t < T - 1 ? UnsafePointer(dz.baseAddress! + (t + 1) * B * G) : nil,
                        packed: y.bwdRecurrent, dh: dh.baseAddress! + t * B * H,
                        gates: z.baseAddress! + t * B * G, cPrev: c.baseAddress! + t * B * H,
                        tanhC: tc.baseAddress! + t * B * H, dc: dc.baseAddress!,
                        dGates: dz.baseAddress! + t * B * G)
                    }
                  }
                }
              }
            }
          }
        }
        if l > 0 {
          let below = layers[l - 1]
          Float.gemm(
            transA: false, transB: false, m: T * B, n: H, k: G, alpha: 1, a: y.dGates, lda: G, b: y.wih,
            ldb: H, beta: 0, c: &below.dHidden, ldc: H)
          for i in 0..<(T * B * H) { below.dHidden[i] *= below.mask[i] }
        }
      }
    }
    return layers.flatMap(\.everything)
  }

  /// The layers as the wavefront takes them (pointers valid for the call).
  static func withLayers(_ layers: [Layer], forward: Bool, _ body: (UnsafeBufferPointer<LSTMStackLayer<Float>>) -> Void) {
    let views = layers.enumerated().map { l, y in
      LSTMStackLayer<Float>(
        inSize: y.inSize, recurrent: forward ? y.fwdRecurrent : y.bwdRecurrent,
        input: l == 0 ? nil : UnsafeRawPointer(forward ? y.fwdInput : y.bwdInput),
        biasSum: y.bias.withUnsafeBufferPointer { $0.baseAddress! }, gates: pointer(&y.gates),
        cells: pointer(&y.cells), hidden: pointer(&y.hidden), tanhC: pointer(&y.tanhC),
        outMask: UnsafePointer(pointer(&y.mask)), outDropped: pointer(&y.dropped),
        dHidden: pointer(&y.dHidden), dGates: pointer(&y.dGates), dc: pointer(&y.dc))
    }
    views.withUnsafeBufferPointer(body)
  }

  /// The storage of a class-held array (stable while the array is neither copied nor resized).
  static func pointer(_ a: inout [Float]) -> UnsafeMutablePointer<Float> {
    a.withUnsafeMutableBufferPointer { $0.baseAddress! }
  }

  @Test func wavefrontEqualsTheLayerWalkBitForBit() {
    // (L, B, T, H, E, masked)
    let cases: [(Int, Int, Int, Int, Int, Bool)] = [
      (2, 50, 6, 128, 64, true), (3, 7, 5, 64, 16, false), (2, 1, 4, 64, 8, true), (4, 3, 3, 192, 64, true),
    ]
    let threads = Kernels.threads
    defer { Kernels.setThreads(threads) }
    // The portable path has no in-place kernels and takes the layer walk (the next test).
    for isa in supportedISAs where isa != .portable {
      Kernels.withISA(isa) {
        for (ci, (L, B, T, H, E, masked)) in cases.enumerated() {
          Kernels.setThreads(1)
          let walk = Self.run(L: L, B: B, T: T, H: H, E: E, masked: masked, stack: false, seed: 300 + UInt64(ci))
          for t in [1, 2, 3] {
            Kernels.setThreads(t)
            let wave = Self.run(L: L, B: B, T: T, H: H, E: E, masked: masked, stack: true, seed: 300 + UInt64(ci))
            if let msg = firstBitDifference(wave, walk) {
              Issue.record("L=\(L) B=\(B) T=\(T) H=\(H) \(isa) threads \(t): \(msg)")
            }
          }
        }
      }
    }
  }

  /// Where the wavefront runs: fp32 products, H a multiple of 64, at least two layers and two
  /// threads, and small per-step products.
  @Test func wavefrontRunsOnlyWhereItApplies() {
    // The thread count is passed, not set: other suites change the process's count meanwhile.
    Kernels.withISA(.portable) { #expect(!Float.lstmStackRuns(layers: 2, hidden: 128, batch: 50, threads: 2), "portable") }
    let fast = supportedISAs.first { $0 != .portable }
    guard let fast else { return }
    Kernels.withISA(fast) {
      #expect(Float.lstmStackRuns(layers: 2, hidden: 128, batch: 50, threads: 2))
      #expect(!Float.lstmStackRuns(layers: 1, hidden: 128, batch: 50, threads: 2), "one layer")
      #expect(!Float.lstmStackRuns(layers: 2, hidden: 96, batch: 50, threads: 2), "H not a multiple of 64")
      #expect(!Float.lstmStackRuns(layers: 2, hidden: 512, batch: 50, threads: 2), "a step's product splits well")
      Kernels.withPrecision(.bf16) { #expect(!Float.lstmStackRuns(layers: 2, hidden: 128, batch: 50, threads: 2), "bf16") }
      #expect(!Float.lstmStackRuns(layers: 2, hidden: 128, batch: 50, threads: 1), "one thread")
    }
    #expect(!Double.lstmStackRuns(layers: 2, hidden: 128, batch: 50, threads: 2))
  }

}
}
