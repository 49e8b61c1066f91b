import CharLSTMKernels
import Testing

/// One GEMM problem with padded strides, and its Double reference.
struct GemmCase: CustomStringConvertible {
  var transA: Bool, transB: Bool
  var m: Int, n: Int, k: Int
  var alpha: Float, beta: Float
  var pad: Int
  var a: [Float], b: [Float], c0: [Float]
  var lda: Int { (transA ? m : k) + pad }
  var ldb: Int { (transB ? k : n) + pad }
  var ldc: Int { n + pad }

  var description: String {
    "tA=\(transA) tB=\(transB) m=\(m) n=\(n) k=\(k) α=\(alpha) β=\(beta) pad=\(pad)"
  }

  init(
    transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float, beta: Float, pad: Int,
    seed: UInt64
  ) {
    self.transA = transA
    self.transB = transB
    self.m = m
    self.n = n
    self.k = k
    self.alpha = alpha
    self.beta = beta
    self.pad = pad
    var g = SeededGenerator(seed: seed)
    let aRows = transA ? k : m, bRows = transB ? n : k
    a = randomFloats(aRows * ((transA ? m : k) + pad), &g)
    b = randomFloats(bRows * ((transB ? k : n) + pad), &g)
    c0 = randomFloats(m * (n + pad), &g)
    if beta == 0 { c0 = c0.map { _ in .nan } }  // beta 0 must ignore C, even NaN
  }

  /// Reference result in Double, and Σ|α·a·b| + |β·c| per element for the error bound.
  func reference() -> (value: [Double], bound: [Double]) {
    let ad = a.map(Double.init), bd = b.map(Double.init)
    var cd = c0.map(Double.init)
    if beta == 0 { cd = cd.map { _ in 0 } }
    var bound = cd.map { Swift.abs(Double(beta) * $0) }
    Reference.gemm(
      transA: transA, transB: transB, m: m, n: n, k: k, alpha: Double(alpha), a: ad, lda: lda,
      b: bd, ldb: ldb, beta: Double(beta), c: &cd, ldc: ldc)
    Reference.gemm(
      transA: transA, transB: transB, m: m, n: n, k: k, alpha: Double(Swift.abs(alpha)),
      a: ad.map(Swift.abs), lda: lda, b: bd.map(Swift.abs), ldb: ldb, beta: 1, c: &bound,
      ldc: ldc)
    return (cd, bound)
  }

  func runFloat() -> [Float] {
    var c = c0
    Float.gemm(
      transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b,
      ldb: ldb, beta: beta, c: &c, ldc: ldc)
    return c
  }

  /// Compares the m×n part; the padding columns of C must be untouched.
  func check(_ got: [Float], _ ref: (value: [Double], bound: [Double])) -> String? {
    var g: [Float] = [], w: [Double] = [], bd: [Double] = []
    for i in 0..<m {
      for j in 0..<ldc {
        let idx = i * ldc + j
        if j < n {
          g.append(got[idx])
          w.append(ref.value[idx])
          bd.append(ref.bound[idx])
        } else if got[idx].bitPattern != c0[idx].bitPattern {
          return "padding of C changed at row \(i) col \(j)"
        }
      }
    }
    return firstMismatch(g, w, abs: 1e-6, rel: 3e-6, bound: bd)
  }
}

/// ISA and thread settings are process-global: all kernel suites nest in one serialized suite.
@Suite(.serialized) struct KernelTests {}

extension KernelTests {
@Suite struct GemmTests {
  static let shapes: [(Int, Int, Int)] = [
    (1, 1, 1), (1, 37, 19), (23, 1, 19), (17, 29, 1), (5, 7, 3), (13, 33, 17), (14, 32, 8),
    (15, 31, 40), (29, 65, 33), (37, 64, 300), (50, 96, 130), (141, 70, 20), (150, 300, 70),
    (3, 520, 9),
  ]

  @Test func gemmMatchesReferenceOnAllPaths() {
    var cases: [GemmCase] = []
    var seed: UInt64 = 100
    for (m, n, k) in Self.shapes {
      for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
        for (alpha, beta) in [(Float(1), Float(0)), (1, 1), (-0.5, 0.75)] {
          seed += 1
          cases.append(
            GemmCase(
              transA: ta, transB: tb, m: m, n: n, k: k, alpha: alpha, beta: beta,
              pad: Int(seed % 3) * 2 + (seed % 2 == 0 ? 0 : 1), seed: seed))
        }
      }
    }
    let refs = cases.map { $0.reference() }
    forEachPath { isa, threads in
      for (cs, ref) in zip(cases, refs) {
        let got = cs.runFloat()
        if let msg = cs.check(got, ref) {
          Issue.record("gemm \(cs) on \(isa) threads=\(threads): \(msg)")
          return
        }
      }
    }
  }

