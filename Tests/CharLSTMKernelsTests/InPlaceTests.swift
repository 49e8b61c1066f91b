import CharLSTMKernels
import Testing

/// Reading a row-major A in place (no packing copy) runs the same FMAs in the same order as the
/// packed path: the product of A equals the product of its stored transpose, bit for bit.
@Suite struct InPlaceTests {
  @Test func rowMajorAInPlaceEqualsThePackedPathBitForBit() {
    for (m, n, k) in [(1, 32, 7), (5, 100, 33), (6, 64, 300), (50, 512, 128), (13, 17, 260), (150, 96, 65)] {
      let plain = GemmCase(transA: false, transB: false, m: m, n: n, k: k, alpha: 1, beta: 1, pad: 0, seed: UInt64(m * 31 + n))
      var transposed = plain
      transposed.transA = true
      // op(A) = (Aᵀ)ᵀ: store Aᵀ (k×m) so the transposed path computes the same matrix product.
      transposed.a = (0..<(k * m)).map { idx in plain.a[(idx % m) * k + idx / m] }
      forEachPath { isa, threads in
        if let msg = firstBitDifference(plain.runFloat(), transposed.runFloat()) {
          Issue.record("m=\(m) n=\(n) k=\(k) on \(isa) threads=\(threads): in place vs packed A differ at \(msg)")
        }
      }
    }
  }
}
