import CharLSTMKernels
import Testing

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

extension KernelTests {
@Suite struct PointwiseTests {
  static let cellShapes: [(batch: Int, hidden: Int)] = [(1, 1), (3, 7), (5, 16), (4, 33), (100, 300)]

  @Test func lstmCellForwardMatchesReference() {
    forEachPath { isa, threads in
      for (bi, (batch, H)) in Self.cellShapes.enumerated() {
        var g = SeededGenerator(seed: 10 + UInt64(bi))
        let gates0 = randomFloats(batch * 4 * H, &g, scale: 8)
        let cPrev = randomFloats(batch * H, &g, scale: 3)
        var gates = gates0
        var c = [Float](repeating: 0, count: batch * H), tc = c, h = c
        Float.lstmCellForward(
          batch: batch, hidden: H, gates: &gates, cPrev: cPrev, c: &c, tanhC: &tc, h: &h)
        var gd = gates0.map(Double.init)
        var cd = [Double](repeating: 0, count: batch * H), tcd = cd, hd = cd
        Reference.lstmCellForward(
          batch: batch, hidden: H, gates: &gd, cPrev: cPrev.map(Double.init), c: &cd,
          tanhC: &tcd, h: &hd)
        for (name, got, want) in [
          ("gates", gates, gd), ("c", c, cd), ("tanhC", tc, tcd), ("h", h, hd),
        ] {
          if let msg = firstMismatch(got, want, abs: 1e-6, rel: 1e-6) {
            Issue.record("cell fwd \(name) B=\(batch) H=\(H) \(isa) threads=\(threads): \(msg)")
          }
        }
      }
    }
  }

  @Test func lstmCellBackwardMatchesReference() {
    forEachPath { isa, threads in
      for (bi, (batch, H)) in Self.cellShapes.enumerated() {
        var g = SeededGenerator(seed: 20 + UInt64(bi))
        // Activations in their ranges: σ in (0,1), tanh in (−1,1).
        let gates = (0..<(batch * 4 * H)).map { i -> Float in
          let u = g.nextUnitFloat()
          return (i / H) % 4 == 2 ? 2 * u - 1 : u
        }
        let cPrev = randomFloats(batch * H, &g, scale: 3)
        let tanhC = randomFloats(batch * H, &g)
        let dh = randomFloats(batch * H, &g)
        let dc0 = randomFloats(batch * H, &g)
        var dc = dc0
        var dG = [Float](repeating: .nan, count: batch * 4 * H)
        Float.lstmCellBackward(
          batch: batch, hidden: H, gates: gates, cPrev: cPrev, tanhC: tanhC, dh: dh, dc: &dc,
          dGates: &dG)
        var dcd = dc0.map(Double.init)
        var dGd = [Double](repeating: 0, count: batch * 4 * H)
        Reference.lstmCellBackward(
          batch: batch, hidden: H, gates: gates.map(Double.init), cPrev: cPrev.map(Double.init),
          tanhC: tanhC.map(Double.init), dh: dh.map(Double.init), dc: &dcd, dGates: &dGd)
        for (name, got, want) in [("dGates", dG, dGd), ("dc", dc, dcd)] {
          if let msg = firstMismatch(got, want, abs: 1e-6, rel: 1e-5) {
            Issue.record("cell bwd \(name) B=\(batch) H=\(H) \(isa) threads=\(threads): \(msg)")
          }
        }
      }
    }
  }

