// Data parallelism at the model's level: which of a batch's B streams this process computes.

/// The streams of a training batch that one process computes when the batch is split over
/// several processes (data parallelism): streams `range` of `total`.
///
/// A process that trains a shard sees the same windows, the same dropout masks and the same
/// loss normalization as a single process training the whole batch would for those streams,
/// so the shards' gradients sum to the whole batch's gradient (up to summation order).
public struct StreamShard: Equatable, Sendable, CustomStringConvertible {
  /// B: the streams of the whole (global) batch.
  public let total: Int
  /// The streams this process computes, within `0..<total`.
  public let range: Range<Int>

  /// Streams `range` of a batch of `total`.
  /// - Precondition: `range` is non-empty and lies within `0..<total`.
  public init(total: Int, range: Range<Int>) {
    precondition(total >= 1 && !range.isEmpty && range.lowerBound >= 0 && range.upperBound <= total,
                 "shard \(range) is not a non-empty part of 0..<\(total)")
    self.total = total
    self.range = range
  }

  /// The whole batch of `total` streams: what a single process trains.
  public static func whole(_ total: Int) -> StreamShard { StreamShard(total: total, range: 0..<total) }

  /// Process `rank` of `count` takes streams [rank·B/count, (rank+1)·B/count) of B = `total`
  /// (integer division, so shard sizes differ by at most one).
  /// - Precondition: 0 ≤ rank < count ≤ total.
  public init(rank: Int, of count: Int, streams total: Int) {
    precondition(count >= 1 && rank >= 0 && rank < count && count <= total,
                 "rank \(rank) of \(count) cannot take a share of \(total) streams")
    self.init(total: total, range: (rank * total / count)..<((rank + 1) * total / count))
  }

  /// The streams this process computes (its local batch).
  public var count: Int { range.count }

  public var description: String { "streams \(range.lowerBound)..<\(range.upperBound) of \(total)" }
}
