import CharLSTMKernels

/// Every ISA path this process can run, best first.
let supportedISAs: [Kernels.ISA] = Kernels.ISA.allCases.reversed().filter(\.isSupported)

/// Runs `body` on every supported ISA path (this thread only: tests running in parallel keep
/// their own path) with 1 and 2 threads, restoring the thread count after.
func forEachPath(_ body: (Kernels.ISA, Int) throws -> Void) rethrows {
  let threads = Kernels.threads
  defer { Kernels.setThreads(threads) }
  for isa in supportedISAs {
    try Kernels.withISA(isa) {
      for t in [1, 2] {
        Kernels.setThreads(t)
        try body(isa, t)
      }
    }
  }
}

func randomFloats(_ n: Int, _ g: inout SeededGenerator, scale: Float = 1) -> [Float] {
  (0..<n).map { _ in (g.nextUnitFloat() * 2 - 1) * scale }
}

/// First index where `|got − want| > abs + rel·|want|` (or a NaN mismatch), as a message.
func firstMismatch(
  _ got: [Float], _ want: [Double], abs: Double, rel: Double = 0, bound: [Double]? = nil
) -> String? {
  precondition(got.count == want.count)
  for i in got.indices {
    let g = Double(got[i]), w = want[i]
    let tol = abs + rel * Swift.abs(w) + (bound.map { rel * $0[i] } ?? 0)
    if g.isNaN != w.isNaN || (!w.isNaN && !(Swift.abs(g - w) <= tol)) {
      return "index \(i): got \(g), want \(w), |diff| \(Swift.abs(g - w)) > tol \(tol)"
    }
  }
  return nil
}

/// Bit-level equality; the first differing index as a message.
func firstBitDifference(_ a: [Float], _ b: [Float]) -> String? {
  if a.count != b.count { return "counts \(a.count) vs \(b.count)" }
  for i in a.indices where a[i].bitPattern != b[i].bitPattern {
    return "index \(i): \(a[i]) vs \(b[i])"
  }
  return nil
}
