import CharLSTMKernels
import Testing

extension KernelTests {
/// The fused recurrent steps (`lstmStepForward` / `lstmStepBackward`: the recurrent product and
/// the cell per block of hidden units) against the two calls they replace, bit for bit, and
/// against the Double reference.
@Suite struct RecurrentStepTests {
  /// (B, H): H a multiple of 32 takes the fused path (1, 2 and 32 blocks; B = 1, B above the
  /// AVX-512 row tile of 140, B not a multiple of the microkernel height), other H the fallback.
  static let shapes: [(batch: Int, hidden: Int)] = [
    (1, 32), (50, 64), (3, 128), (150, 32), (13, 1024), (50, 48), (7, 33), (2, 1),
  ]

  /// Runs T = 3 forward steps, then the backward walk, with the fused calls (`fused`) or with
  /// gemmPacked + the cell calls; returns every output buffer concatenated.
  static func run(batch B: Int, hidden H: Int, fused: Bool, seed: UInt64) -> [Float] {
    let G = 4 * H, T = 3
    var g = SeededGenerator(seed: seed)
    let w = randomFloats(G * H, &g, scale: 0.5)  // W_hh [G, H]
    var gates = randomFloats(T * B * G, &g, scale: 2)  // input projections, then activations
    var cells = randomFloats((T + 1) * B * H, &g)  // block 0: c_0
    var hidden = randomFloats((T + 1) * B * H, &g)  // block 0: h_0
    var tanhC = [Float](repeating: 0, count: T * B * H)
    var dHidden = randomFloats(T * B * H, &g)
    var dc = [Float](repeating: 0, count: B * H)
    var dGates = [Float](repeating: .nan, count: T * B * G)
    let fwdBytes = Float.packedByteCount(k: H, n: G), bwdBytes = Float.packedByteCount(k: G, n: H)
    let fwdPacked = UnsafeMutableRawPointer.allocate(byteCount: fwdBytes, alignment: 64)
    let bwdPacked = UnsafeMutableRawPointer.allocate(byteCount: bwdBytes, alignment: 64)
    defer { fwdPacked.deallocate(); bwdPacked.deallocate() }
    w.withUnsafeBufferPointer { wp in
      Float.pack(transB: true, k: H, n: G, b: wp.baseAddress!, ldb: H, into: fwdPacked)
      Float.pack(transB: false, k: G, n: H, b: wp.baseAddress!, ldb: H, into: bwdPacked)
    }
    gates.withUnsafeMutableBufferPointer { z in
      cells.withUnsafeMutableBufferPointer { c in
        hidden.withUnsafeMutableBufferPointer { h in
          tanhC.withUnsafeMutableBufferPointer { tc in
            dHidden.withUnsafeMutableBufferPointer { dh in
              dc.withUnsafeMutableBufferPointer { dcp in
                dGates.withUnsafeMutableBufferPointer { dz in
                  let (z, c, h, tc, dh, dcp, dz) = (
                    z.baseAddress!, c.baseAddress!, h.baseAddress!, tc.baseAddress!,
                    dh.baseAddress!, dcp.baseAddress!, dz.baseAddress!)
                  for t in 0..<T {
                    if fused {
                      Float.lstmStepForward(
                        batch: B, hidden: H, hPrev: h + t * B * H, packed: fwdPacked,
                        gates: z + t * B * G, cPrev: c + t * B * H, c: c + (t + 1) * B * H,
                        tanhC: tc + t * B * H, h: h + (t + 1) * B * H)
                    } else {
                      Float.gemmPacked(
                        m: B, n: G, k: H, alpha: 1, a: h + t * B * H, lda: H, packed: fwdPacked,
                        beta: 1, c: z + t * B * G, ldc: G)
                      Float.lstmCellForward(
                        batch: B, hidden: H, gates: z + t * B * G, cPrev: c + t * B * H,
                        c: c + (t + 1) * B * H, tanhC: tc + t * B * H, h: h + (t + 1) * B * H)
                    }
                  }
                  for t in stride(from: T - 1, through: 0, by: -1) {
                    let next: UnsafePointer<Float>? = t < T - 1 ? UnsafePointer(dz + (t + 1) * B * G) : nil
                    if fused {
                      Float.lstmStepBackward(
                        batch: B, hidden: H, dGatesNext: next, packed: bwdPacked,
                        dh: dh + t * B * H, gates: z + t * B * G, cPrev: c + t * B * H,
                        tanhC: tc + t * B * H, dc: dcp, dGates: dz + t * B * G)
                    } else {
                      if let next {
                        Float.gemmPacked(
                          m: B, n: H, k: G, alpha: 1, a: next, lda: G, packed: bwdPacked, beta: 1,
                          c: dh + t * B * H, ldc: H)
                      }
                      Float.lstmCellBackward(
                        batch: B, hidden: H, gates: z + t * B * G, cPrev: c + t * B * H,
                        tanhC: tc + t * B * H, dh: dh + t * B * H, dc: dcp, dGates: dz + t * B * G)
                    }
                  }
                }
              }
            }
          }
        }
      }
    }
    return gates + cells + hidden + tanhC + dHidden + dc + dGates
  }

