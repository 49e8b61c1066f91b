import ArgumentParser
import CharLSTMKernels

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// `charlstm-bench kernels`: GFLOP/s of the Float GEMM kernels on the LSTM's shapes.
struct KernelBench: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "kernels",
    abstract: "Times the Float GEMM kernels on the LSTM shapes with 1 and 2 threads.")

  @Option(help: "Per-core fp32 FMA peak used for the % column, in GFLOP/s (above 0, at most 1,000,000).")
  var peak: Double = 268

  @Option(help: "Minimum seconds of timed work per measurement (above 0, at most 60).")
  var seconds: Double = 0.25

  @Option(help: "Comma-separated thread counts, each 1 to 1024.")
  var threads: String = "1,2"

  @Option(help: "Comma-separated configurations among S, M, L.")
  var configs: String = "S,M,L"

  func validate() throws {
    if !(peak > 0 && peak <= 1e6) { throw ValidationError("--peak \(peak) is invalid: expected GFLOP/s above 0 and at most 1,000,000, e.g. 268") }
    if !(seconds > 0 && seconds <= 60) { throw ValidationError("--seconds \(seconds) is invalid: expected a number above 0 and at most 60, e.g. 0.25") }
    let counts = threads.split(separator: ",", omittingEmptySubsequences: false)
    if counts.isEmpty || counts.contains(where: { Int($0).map { !(1...1024).contains($0) } ?? true }) {
      throw ValidationError("--threads \(threads) is invalid: expected comma-separated thread counts, each from 1 to 1024, e.g. 1,2")
    }
    let names = configs.split(separator: ",", omittingEmptySubsequences: false).map { $0.uppercased() }
    if names.isEmpty || names.contains(where: { !["S", "M", "L"].contains($0) }) {
      throw ValidationError("--configs \(configs) is invalid: expected comma-separated configurations among S, M, L, e.g. S,M")
    }
  }

  struct Shape {
    var name: String
    var transA = false
    var transB = false
    var packed = false
    var m: Int, n: Int, k: Int
    var beta: Float = 0
  }

  func run() throws {
    let threadCounts = threads.split(separator: ",").compactMap { Int($0) }
    let original = Kernels.threads
    let measured = Kernels.measuredFMAPeak(seconds: 0.2)
    emit("isa: \(Kernels.isaName), default threads: \(original), nominal peak \(peak) GFLOP/s per core")
    emit("measured FMA-only loop on this machine: \(format1(measured)) GFLOP/s per CPU-second")
    emit("GF/s: best wall-clock rate; %peak = GF/s / (threads × peak); cpu%pk = flops per")
    emit("process CPU-second / peak (per-core efficiency, insensitive to other load on the machine);")
    emit("%meas = the same against the measured FMA-only loop")
    emit("check vs Reference (small cases): \(checkAgainstReference() ? "ok" : "MISMATCH")")
    let all: [(String, e: Int, h: Int)] = [("S", 64, 128), ("M", 64, 512), ("L", 128, 1024)]
    let wanted = Set(configs.split(separator: ",").map { $0.uppercased() })
    var header = "config  shape                                       m     n     k "
    for t in threadCounts { header += "  GF/s(\(t)t)  %peak  cpu%pk  %meas" }
    emit(header)
    for (cfg, e, h) in all where wanted.contains(cfg) {
      let g = 4 * h
      let b = 50
      let bt = 2500
      let shapes: [Shape] = [
        Shape(name: "recurrent h·Whhᵀ packed", packed: true, m: b, n: g, k: h, beta: 1),
        Shape(name: "recurrent h·Whhᵀ (B=32) packed", packed: true, m: 32, n: g, k: h, beta: 1),
        Shape(name: "recurrent h·Whhᵀ gemm", transB: true, m: b, n: g, k: h, beta: 1),
        Shape(name: "input proj X·Wihᵀ (k=E)", transB: true, m: bt, n: g, k: e),
        Shape(name: "input proj X·Wihᵀ (k=H)", transB: true, m: bt, n: g, k: h),
        Shape(name: "input proj (BT=2048, k=H)", transB: true, m: 2048, n: g, k: h),
        Shape(name: "dWih += dGᵀ·X (n=E)", transA: true, m: g, n: e, k: bt, beta: 1),
        Shape(name: "dWhh += dGᵀ·H (n=H)", transA: true, m: g, n: h, k: bt, beta: 1),
        Shape(name: "dX = dG·W (n=H)", m: bt, n: h, k: g),
        Shape(name: "head logits V=65", transB: true, m: bt, n: 65, k: h),
        Shape(name: "head logits V=4000", transB: true, m: bt, n: 4000, k: h),
      ]
      for s in shapes {
        var line = "\(cfg)       " + pad(s.name, 38) + pad("\(s.m)", 6, left: true)
          + pad("\(s.n)", 6, left: true) + pad("\(s.k)", 6, left: true)
        for t in threadCounts {
          Kernels.setThreads(t)
          let (gf, gfCPU) = measure(s)
          let pct = 100 * gf / (peak * Double(t))
          let pctCPU = 100 * gfCPU / peak
          let pctMeasured = 100 * gfCPU / measured
          line += "  " + pad(String(format1(gf)), 9, left: true) + "  "
            + pad(format1(pct) + "%", 6, left: true) + "  " + pad(format1(pctCPU) + "%", 6, left: true)
            + "  " + pad(format1(pctMeasured) + "%", 6, left: true)
        }
        emit(line)
      }
    }
    Kernels.setThreads(original)
  }

  func randomArray(_ count: Int, _ g: inout SeededGenerator) -> [Float] {
    (0..<count).map { _ in g.nextUnitFloat() * 2 - 1 }
  }

  /// Best GFLOP/s over repeated runs of `s` (at least `seconds` in total): per wall-clock
  /// second, and per process CPU-second (the run with the best wall-clock rate).
  func measure(_ s: Shape) -> (Double, Double) {
    var g = SeededGenerator(seed: 7)
    let aRows = s.transA ? s.k : s.m, aCols = s.transA ? s.m : s.k
    let bRows = s.transB ? s.n : s.k, bCols = s.transB ? s.k : s.n
    let a = randomArray(aRows * aCols, &g)
    let b = randomArray(bRows * bCols, &g)
    var c = [Float](repeating: 0, count: s.m * s.n)
    let flops = 2.0 * Double(s.m) * Double(s.n) * Double(s.k)
    let packedBytes = Float.packedByteCount(k: s.k, n: s.n)
    let packed = UnsafeMutableRawPointer.allocate(byteCount: packedBytes, alignment: 64)
    defer { packed.deallocate() }
    if s.packed {
      b.withUnsafeBufferPointer {
        Float.pack(transB: true, k: s.k, n: s.n, b: $0.baseAddress!, ldb: s.k, into: packed)
      }
    }
    let reps = max(1, Int(2e8 / flops))
    var best = 0.0
    var bestCPU = 0.0
    var total = 0.0
    var rounds = 0
    a.withUnsafeBufferPointer { ap in
      b.withUnsafeBufferPointer { bp in
        c.withUnsafeMutableBufferPointer { cp in
          func once() {
            if s.packed {
              Float.gemmPacked(
                m: s.m, n: s.n, k: s.k, alpha: 1, a: ap.baseAddress!, lda: s.k,
                packed: packed, beta: s.beta, c: cp.baseAddress!, ldc: s.n)
            } else {
              Float.gemm(
                transA: s.transA, transB: s.transB, m: s.m, n: s.n, k: s.k, alpha: 1,
                a: ap.baseAddress!, lda: aCols, b: bp.baseAddress!, ldb: bCols, beta: s.beta,
                c: cp.baseAddress!, ldc: s.n)
            }
          }
          once()
          while total < seconds || rounds < 3 {
            let t0 = ProcessMetrics.monotonicSeconds(), c0 = ProcessMetrics.cpuSeconds()
            for _ in 0..<reps { once() }
            let dt = ProcessMetrics.monotonicSeconds() - t0, dc = ProcessMetrics.cpuSeconds() - c0
            total += dt
            rounds += 1
            let rate = flops * Double(reps) / dt / 1e9
            if rate > best {
              best = rate
              bestCPU = flops * Double(reps) / max(dc, 1e-9) / 1e9
            }
          }
        }
      }
    }
    return (best, bestCPU)
  }

  /// One small case of every GEMM flavour against `Reference`, on Float.
  func checkAgainstReference() -> Bool {
    var g = SeededGenerator(seed: 1)
    var ok = true
    for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
      let m = 37, n = 45, k = 29
      let a = randomArray(m * k, &g), b = randomArray(k * n, &g)
      var c1 = randomArray(m * n, &g)
      var c2 = c1
      let lda = ta ? m : k, ldb = tb ? k : n
      Float.gemm(
        transA: ta, transB: tb, m: m, n: n, k: k, alpha: 0.5, a: a, lda: lda, b: b, ldb: ldb,
        beta: 1, c: &c1, ldc: n)
      Reference.gemm(
        transA: ta, transB: tb, m: m, n: n, k: k, alpha: 0.5, a: a, lda: lda, b: b, ldb: ldb,
        beta: 1, c: &c2, ldc: n)
      for i in 0..<(m * n) where abs(c1[i] - c2[i]) > 1e-4 * (1 + abs(c2[i])) {
        emit("  gemm transA=\(ta) transB=\(tb): index \(i): \(c1[i]) vs \(c2[i])")
        ok = false
        break
      }
    }
    return ok
  }
}
