import CharLSTMKernels
import Foundation
import Testing

/// Many back-to-back pool jobs in the order and shapes one training step of the default model
/// issues (E 64, H 128, V 65, B 50, T 50): weight packing, the packed recurrent product
/// m=50 n=512 k=128, the fused cell on [50, 512], the transposed-A weight-gradient products,
/// softmax on [2500, 65], column sums, the backward recurrent product. Guards against the
/// worker pool hanging (run on a separate thread with a watchdog, so a hang fails the test
/// instead of blocking the run) and checks that results do not depend on the thread count.
final class WatchdogBox<R>: @unchecked Sendable { var value: R? }

@Suite struct PoolStressTests {
  /// One step's worth of kernel calls; returns a checksum of every output.
  static func stepLikeWork(iterations: Int) -> [Float] {
    let B = 50, T = 50, E = 64, H = 128, G = 4 * H, V = 65, rows = B * T
    var g = SeededGenerator(seed: 7)
    let wIh = randomFloats(G * E, &g, scale: 0.1)
    let wHh = randomFloats(G * H, &g, scale: 0.1)
    let wHead = randomFloats(V * H, &g, scale: 0.1)
    let x = randomFloats(rows * E, &g)
    var gates = [Float](repeating: 0, count: rows * G)
    var hidden = randomFloats((T + 1) * B * H, &g, scale: 0.5)
    var cells = randomFloats((T + 1) * B * H, &g, scale: 0.5)
    var tanhC = [Float](repeating: 0, count: rows * H)
    var logits = [Float](repeating: 0, count: rows * V)
    var dGates = [Float](repeating: 0, count: rows * G)
    var dHidden = randomFloats(rows * H, &g, scale: 0.01)
    var dc = [Float](repeating: 0, count: B * H)
    var dWih = [Float](repeating: 0, count: G * E)
    var dWhh = [Float](repeating: 0, count: G * H)
    var db = [Float](repeating: 0, count: G)
    var dX = [Float](repeating: 0, count: rows * E)
    let targets = (0..<rows).map { Int32($0 % V) }
    let packedF = UnsafeMutableRawPointer.allocate(
      byteCount: Float.packedByteCount(k: H, n: G), alignment: 64)
    let packedB = UnsafeMutableRawPointer.allocate(
      byteCount: Float.packedByteCount(k: G, n: H), alignment: 64)
    defer {
      packedF.deallocate()
      packedB.deallocate()
    }
    var loss = 0.0
    for _ in 0..<iterations {
      // Forward: input projection, then the recurrence.
      gates.withUnsafeMutableBufferPointer { gt in
        Float.gemm(
          transA: false, transB: true, m: rows, n: G, k: E, alpha: 1, a: x, lda: E, b: wIh,
          ldb: E, beta: 0, c: gt.baseAddress!, ldc: G)
        Float.pack(transB: true, k: H, n: G, b: wHh, ldb: H, into: packedF)
        hidden.withUnsafeMutableBufferPointer { hs in
          cells.withUnsafeMutableBufferPointer { cs in
            tanhC.withUnsafeMutableBufferPointer { ts in
              for t in 0..<T {
                Float.gemmPacked(
                  m: B, n: G, k: H, alpha: 1, a: hs.baseAddress! + t * B * H, lda: H,
                  packed: packedF, beta: 1, c: gt.baseAddress! + t * B * G, ldc: G)
                Float.lstmCellForward(
                  batch: B, hidden: H, gates: gt.baseAddress! + t * B * G,
                  cPrev: cs.baseAddress! + t * B * H, c: cs.baseAddress! + (t + 1) * B * H,
                  tanhC: ts.baseAddress! + t * B * H, h: hs.baseAddress! + (t + 1) * B * H)
              }
            }
          }
          // Head and loss.
          logits.withUnsafeMutableBufferPointer { ls in
            Float.gemm(
              transA: false, transB: true, m: rows, n: V, k: H, alpha: 1,
              a: hs.baseAddress! + B * H, lda: H, b: wHead, ldb: H, beta: 0,
              c: ls.baseAddress!, ldc: V)
            loss += Float.softmaxCrossEntropy(
              rows: rows, cols: V, logits: ls.baseAddress!, targets: targets,
              scale: 1 / Float(rows))
          }
        }
      }
      // Backward: recurrence, then the weight gradients over all rows.
      Float.pack(transB: false, k: G, n: H, b: wHh, ldb: H, into: packedB)
      for i in dc.indices { dc[i] = 0 }
      for t in stride(from: T - 1, through: 0, by: -1) {
        gates.withUnsafeBufferPointer { gt in
          cells.withUnsafeBufferPointer { cs in
            tanhC.withUnsafeBufferPointer { ts in
              dHidden.withUnsafeMutableBufferPointer { dh in
                dGates.withUnsafeMutableBufferPointer { dg in
                  Float.lstmCellBackward(
                    batch: B, hidden: H, gates: gt.baseAddress! + t * B * G,
                    cPrev: cs.baseAddress! + t * B * H, tanhC: ts.baseAddress! + t * B * H,
                    dh: dh.baseAddress! + t * B * H, dc: &dc, dGates: dg.baseAddress! + t * B * G)
                  if t > 0 {
                    Float.gemmPacked(
                      m: B, n: H, k: G, alpha: 1, a: dg.baseAddress! + t * B * G, lda: G,
                      packed: packedB, beta: 1, c: dh.baseAddress! + (t - 1) * B * H, ldc: H)
                  }
                }
              }
            }
          }
        }
      }
      Float.gemm(
        transA: true, transB: false, m: G, n: E, k: rows, alpha: 1, a: dGates, lda: G, b: x,
        ldb: E, beta: 1, c: &dWih, ldc: E)
      Float.gemm(
        transA: true, transB: false, m: G, n: H, k: rows, alpha: 1, a: dGates, lda: G,
        b: hidden, ldb: H, beta: 1, c: &dWhh, ldc: H)
      Float.accumulateColumnSums(rows: rows, cols: G, a: dGates, lda: G, out: &db)
      Float.gemm(
        transA: false, transB: false, m: rows, n: E, k: G, alpha: 1, a: dGates, lda: G,
        b: wIh, ldb: E, beta: 0, c: &dX, ldc: E)
    }
    return [Float(loss)] + dWih + dWhh + db + dX + Array(hidden.suffix(B * H))
  }

