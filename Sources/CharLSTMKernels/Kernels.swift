import _CharLSTMKernels

/// Controls for the fast `Float` kernels: worker threads and the instruction-set path.
public enum Kernels {
  /// The instruction-set paths of the C kernels.
  public enum ISA: Int32, Sendable, CaseIterable {
    case portable = 0
    case avx2 = 1
    case avx512 = 2
    /// The AVX-512 fp32 kernels, and products in bf16 precision on the bf16 dot-product unit
    /// (VDPBF16PS: pairs of bf16, fp32 accumulation) instead of emulated on the fp32 kernels.
    case avx512bf16 = 3

    /// True when this process can run the path.
    public var isSupported: Bool { clk_isa_supported(rawValue) != 0 }

    /// The path's name, as ``Kernels/isaName`` prints it.
    public var name: String {
      switch self {
      case .portable: return "portable"
      case .avx2: return "avx2"
      case .avx512: return "avx512"
      case .avx512bf16: return "avx512bf16"
      }
    }

    /// The path named `name` (nil for an unknown name).
    public init?(name: String) {
      guard let isa = Self.allCases.first(where: { $0.name == name }) else { return nil }
      self = isa
    }
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

  /// Runs `body` with every kernel call from this thread on `isa` and every matrix product in
  /// `precision`: ``withISA(_:_:)`` and ``withPrecision(_:_:)`` together.
  public static func with<R, E: Error>(_ isa: ISA, _ precision: Precision, _ body: () throws(E) -> R) throws(E) -> R {
    try withISA(isa) { () throws(E) -> R in try withPrecision(precision, body) }
  }

  /// Runs `body` with every matrix product it makes from this thread in `precision` (the pool
  /// workers follow); other threads are not affected. Nested scopes restore the outer one.
  public static func withPrecision<R, E: Error>(_ precision: Precision, _ body: () throws(E) -> R) throws(E) -> R {
    let previous = clk_set_thread_precision(precision == .bf16 ? 1 : 0)
    defer { clk_set_thread_precision(previous) }
    return try body()
  }

  /// The fastest precision of training products for calls from this thread: bf16 where its
  /// path runs bf16 products on a bf16 unit (``bf16DotAvailable``) that is faster than the fp32
  /// FMAs (``bf16DotIsFaster``), else fp32 (bf16 emulated on fp32 kernels, or on a unit at half
  /// the FMA rate, is not faster). The CLI's `auto` takes it for models of 512 hidden units and
  /// more, where the README's runs show bf16 keeping fp32's quality.
  public static var fastestProvenPrecision: Precision { bf16DotAvailable && bf16DotIsFaster ? .bf16 : .fp32 }

  /// True when this CPU's bf16 dot-product instruction (VDPBF16PS) does more multiply-adds per
  /// second than its fp32 FMAs. AMD Zen 4/5 run it at twice the FMA rate; Intel's Sapphire
  /// Rapids class at half (`../shared/probes/ceilings.c`: 83 against 171 GFLOP/s per thread),
  /// where bf16 training on it is no faster than fp32 and trails it in quality. Measured once
  /// per process on the calling thread, about 40 ms: both loops twice, alternating, the best of
  /// each, in thread CPU time (time the thread is descheduled does not count); the two kinds
  /// of CPU differ 4× in the ratio, far beyond the threshold's 1.25. False without the unit.
  public static let bf16DotIsFaster: Bool = {
    guard ISA.avx512bf16.isSupported else { return false }
    return withISA(.avx512bf16) {
      var fma = 0.0
      var dot = 0.0
      for _ in 0..<2 {
        fma = max(fma, measuredFMAPeak(seconds: 0.01))
        dot = max(dot, measuredBF16DotPeak(seconds: 0.01))
      }
      return dot > 1.25 * fma
    }
  }()

  /// True when products in bf16 precision made from this thread run on a bf16 dot-product
  /// unit (the ``ISA/avx512bf16`` path), not emulated on the fp32 kernels.
  public static var bf16DotAvailable: Bool { clk_bf16_dot_available() != 0 }

  /// Throughput of the bf16 dot-product instruction measured on this thread (GFLOP per
  /// CPU-second; 0 where the path has none).
  public static func measuredBF16DotPeak(seconds: Double = 0.05) -> Double {
    clk_bf16_dot_peak_gflops(seconds)
  }

  /// `x` rounded to the nearest bfloat16 (ties to even), as a Float.
  public static func roundedToBF16(_ x: Float) -> Float { clk_round_bf16(x) }

  /// Threads used by big kernel calls (the caller included). Results do not depend on it.
  public static var threads: Int { Int(clk_get_threads()) }

  /// Sets ``threads``; `n < 1` means the number of online cores.
  public static func setThreads(_ n: Int) {
    clk_set_threads(Int32(clamping: n))
  }

  /// The path used by calls from this thread: "avx512bf16", "avx512", "avx2" or "portable".
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
