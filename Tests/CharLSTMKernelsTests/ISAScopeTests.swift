import CharLSTMKernels
import Foundation
import Testing

/// A value written by another thread and read after it signals.
private final class Handoff<T>: @unchecked Sendable {
  var value: T?
  let done = DispatchSemaphore(value: 0)
}

/// The kernel path is chosen per thread: a scope on one thread never changes another's.
@Suite struct ISAScopeTests {
  @Test func scopeIsPerThreadAndNests() {
    let outside = Kernels.isa
    Kernels.withISA(.portable) {
      #expect(Kernels.isa == .portable)
      // Another thread, running while this scope is open, still sees the process default.
      let seen = Handoff<Kernels.ISA>()
      Thread { seen.value = Kernels.isa; seen.done.signal() }.start()
      seen.done.wait()
      #expect(seen.value == outside)
      if let best = supportedISAs.first {
        Kernels.withISA(best) { #expect(Kernels.isa == best) }
      }
      #expect(Kernels.isa == .portable, "the inner scope restores the outer one")
    }
    #expect(Kernels.isa == outside)
  }

  /// Pool jobs started inside a scope run on the scope's path on every worker, while another
  /// thread runs the same product on another path at the same time: each result equals its
  /// path's single-thread product bit for bit.
  @Test func poolWorkersFollowTheCallersPath() {
    guard supportedISAs.count >= 2 else { return }
    let cs = GemmCase(transA: false, transB: false, m: 300, n: 300, k: 300, alpha: 1, beta: 0, pad: 0, seed: 9)
    let threads = Kernels.threads
    defer { Kernels.setThreads(threads) }
    Kernels.setThreads(1)
    // The best path and the portable one (avx512bf16 and avx512 share their fp32 kernels).
    let paths = [supportedISAs.first!, supportedISAs.last!]
    let refs = paths.map { isa in Kernels.withISA(isa) { cs.runFloat() } }
    #expect(firstBitDifference(refs[0], refs[1]) != nil, "the two paths must differ for this test to mean anything")
    Kernels.setThreads(2)
    let other = Handoff<[String?]>()
    Thread {
      other.value = Kernels.withISA(paths[1]) { (0..<5).map { _ in firstBitDifference(cs.runFloat(), refs[1]) } }
      other.done.signal()
    }.start()
    for _ in 0..<5 {
      let got = Kernels.withISA(paths[0]) { cs.runFloat() }
      #expect(firstBitDifference(got, refs[0]) == nil)
    }
    other.done.wait()
    #expect(other.value?.allSatisfy { $0 == nil } == true, "\(other.value ?? [])")
  }
}
