import CharLSTMKernels
import Testing

/// Products with bf16-packed weights (generation): every row against a plain loop that does
/// the kernel's arithmetic exactly — the sum from zero in k order, fused multiply-adds on AVX2
/// and above, separate multiply and add on the portable path — so each row's bits are fixed by
/// its own inputs: the same alone, in any row of a batch of any height, with any thread count.
@Suite struct BF16WeightsTests {
  /// The kernel's result for one element, computed here one operation at a time.
  static func exact(_ isa: Kernels.ISA, a: ArraySlice<Float>, column: [Float], alpha: Float, beta: Float, c: Float) -> Float {
    var acc: Float = 0
    let fused = isa != .portable
    for (x, w) in zip(a, column) { acc = fused ? acc.addingProduct(x, w) : acc + x * w }
    let v = alpha * acc
    return beta == 0 ? v : v + beta * c
  }

  struct Case {
    var m: Int, n: Int, k: Int
    var alpha: Float = 1, beta: Float = 1
  }

  /// Heights across every block split (1–7, 11–13, 31–33, one past 64 blocks of 6), widths
  /// with a narrow last panel and with tasks of several panels (the one-row path pairs them),
  /// odd k, the generation shapes (k = 512, n = 2048; the head's n = 65), α, β ≠ 1, and an
  /// empty sum (k = 0: C = β·C).
  static let cases: [Case] = [
    Case(m: 1, n: 1, k: 1), Case(m: 1, n: 545, k: 37), Case(m: 2, n: 545, k: 37), Case(m: 3, n: 97, k: 37),
    Case(m: 4, n: 545, k: 5), Case(m: 5, n: 33, k: 64), Case(m: 6, n: 545, k: 37), Case(m: 7, n: 545, k: 37),
    Case(m: 11, n: 65, k: 128), Case(m: 12, n: 512, k: 29), Case(m: 13, n: 545, k: 37), Case(m: 31, n: 65, k: 512),
    Case(m: 32, n: 2048, k: 512), Case(m: 1, n: 2048, k: 512), Case(m: 33, n: 545, k: 37), Case(m: 389, n: 70, k: 9),
    Case(m: 9, n: 545, k: 37, alpha: 2, beta: -0.5), Case(m: 1, n: 545, k: 37, alpha: 0.5, beta: 0), Case(m: 3, n: 40, k: 0, beta: -0.5),
  ]

  @Test func everyRowIsThePlainLoopsResultOnEveryPath() {
    let threads = Kernels.threads
    defer { Kernels.setThreads(threads) }
    var g = SeededGenerator(seed: 91)
    for cs in Self.cases {
      let (m, n, k) = (cs.m, cs.n, cs.k)
      let a = (0..<(m * k)).map { _ in g.nextUnitFloat() * 2 - 1 }
      let w = (0..<(n * k)).map { _ in g.nextUnitFloat() * 2 - 1 }  // [n, k]: Wᵀ is packed
      let c0 = (0..<(m * n)).map { _ in g.nextUnitFloat() * 2 - 1 }
      let columns = (0..<n).map { j in (0..<k).map { Kernels.roundedToBF16(w[j * k + $0]) } }
      let packed = UnsafeMutableRawPointer.allocate(byteCount: Float.packedBF16ByteCount(k: k, n: n), alignment: 64)
      defer { packed.deallocate() }
      Float.packBF16(transB: true, k: k, n: n, b: w, ldb: k, into: packed)
      for isa in supportedISAs {
        let want = (0..<(m * n)).map { e in
          Self.exact(isa, a: a[(e / n * k)..<(e / n * k + k)], column: columns[e % n], alpha: cs.alpha, beta: cs.beta, c: c0[e])
        }
        for t in [1, 2] {
          Kernels.setThreads(t)
          var c = c0
          Kernels.withISA(isa) {
            Float.gemmPackedBF16(m: m, n: n, k: k, alpha: cs.alpha, a: a, lda: k, packed: packed, beta: cs.beta, c: &c, ldc: n)
          }
          if let e = (0..<(m * n)).first(where: { c[$0].bitPattern != want[$0].bitPattern }) {
            Issue.record("m \(m) n \(n) k \(k) on \(isa), \(t) thread(s): row \(e / n) column \(e % n) is \(c[e]), the plain loop gives \(want[e])")
          }
        }
      }
    }
  }

  /// A row of a batch gives the bits it gives alone, whatever row it is in and however many
  /// rows there are (what lets a server batch its clients without changing their texts).
  @Test func aRowsResultDoesNotDependOnTheOtherRows() {
    var g = SeededGenerator(seed: 92)
    let (n, k) = (2048, 512)
    let w = (0..<(n * k)).map { _ in g.nextUnitFloat() * 2 - 1 }
    let packed = UnsafeMutableRawPointer.allocate(byteCount: Float.packedBF16ByteCount(k: k, n: n), alignment: 64)
    defer { packed.deallocate() }
    Float.packBF16(transB: true, k: k, n: n, b: w, ldb: k, into: packed)
    let row = (0..<k).map { _ in g.nextUnitFloat() * 2 - 1 }
    for isa in supportedISAs {
      Kernels.withISA(isa) {
        var alone = [Float](repeating: 0, count: n)
        Float.gemmPackedBF16(m: 1, n: n, k: k, alpha: 1, a: row, lda: k, packed: packed, beta: 0, c: &alone, ldc: n)
        for (m, at) in [(2, 1), (6, 5), (7, 6), (32, 0), (32, 17), (33, 32)] {
          var a = (0..<(m * k)).map { _ in g.nextUnitFloat() * 2 - 1 }
          for p in 0..<k { a[at * k + p] = row[p] }
          var c = [Float](repeating: 0, count: m * n)
          Float.gemmPackedBF16(m: m, n: n, k: k, alpha: 1, a: a, lda: k, packed: packed, beta: 0, c: &c, ldc: n)
          if let j = (0..<n).first(where: { c[at * n + $0].bitPattern != alone[$0].bitPattern }) {
            Issue.record("\(isa): row \(at) of \(m), column \(j): \(c[at * n + j]) vs \(alone[j]) alone")
          }
        }
      }
    }
  }
}
