import CharLSTMKit
import Foundation

/// N "ranks" as threads of this process: a ``Collective`` for testing data parallelism without
/// MPI. Every rank sums the deposited buffers in rank order, so all ranks get the same bits.
final class LocalGroup: @unchecked Sendable {
  let size: Int
  private let condition = NSCondition()
  private var arrived = 0
  private var generation = 0
  fileprivate var slots: [UnsafeMutableRawPointer?]

  init(size: Int) {
    self.size = size
    slots = Array(repeating: nil, count: size)
  }

  /// The ranks, one per thread.
  func ranks() -> [LocalRank] { (0..<size).map { LocalRank(rank: $0, group: self) } }

  fileprivate func barrier() {
    condition.lock()
    let g = generation
    arrived += 1
    if arrived == size {
      arrived = 0
      generation += 1
      condition.broadcast()
    } else {
      while g == generation { condition.wait() }
    }
    condition.unlock()
  }

  /// Runs `body(rank)` on `size` threads at once and returns their results in rank order.
  func run<T>(_ body: @escaping @Sendable (LocalRank) throws -> T) -> [Result<T, any Error>] {
    let ranks = ranks()
    nonisolated(unsafe) var results = [Result<T, any Error>?](repeating: nil, count: size)
    let group = DispatchGroup()
    for r in ranks {
      let thread = Thread {
        let outcome = Result { try body(r) }
        results[r.rank] = outcome
        group.leave()
      }
      thread.stackSize = 8 << 20
      group.enter()
      thread.start()
    }
    group.wait()
    return results.map { $0! }
  }
}

final class LocalRank: Collective, @unchecked Sendable {
  let rank: Int
  let group: LocalGroup
  var size: Int { group.size }
  /// Collective calls made (to check that every rank made the same number).
  private(set) var calls = 0

  init(rank: Int, group: LocalGroup) {
    self.rank = rank
    self.group = group
  }

  private func combine<T>(_ values: UnsafeMutableBufferPointer<T>, _ op: (T, T) -> T) {
    calls += 1
    group.slots[rank] = UnsafeMutableRawPointer(values.baseAddress)
    group.barrier()
    var result = Array(UnsafeBufferPointer(start: group.slots[0]!.assumingMemoryBound(to: T.self), count: values.count))
    for r in 1..<size {
      let other = group.slots[r]!.assumingMemoryBound(to: T.self)
      for i in result.indices { result[i] = op(result[i], other[i]) }
    }
    group.barrier()
    for i in result.indices { values[i] = result[i] }
  }

  func sum(_ values: UnsafeMutableBufferPointer<Float>) { combine(values, +) }
  func sum(_ values: UnsafeMutableBufferPointer<Double>) { combine(values, +) }
  func maximum(_ values: UnsafeMutableBufferPointer<UInt64>) { combine(values, max) }
  func broadcast(_ bytes: UnsafeMutableRawBufferPointer, from root: Int) {
    calls += 1
    group.slots[rank] = bytes.baseAddress
    group.barrier()
    if rank != root, bytes.count > 0 { bytes.baseAddress!.copyMemory(from: group.slots[root]!, byteCount: bytes.count) }
    group.barrier()
  }
}