  /// Runs `body` on its own thread; nil when it did not finish within `seconds`.
  static func withWatchdog<R: Sendable>(seconds: Double, _ body: @escaping @Sendable () -> R) -> R? {
    let box = WatchdogBox<R>()
    let done = DispatchSemaphore(value: 0)
    let thread = Thread {
      box.value = body()
      done.signal()
    }
    thread.stackSize = 8 << 20
    thread.start()
    guard done.wait(timeout: .now() + seconds) == .success else {
      // A hung pool keeps its busy flag, so every later kernel call or setThreads (this
      // test's cleanup, the tests running in parallel) would block too: crash with a message
      // instead of letting the whole run hang.
      fatalError("worker pool hung: kernel work not finished within \(seconds) s")
    }
    return box.value
  }

  @Test func trainingStepSequenceNeverHangsAndIsThreadCountIndependent() throws {
    let original = Kernels.threads
    defer { Kernels.setThreads(original) }
    var results: [[Float]] = []
    for threads in [1, 2, 3, 2] {
      Kernels.setThreads(threads)
      let r = Self.withWatchdog(seconds: 60) { Self.stepLikeWork(iterations: 8) }
      guard let r else {
        Issue.record("pool hung: \(threads) threads, no result within 60 s")
        return
      }
      results.append(r)
    }
    for r in results.dropFirst() {
      if let d = firstBitDifference(results[0], r) { Issue.record("differs by threads: \(d)") }
    }
  }

  /// A job published right after the pool (re)creates its workers, before a new worker thread
  /// has first run: the CLI's first training step does exactly this (the pool is created
  /// lazily inside the first big kernel call). A worker that read the generation counter only
  /// when it started missed that job, and the caller waited for it forever.
  @Test func jobRightAfterWorkersAreCreatedNeverHangs() throws {
    let original = Kernels.threads
    defer { Kernels.setThreads(original) }
    let ok = Self.withWatchdog(seconds: 60) { () -> Bool in
      let B = 50, H = 128, G = 4 * H
      var g = SeededGenerator(seed: 3)
      let w = randomFloats(G * H, &g, scale: 0.1)
      let h = randomFloats(B * H, &g)
      var c = [Float](repeating: 0, count: B * G)
      let packed = UnsafeMutableRawPointer.allocate(
        byteCount: Float.packedByteCount(k: H, n: G), alignment: 64)
      defer { packed.deallocate() }
      Float.pack(transB: true, k: H, n: G, b: w, ldb: H, into: packed)
      for _ in 0..<300 {
        Kernels.setThreads(1)
        Kernels.setThreads(2)  // fresh worker thread ...
        Float.gemmPacked(  // ... and at once a pool job (6.5 MFLOP, 2+ tasks)
          m: B, n: G, k: H, alpha: 1, a: h, lda: H, packed: packed, beta: 0, c: &c, ldc: G)
      }
      return true
    }
    #expect(ok == true, "pool hung on a job published right after its workers were created")
  }

  /// Two callers at once (the second finds the pool busy and runs on its own thread).
  @Test func concurrentCallersNeverHang() throws {
    let original = Kernels.threads
    defer { Kernels.setThreads(original) }
    Kernels.setThreads(2)
    let reference = Self.stepLikeWork(iterations: 2)
    let r = Self.withWatchdog(seconds: 60) { () -> [[Float]] in
      let group = DispatchGroup()
      final class Slots: @unchecked Sendable { var v: [[Float]] = [[], []] }
      let slots = Slots()
      for i in 0..<2 {
        let th = Thread {
          slots.v[i] = Self.stepLikeWork(iterations: 2)
          group.leave()
        }
        th.stackSize = 8 << 20
        group.enter()
        th.start()
      }
      group.wait()
      return slots.v
    }
    guard let r else {
      Issue.record("pool hung with two concurrent callers")
      return
    }
    for x in r {
      if let d = firstBitDifference(reference, x) { Issue.record("concurrent result differs: \(d)") }
    }
  }
}