  /// A right-hand matrix of few panels and many rows (the weight gradients' B = X or H_prev
  /// has k = T·B rows) is packed in pieces of 256 rows: every piece lands where it belongs,
  /// last pieces of 9 and 1 rows and transposed strips that end mid-strip included, in fp32
  /// and (rounding as it packs) in bf16.
  @Test func tallRightHandMatricesArePackedInRowPieces() {
    let shapes: [(Bool, Bool, Int, Int, Int)] = [
      (true, false, 64, 65, 2500), (false, false, 20, 128, 777), (false, true, 20, 128, 777),
      (false, true, 3, 33, 513), (true, false, 40, 16, 1030),
    ]
    for (i, (ta, tb, m, n, k)) in shapes.enumerated() {
      let cs = GemmCase(transA: ta, transB: tb, m: m, n: n, k: k, alpha: 1, beta: 1, pad: i % 2, seed: 900 + UInt64(i))
      let ref = cs.reference()
      var rounded = cs
      rounded.a = cs.a.map(Kernels.roundedToBF16)
      rounded.b = cs.b.map(Kernels.roundedToBF16)
      let roundedRef = rounded.reference()
      forEachPath { isa, threads in
        if let msg = cs.check(cs.runFloat(), ref) { Issue.record("fp32 \(cs) on \(isa) threads=\(threads): \(msg)") }
        let bf16 = Kernels.withPrecision(.bf16) { cs.runFloat() }
        if let msg = cs.check(bf16, roundedRef) { Issue.record("bf16 \(cs) on \(isa) threads=\(threads): \(msg)") }
      }
    }
  }

  @Test func gemmBitIdenticalAcrossRunsAndThreadCounts() {
    let cases = [
      GemmCase(
        transA: false, transB: true, m: 300, n: 290, k: 300, alpha: 1, beta: 0, pad: 1, seed: 5),
      GemmCase(
        transA: true, transB: false, m: 260, n: 70, k: 600, alpha: 1, beta: 1, pad: 0, seed: 6),
    ]
    let threads = Kernels.threads
    defer { Kernels.setThreads(threads) }
    for isa in supportedISAs {
      Kernels.withISA(isa) {
        for cs in cases {
          Kernels.setThreads(1)
          let base = cs.runFloat()
          for t in [1, 2, 2, 3] {
            Kernels.setThreads(t)
            if let msg = firstBitDifference(base, cs.runFloat()) {
              Issue.record("\(cs) on \(isa): threads 1 vs \(t) differ at \(msg)")
            }
          }
        }
      }
    }
  }

  @Test func packedGemmMatchesReference() {
    struct Case {
      var m: Int, n: Int, k: Int, transB: Bool, alpha: Float, beta: Float, pad: Int, offset: Int
      var a: [Float], b: [Float], c0: [Float]
      var ref: [Double] = [], bound: [Double] = []
      var lda: Int { k + pad }
      var ldb: Int { (transB ? k : n) + pad }
      var ldc: Int { n + pad }
    }
    var cases: [Case] = []
    var seed: UInt64 = 900
    let shapes: [(Int, Int, Int)] = [
      (1, 1, 1), (50, 512, 128), (32, 100, 33), (7, 65, 300), (3, 1, 5), (150, 260, 70),
    ]
    for (m, n, k) in shapes {
      for transB in [true, false] {
        for (alpha, beta) in [(Float(1), Float(0)), (1, 1), (2, -1)] {
          seed += 1
          var g = SeededGenerator(seed: seed)
          let pad = Int(seed % 3)
          let ldb = (transB ? k : n) + pad
          var cs = Case(
            m: m, n: n, k: k, transB: transB, alpha: alpha, beta: beta, pad: pad,
            offset: 4 * Int(seed % 2), a: randomFloats(m * (k + pad), &g),
            b: randomFloats((transB ? n : k) * ldb, &g), c0: randomFloats(m * (n + pad), &g))
          var cd = cs.c0.map(Double.init)
          var bound = cd.map { Swift.abs(Double(beta) * $0) }
          Reference.gemm(
            transA: false, transB: transB, m: m, n: n, k: k, alpha: Double(alpha),
            a: cs.a.map(Double.init), lda: cs.lda, b: cs.b.map(Double.init), ldb: ldb,
            beta: Double(beta), c: &cd, ldc: cs.ldc)
          Reference.gemm(
            transA: false, transB: transB, m: m, n: n, k: k, alpha: Double(Swift.abs(alpha)),
            a: cs.a.map { Double(Swift.abs($0)) }, lda: cs.lda,
            b: cs.b.map { Double(Swift.abs($0)) }, ldb: ldb, beta: 1, c: &bound, ldc: cs.ldc)
          cs.ref = cd
          cs.bound = bound
          cases.append(cs)
        }
      }
    }
    forEachPath { isa, threads in
      for cs in cases {
        // Pack with another ISA than the product: the layout is ISA-neutral.
        let bytes = Float.packedByteCount(k: cs.k, n: cs.n)
        let packed = UnsafeMutableRawPointer.allocate(byteCount: bytes + 4, alignment: 4)
        defer { packed.deallocate() }
        let p = packed + cs.offset  // also buffers that are not 8-byte aligned
        Kernels.withISA(supportedISAs.last!) {
          Float.pack(transB: cs.transB, k: cs.k, n: cs.n, b: cs.b, ldb: cs.ldb, into: p)
        }
        var c = cs.c0
        Float.gemmPacked(
          m: cs.m, n: cs.n, k: cs.k, alpha: cs.alpha, a: cs.a, lda: cs.lda, packed: p,
          beta: cs.beta, c: &c, ldc: cs.ldc)
        let what = "packed m=\(cs.m) n=\(cs.n) k=\(cs.k) transB=\(cs.transB) α=\(cs.alpha) β=\(cs.beta)"
        for i in 0..<cs.m {
          for j in cs.n..<cs.ldc where c[i * cs.ldc + j].bitPattern != cs.c0[i * cs.ldc + j].bitPattern {
            Issue.record("\(what): padding changed at \(i),\(j)")
          }
        }
        if let msg = firstMismatch(c, cs.ref, abs: 1e-6, rel: 3e-6, bound: cs.bound) {
          Issue.record("\(what) on \(isa) threads=\(threads): \(msg)")
        }
      }
    }
  }
}
}