  @Test func softmaxCrossEntropyMatchesReference() {
    let shapes: [(Int, Int)] = [(1, 1), (3, 7), (5, 65), (4, 100), (7, 4000), (200, 1000)]
    forEachPath { isa, threads in
      for (si, (rows, cols)) in shapes.enumerated() {
        var g = SeededGenerator(seed: 30 + UInt64(si))
        var logits0 = randomFloats(rows * cols, &g, scale: 10)
        if rows > 2 {  // a row of huge logits: the max must be subtracted
          for j in 0..<cols { logits0[2 * cols + j] += 1000 }
        }
        let targets = (0..<rows).map { _ in Int32(g.next() % UInt64(cols)) }
        let scale: Float = 0.37
        var logits = logits0
        let loss = Float.softmaxCrossEntropy(
          rows: rows, cols: cols, logits: &logits, targets: targets, scale: scale)
        var ld = logits0.map(Double.init)
        let lossRef = Reference.softmaxCrossEntropy(
          rows: rows, cols: cols, logits: &ld, targets: targets, scale: Double(scale))
        if !(abs(loss - lossRef) <= 1e-5 * abs(lossRef) + 1e-5) {
          Issue.record("softmax loss \(rows)x\(cols) \(isa) threads=\(threads): \(loss) vs \(lossRef)")
        }
        if let msg = firstMismatch(logits, ld, abs: 1e-7, rel: 1e-5) {
          Issue.record("softmax grad \(rows)x\(cols) \(isa) threads=\(threads): \(msg)")
        }
      }
    }
  }

  @Test func columnSumsEqualReferenceExactly() {
    // Same summation order as the reference, so Float results are bit-identical.
    let shapes: [(Int, Int, Int)] = [(1, 1, 0), (3, 5, 2), (17, 70, 3), (2500, 300, 0), (9, 1000, 5)]
    forEachPath { isa, threads in
      for (si, (rows, cols, pad)) in shapes.enumerated() {
        var g = SeededGenerator(seed: 40 + UInt64(si))
        let lda = cols + pad
        let a = randomFloats(rows * lda, &g)
        let out0 = randomFloats(cols, &g)
        var out = out0, ref = out0
        Float.accumulateColumnSums(rows: rows, cols: cols, a: a, lda: lda, out: &out)
        Reference.accumulateColumnSums(rows: rows, cols: cols, a: a, lda: lda, out: &ref)
        if let msg = firstBitDifference(out, ref) {
          Issue.record("column sums \(rows)x\(cols) \(isa) threads=\(threads): \(msg)")
        }
      }
    }
  }

  @Test func pointwiseBitIdenticalAcrossThreadCounts() {
    let threads = Kernels.threads
    defer { Kernels.setThreads(threads) }
    var g = SeededGenerator(seed: 50)
    let (batch, H) = (100, 300)
    let gates0 = randomFloats(batch * 4 * H, &g, scale: 6)
    let cPrev = randomFloats(batch * H, &g)
    let (rows, cols) = (300, 1000)
    let logits0 = randomFloats(rows * cols, &g, scale: 5)
    let targets = (0..<rows).map { _ in Int32(g.next() % UInt64(cols)) }
    func run() -> [Float] {
      var gates = gates0
      var c = [Float](repeating: 0, count: batch * H), tc = c, h = c
      Float.lstmCellForward(
        batch: batch, hidden: H, gates: &gates, cPrev: cPrev, c: &c, tanhC: &tc, h: &h)
      var logits = logits0
      let loss = Float.softmaxCrossEntropy(
        rows: rows, cols: cols, logits: &logits, targets: targets, scale: 1)
      let lossBits = loss.bitPattern
      return gates + h + logits + [Float(bitPattern: UInt32(lossBits >> 32)),
        Float(bitPattern: UInt32(truncatingIfNeeded: lossBits))]
    }
    for isa in supportedISAs {
      Kernels.withISA(isa) {
        Kernels.setThreads(1)
        let base = run()
        for t in [1, 2, 2] {
          Kernels.setThreads(t)
          if let msg = firstBitDifference(base, run()) {
            Issue.record("pointwise on \(isa): threads 1 vs \(t) differ at \(msg)")
          }
        }
      }
    }
  }
}

}