  /// The same walk in Double on the reference loops (the protocol's default, unfused steps).
  static func reference(batch B: Int, hidden H: Int, seed: UInt64, roundWeights: Bool) -> [Double] {
    let G = 4 * H, T = 3
    var g = SeededGenerator(seed: seed)
    let w = randomFloats(G * H, &g, scale: 0.5).map { Double(roundWeights ? Kernels.roundedToBF16($0) : $0) }
    var z = randomFloats(T * B * G, &g, scale: 2).map(Double.init)
    var c = randomFloats((T + 1) * B * H, &g).map(Double.init)
    var h = randomFloats((T + 1) * B * H, &g).map(Double.init)
    var tc = [Double](repeating: 0, count: T * B * H)
    var dh = randomFloats(T * B * H, &g).map(Double.init)
    var dc = [Double](repeating: 0, count: B * H)
    var dz = [Double](repeating: 0, count: T * B * G)
    var wT = [Double](repeating: 0, count: H * G)  // W_hhᵀ [H, G]
    for r in 0..<G { for j in 0..<H { wT[j * G + r] = w[r * H + j] } }
    for t in 0..<T {
      z.withUnsafeMutableBufferPointer { zp in
        Reference.gemm(
          transA: false, transB: false, m: B, n: G, k: H, alpha: 1, a: Array(h[(t * B * H)...]), lda: H,
          b: wT, ldb: G, beta: 1, c: zp.baseAddress! + t * B * G, ldc: G)
      }
      var zt = Array(z[(t * B * G)..<((t + 1) * B * G)])
      var ct = [Double](repeating: 0, count: B * H), tct = ct, ht = ct
      Reference.lstmCellForward(
        batch: B, hidden: H, gates: &zt, cPrev: Array(c[(t * B * H)..<((t + 1) * B * H)]), c: &ct,
        tanhC: &tct, h: &ht)
      z.replaceSubrange((t * B * G)..<((t + 1) * B * G), with: zt)
      c.replaceSubrange(((t + 1) * B * H)..<((t + 2) * B * H), with: ct)
      tc.replaceSubrange((t * B * H)..<((t + 1) * B * H), with: tct)
      h.replaceSubrange(((t + 1) * B * H)..<((t + 2) * B * H), with: ht)
    }
    for t in stride(from: T - 1, through: 0, by: -1) {
      if t < T - 1 {
        dh.withUnsafeMutableBufferPointer { dhp in
          Reference.gemm(
            transA: false, transB: false, m: B, n: H, k: G, alpha: 1, a: Array(dz[((t + 1) * B * G)...]),
            lda: G, b: w, ldb: H, beta: 1, c: dhp.baseAddress! + t * B * H, ldc: H)
        }
      }
      var dzt = [Double](repeating: 0, count: B * G)
      Reference.lstmCellBackward(
        batch: B, hidden: H, gates: Array(z[(t * B * G)..<((t + 1) * B * G)]),
        cPrev: Array(c[(t * B * H)..<((t + 1) * B * H)]), tanhC: Array(tc[(t * B * H)..<((t + 1) * B * H)]),
        dh: Array(dh[(t * B * H)..<((t + 1) * B * H)]), dc: &dc, dGates: &dzt)
      dz.replaceSubrange((t * B * G)..<((t + 1) * B * G), with: dzt)
    }
    return z + c + h + tc + dh + dc + dz
  }

  @Test func fusedStepsEqualTheUnfusedCallsBitForBit() {
    forEachPath { isa, threads in
      for precision in Kernels.Precision.allCases {
        Kernels.withPrecision(precision) {
          for (si, (B, H)) in Self.shapes.enumerated() {
            let seed = 100 + UInt64(si)
            let unfused = Self.run(batch: B, hidden: H, fused: false, seed: seed)
            for t in [threads, 3] {
              Kernels.setThreads(t)
              let fused = Self.run(batch: B, hidden: H, fused: true, seed: seed)
              if let msg = firstBitDifference(fused, unfused) {
                Issue.record("B=\(B) H=\(H) \(isa) \(precision) threads \(t) against the unfused calls on \(threads): \(msg)")
              }
            }
            Kernels.setThreads(threads)
          }
        }
      }
    }
  }

  /// The fused steps compute the recurrence: against Double on the reference loops (fp32
  /// tolerance; bf16 rounds the operands, so it is checked against a reference with rounded
  /// weights and a looser bound).
  @Test func fusedStepsMatchTheDoubleReference() {
    forEachPath { isa, threads in
      for precision in Kernels.Precision.allCases {
        for (si, (B, H)) in Self.shapes.enumerated() where H <= 128 {
          let seed = 200 + UInt64(si)
          let got = Kernels.withPrecision(precision) { Self.run(batch: B, hidden: H, fused: true, seed: seed) }
          let want = Self.reference(batch: B, hidden: H, seed: seed, roundWeights: precision == .bf16)
          let tol = precision == .fp32 ? 2e-4 : 2e-2
          if let msg = firstMismatch(got, want, abs: tol, rel: tol) {
            Issue.record("B=\(B) H=\(H) \(isa) \(precision) threads \(threads): \(msg)")
          }
        }
      }
    }
  }
}
}
