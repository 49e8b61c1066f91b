// The seam for data-parallel training: the few collective operations a run spread over
// several processes needs. A single process is simply N = 1 (``SingleProcess``); an MPI
// implementation lives in its own module (CharLSTMDistributed), so this library never needs MPI.

/// What went wrong in a collective operation (a process died, the transport failed).
public struct CollectiveError: Error, Equatable, CustomStringConvertible, Sendable {
  /// The operation, e.g. `MPI_Allreduce` of the gradients.
  public var operation: String
  /// What the transport said.
  public var detail: String

  /// An error of `operation` with the transport's `detail`.
  public init(operation: String, detail: String) {
    self.operation = operation
    self.detail = detail
  }

  public var description: String { "\(operation) failed: \(detail)" }
}

/// The processes ("ranks") a training run is spread over, and the collective operations
/// data-parallel training uses: every process calls each operation in the same order, and
/// every process gets the same result.
///
/// The ``Trainer`` calls ``sum(_:)-(UnsafeMutableBufferPointer<Float>)`` once per step on the
/// flat gradient vector after the backward pass (then clips and updates identically on every
/// process), once per step on [loss, stop] and once per validation on the loss sum; a
/// checkpoint gathers the carried state of every process's streams.
public protocol Collective: AnyObject {
  /// This process's number, 0 ..< ``size``; process 0 writes checkpoints and logs.
  var rank: Int { get }
  /// N: how many processes share the run.
  var size: Int { get }
  /// Replaces `values` [n] on every process by their elementwise sum over all processes.
  func sum(_ values: UnsafeMutableBufferPointer<Float>) throws(CollectiveError)
  /// Replaces `values` [n] on every process by their elementwise sum over all processes.
  func sum(_ values: UnsafeMutableBufferPointer<Double>) throws(CollectiveError)
  /// Replaces `values` [n] on every process by their elementwise maximum over all processes.
  func maximum(_ values: UnsafeMutableBufferPointer<UInt64>) throws(CollectiveError)
  /// Copies `bytes` of process `root` into `bytes` on every other process (same count on all).
  func broadcast(_ bytes: UnsafeMutableRawBufferPointer, from root: Int) throws(CollectiveError)
}

extension Collective {
  /// Sums an array of doubles over all processes (a convenience for a few scalars).
  public func sum(_ values: inout [Double]) throws {
    try values.withUnsafeMutableBufferPointer { try sum($0) }
  }

  /// Whether `flag` is true on any process.
  public func any(_ flag: Bool) throws -> Bool {
    if size == 1 { return flag }
    return try maximum(of: flag ? 1 : 0) != 0
  }

  /// The streams of a batch of `total` that this process trains (see ``StreamShard``).
  public func shard(of total: Int) -> StreamShard { StreamShard(rank: rank, of: size, streams: total) }
}

/// One process: every collective operation leaves its values as they are.
public final class SingleProcess: Collective {
  /// The one process.
  public init() {}
  public var rank: Int { 0 }
  public var size: Int { 1 }
  public func sum(_ values: UnsafeMutableBufferPointer<Float>) {}
  public func sum(_ values: UnsafeMutableBufferPointer<Double>) {}
  public func maximum(_ values: UnsafeMutableBufferPointer<UInt64>) {}
  public func broadcast(_ bytes: UnsafeMutableRawBufferPointer, from root: Int) {}
}