extension KernelTests {
@Suite struct MathAccuracyTests {
  static let extremes: [Float] = [
    0, -0.0, 1e-8, -1e-8, 1e-30, -1e-30, 0.625, -0.625, 0.6249999, 1, -1, 9, -9, 20, -20, 44,
    -44, 88, -88, 88.7, -88.7, 100, -100, 1e10, -1e10, .greatestFiniteMagnitude,
    -.greatestFiniteMagnitude,
  ]

  static func sweep(_ lo: Float, _ hi: Float, _ n: Int) -> [Float] {
    (0...n).map { lo + (hi - lo) * Float($0) / Float(n) }
  }

  func check(
    _ name: String, _ f: ([Float]) -> [Float], _ ref: (Double) -> Double, _ xs: [Float],
    absTol: Double, relTol: Double, isa: Kernels.ISA
  ) {
    let ys = f(xs)
    var worst = 0.0
    for (i, x) in xs.enumerated() {
      let want = ref(Double(x)), got = Double(ys[i])
      if got.isNaN {
        Issue.record("\(name) \(isa): NaN for finite x=\(x) at index \(i)")
        return
      }
      let err = abs(got - want)
      if want.isInfinite || got.isInfinite {
        if got != want && !(want.isInfinite && got > 3.4e38) && !(got.isInfinite && want > 3.4e38) {
          Issue.record("\(name) \(isa): x=\(x) got \(got) want \(want) (index \(i))")
          return
        }
        continue
      }
      let tol = absTol + relTol * abs(want)
      worst = max(worst, err - tol)
      if !(err <= tol) {
        Issue.record("\(name) \(isa): first failure at index \(i), x=\(x): got \(got) want \(want), err \(err) > \(tol)")
        return
      }
    }
  }

  @Test func expWithinOneMillionthRelative() {
    let xs = Self.sweep(-88, 88, 400_000) + Self.extremes.filter { abs($0) <= 88 }
    for isa in supportedISAs {
      Kernels.withISA(isa) {
        // Below exp(−87.3) results are subnormal: an absolute bound of a few subnormal ulps.
        check("exp", Kernels.exp, { Foundation_exp($0) }, xs, absTol: 3e-45, relTol: 1e-6, isa: isa)
        // Saturation: tiny → 0, huge → +inf, never NaN.
        let sat = Kernels.exp([-1e10, -200, -104, 89, 200, 1e10, .greatestFiniteMagnitude])
        #expect(sat[0] == 0 && sat[1] == 0 && sat[2] == 0)
        #expect(sat[3] == .infinity && sat[4] == .infinity && sat[5] == .infinity && sat[6] == .infinity)
      }
    }
  }

  @Test func sigmoidAndTanhWithin2e7Absolute() {
    let xs = Self.sweep(-20, 20, 400_000) + Self.sweep(-1, 1, 100_000) + Self.extremes
    for isa in supportedISAs {
      Kernels.withISA(isa) {
        check("sigmoid", Kernels.sigmoid, { 1 / (1 + Foundation_exp(-$0)) }, xs, absTol: 2e-7,
          relTol: 0, isa: isa)
        check("tanh", Kernels.tanh, { Foundation_tanh($0) }, xs, absTol: 2e-7, relTol: 0, isa: isa)
        // Small arguments keep their relative precision (tanh x ≈ x).
        let tiny: [Float] = [1e-8, -1e-8, 1e-20, -3e-5]
        let t = Kernels.tanh(tiny)
        for (x, y) in zip(tiny, t) { #expect(abs(y - x) <= abs(x) * 1e-6, "tanh(\(x)) = \(y) on \(isa)") }
        let s = Kernels.sigmoid([-100, 100, 0])
        #expect(s[0] >= 0 && s[0] < 1e-30 && s[1] == 1 && s[2] == 0.5)
        let th = Kernels.tanh([-100, 100, 0])
        #expect(th[0] == -1 && th[1] == 1 && th[2] == 0)
      }
    }
  }
}

}

@inline(__always) func Foundation_exp(_ x: Double) -> Double { exp(x) }
@inline(__always) func Foundation_tanh(_ x: Double) -> Double { tanh(x) }
