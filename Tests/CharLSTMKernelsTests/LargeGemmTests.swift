import CharLSTMKernels
import Testing

extension KernelTests {
  /// The Float GEMM at training sizes: m = 2,500 rows (B 50 × T 50) or G = 2,048, i.e. at least
  /// 8 row tiles of mc rows (mc 140 avx512, 144 avx2, 128 portable), the branch of run_gemm
  /// where each task owns a row tile over all columns (`J.n_ic >= 8`), with partial last tiles
  /// (2,500 is no multiple of any mc) and narrow last panels (n = 130, 100). On every supported
  /// ISA with 1 and 2 threads, against a Double reference, and bit-identical across thread
  /// counts. The portable path on x86 (mrmax 2, mc 128) fills all 64 row blocks of a tile.
  @Suite struct LargeGemmTests {
    /// (transA, transB, m, n, k, α, β): the forward input projection x·W_ihᵀ of H 128 (gates
    /// start from the bias: β 1), the data gradient dGates·W_ih, the weight gradient
    /// dGatesᵀ·x of H 512, E 64 over T·B = 2,500 rows (A transposed, accumulating: β 1), and a
    /// transposed A with 2,500 output rows and general α, β.
    static let shapes: [(Bool, Bool, Int, Int, Int, Float, Float)] = [
      (false, true, 2500, 512, 128, 1, 1),
      (false, false, 2500, 130, 512, 1, 0),
      (true, false, 2048, 64, 2500, 1, 1),
      (true, true, 2500, 100, 200, -0.5, 0.75),
    ]

    /// C = α·op(A)·op(B) + β·C in Double, and Σ|α·a·b| + |β·c| per element (the error bound's
    /// scale), both in one pass over op(A) and op(B) copied to row-major Double matrices.
    static func reference(_ cs: GemmCase) -> (value: [Double], bound: [Double]) {
      let (m, n, k) = (cs.m, cs.n, cs.k)
      var opA = [Double](repeating: 0, count: m * k), opB = [Double](repeating: 0, count: k * n)
      for i in 0..<m {
        for p in 0..<k { opA[i * k + p] = Double(cs.transA ? cs.a[p * cs.lda + i] : cs.a[i * cs.lda + p]) }
      }
      for p in 0..<k {
        for j in 0..<n { opB[p * n + j] = Double(cs.transB ? cs.b[j * cs.ldb + p] : cs.b[p * cs.ldb + j]) }
      }
      var value = cs.c0.map(Double.init), bound = value
      let acc = UnsafeMutableBufferPointer<Double>.allocate(capacity: n)
      let mag = UnsafeMutableBufferPointer<Double>.allocate(capacity: n)
      defer {
        acc.deallocate()
        mag.deallocate()
      }
      opA.withUnsafeBufferPointer { a in
        opB.withUnsafeBufferPointer { b in
          for i in 0..<m {
            for j in 0..<n {
              acc[j] = 0
              mag[j] = 0
            }
            for p in 0..<k {
              let av = a[i * k + p]
              let row = p * n
              for j in 0..<n {
                acc[j] += av * b[row + j]
                mag[j] += Swift.abs(av * b[row + j])
              }
            }
            for j in 0..<n {
              let old = cs.beta == 0 ? 0 : Double(cs.beta) * value[i * cs.ldc + j]
              bound[i * cs.ldc + j] = Swift.abs(Double(cs.alpha)) * mag[j] + Swift.abs(old)
              value[i * cs.ldc + j] = Double(cs.alpha) * acc[j] + old
            }
          }
        }
      }
      return (value, bound)
    }

    @Test func trainingSizedGemmMatchesReferenceOnAllPaths() {
      var seed: UInt64 = 2500
      let cases = Self.shapes.map { s -> GemmCase in
        seed += 1
        return GemmCase(transA: s.0, transB: s.1, m: s.2, n: s.3, k: s.4, alpha: s.5, beta: s.6, pad: Int(seed % 3), seed: seed)
      }
      let refs = cases.map(Self.reference)
      var oneThread: [String: [Float]] = [:]
      forEachPath { isa, threads in
        for (cs, ref) in zip(cases, refs) {
          let got = cs.runFloat()
          if let msg = cs.check(got, ref) {
            Issue.record("gemm \(cs) on \(isa) threads=\(threads): \(msg)")
          }
          let key = "\(isa) \(cs)"
          if threads == 1 {
            oneThread[key] = got
          } else if let base = oneThread[key], let msg = firstBitDifference(base, got) {
            Issue.record("gemm \(cs) on \(isa): threads 1 and \(threads) differ at \(msg)")
          }
        }
      }
    }
  }
}
