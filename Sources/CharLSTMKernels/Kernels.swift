import _CharLSTMKernels

/// Controls for the fast `Float` kernels: worker threads and the instruction-set path.
public enum Kernels {
  /// The instruction-set paths of the C kernels.
  public enum ISA: Int32, Sendable, CaseIterable {
    case portable = 0
    case avx2 = 1
    case avx512 = 2

    /// True when this process can run the path.
    public var isSupported: Bool { clk_isa_supported(rawValue) != 0 }
  }

  /// The numerics of matrix products.
  public enum Precision: String, Sendable, CaseIterable, Codable {
    /// fp32 operands and accumulation.
    case fp32
    /// bfloat16 operands (rounded to nearest even), fp32 accumulation: the mixed-precision
    /// recipe. Weights, gradients, moments, cell state and all pointwise math stay fp32.
    case bf16
  }

  /// The precision of matrix products made from this thread.
  public static var precision: Precision { clk_current_precision() == 1 ? .bf16 : .fp32 }

  /// Runs `body` with every matrix product it makes from this thread in `precision` (the pool
  /// workers follow); other threads are not affected. Nested scopes restore the outer one.
  public static func withPrecision<R, E: Error>(_ precision: Precision, _ body: () throws(E) -> R) throws(E) -> R {
    let previous = clk_set_thread_precision(precision == .bf16 ? 1 : 0)
    defer { clk_set_thread_precision(previous) }
    return try body()
  }

  /// The precision `auto` chooses: bf16 where this build has a bf16 matrix-unit kernel for the
  /// CPU that is faster than fp32 and proven to train as well, else fp32. No such kernel is built
  /// yet (AMX and AVX512-BF16 kernels are not written), so this is fp32.
  public static var fastestProvenPrecision: Precision { .fp32 }

  /// `x` rounded to the nearest bfloat16 (ties to even), as a Float.
  public static func roundedToBF16(_ x: Float) -> Float { clk_round_bf16(x) }

  /// Threads used by big kernel calls (the caller included). Results do not depend on it.
  public static var threads: Int { Int(clk_get_threads()) }

  /// Sets ``threads``; `n < 1` means the number of online cores.
  public static func setThreads(_ n: Int) {
    clk_set_threads(Int32(clamping: n))
  }

  /// The path used by calls from this thread: "avx512", "avx2" or "portable".
  public static var isaName: String { String(cString: clk_isa_name()) }

  /// The path used by calls from this thread.
  public static var isa: ISA { ISA(rawValue: clk_current_isa()) ?? .portable }

  /// Sets the process-wide default path (`nil`: the best supported, honouring
  /// `CHARLSTM_KERNELS`). An unsupported request falls back to the best supported path below
  /// it. Returns the default now in use. Calls inside ``withISA(_:_:)`` are not affected.
  @discardableResult
  public static func force(_ isa: ISA?) -> ISA {
    ISA(rawValue: clk_force_isa(isa?.rawValue ?? -1)) ?? .portable
  }

  /// Runs `body` with every kernel call it makes from this thread on `isa` (or the best path
  /// below it that this CPU supports), whatever other threads use; the worker pool runs those
  /// calls on the same path. Nested scopes restore the outer choice.
  public static func withISA<R, E: Error>(_ isa: ISA, _ body: () throws(E) -> R) throws(E) -> R {
    let previous = clk_set_thread_isa(isa.rawValue)
    defer { clk_set_thread_isa(previous) }
    return try body()
  }

  /// FMA throughput of the current path measured on this thread (GFLOP per CPU-second).
  public static func measuredFMAPeak(seconds: Double = 0.05) -> Double {
    clk_fma_peak_gflops(seconds)
  }

  /// Vectorized `exp` of the current path (exposed for accuracy tests).
  public static func exp(_ x: [Float]) -> [Float] { apply(x, clk_vexp) }
  /// Vectorized logistic sigmoid of the current path.
  public static func sigmoid(_ x: [Float]) -> [Float] { apply(x, clk_vsigmoid) }
  /// Vectorized `tanh` of the current path.
  public static func tanh(_ x: [Float]) -> [Float] { apply(x, clk_vtanh) }

  private static func apply(
    _ x: [Float], _ f: (UnsafePointer<Float>?, UnsafeMutablePointer<Float>?, Int) -> Void
  ) -> [Float] {
    var y = [Float](repeating: 0, count: x.count)
    x.withUnsafeBufferPointer { xs in
      y.withUnsafeMutableBufferPointer { ys in f(xs.baseAddress, ys.baseAddress, x.count) }
    }
    return y
  }
}
