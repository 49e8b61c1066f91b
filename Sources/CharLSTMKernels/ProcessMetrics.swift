#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// This process's clocks and memory high-water mark: the one place timings and benchmark
/// reports read them from.
public enum ProcessMetrics {
  /// Seconds on the monotonic clock (for durations: its origin is arbitrary, it never jumps).
  public static func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
  }

  /// CPU seconds this process has used so far, all its threads together.
  public static func cpuSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
  }

  /// Peak resident set size of this process so far, in MiB (getrusage's `ru_maxrss`, which
  /// Linux reports in KiB).
  public static func peakResidentMiB() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024
  }
}
