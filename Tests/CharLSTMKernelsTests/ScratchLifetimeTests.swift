import CharLSTMKernels
import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// A product whose packed right-hand side needs ~10 MB of thread-local scratch (k 1024 ×
/// n 2048 floats, plus the 25% headroom the scratch keeps).
private let scratchHeavyCase = GemmCase(
  transA: false, transB: false, m: 1, n: 2048, k: 1024, alpha: 1, beta: 0, pad: 0, seed: 77)

/// Resident memory of this process in bytes (/proc/self/statm), or nil where unavailable.
private func residentBytes() -> Double? {
  guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return nil }
  let fields = text.split(separator: " ")
  guard fields.count > 1, let pages = Double(fields[1]) else { return nil }
  return pages * Double(sysconf(Int32(_SC_PAGESIZE)))
}

extension KernelTests {
  /// Threads that run a product and exit free their thread-local scratch (a server creates a
  /// thread per request): 40 threads, one after another, each filling ~10 MB of scratch. If
  /// the scratch were kept after the thread's exit the process would keep ~400 MB more resident;
  /// freed, it stays within a few buffers (malloc reuses the exited threads' arenas). The bound,
  /// 160 MB, is well above the freed case and well below the leaking one.
  @Suite struct ScratchLifetimeTests {
    @Test func exitedThreadsFreeTheirScratch() throws {
      let before = try #require(residentBytes())
      let threads = Kernels.threads
      defer { Kernels.setThreads(threads) }
      Kernels.setThreads(1)  // the product runs in the calling thread, so its scratch is that thread's
      var finished = 0
      for _ in 0..<40 {
        var tid = pthread_t()
        let rc = pthread_create(&tid, nil, { _ in
          let c = scratchHeavyCase.runFloat()
          // Keep the result observable so the product is not optimized away.
          return c[0].isNaN ? UnsafeMutableRawPointer(bitPattern: 1) : nil
        }, nil)
        try #require(rc == 0, "pthread_create failed: \(rc)")
        var result: UnsafeMutableRawPointer?
        pthread_join(tid, &result)
        if result == nil { finished += 1 }
      }
      #expect(finished == 40, "a product returned NaN")
      let after = try #require(residentBytes())
      let grown = (after - before) / 1e6
      print("scratch: resident memory grew \(String(format: "%.1f", grown)) MB over 40 exited threads")
      #expect(grown < 160, "resident memory grew \(grown) MB over 40 exited threads: their scratch was not freed")
    }
  }
}
