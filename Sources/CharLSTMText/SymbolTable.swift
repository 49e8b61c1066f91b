/// Maps grapheme clusters (as UTF-16 slices) to dense ids without creating a String per
/// character: single code units go through a flat table, short clusters through an integer
/// key, only long ones (rare: emoji ZWJ families, long combining stacks) through an array key.
struct SymbolTable {
  /// Cluster → id for clusters of one UTF-16 unit; -1 where absent. [65,536]
  private var single = [Int32](repeating: -1, count: 1 << 16)
  private var short: [ShortKey: Int32] = [:]
  private var long: [[UInt16]: Int32] = [:]
  /// The UTF-16 units of every symbol, by id.
  private(set) var units: [[UInt16]] = []

  var count: Int { units.count }

  private struct ShortKey: Hashable {
    var bits: UInt64
    var length: UInt8
  }

  private static func shortKey(_ s: UnsafeBufferPointer<UInt16>) -> ShortKey {
    var bits: UInt64 = 0
    for u in s { bits = (bits << 16) | UInt64(u) }
    return ShortKey(bits: bits, length: UInt8(s.count))
  }

  /// The id of `cluster`, or nil when the table does not hold it.
  @inline(__always)
  func lookup(_ cluster: UnsafeBufferPointer<UInt16>) -> Int32? {
    switch cluster.count {
    case 1:
      let id = single[Int(cluster[0])]
      return id >= 0 ? id : nil
    case 2...4: return short[Self.shortKey(cluster)]
    default: return long[Array(cluster)]
    }
  }

  /// The id of each unit of `run` as a cluster of its own (`single` lookups), adding the new
  /// ones with the next free ids, into `ids` (as long as `run`).
  @inline(__always)
  mutating func internSingles(_ run: UnsafeBufferPointer<UInt16>, into ids: UnsafeMutableBufferPointer<Int32>) {
    for k in run.indices {
      var id = single[Int(run[k])]
      if id < 0 { id = intern(UnsafeBufferPointer(rebasing: run[k..<(k + 1)])) }
      ids[k] = id
    }
  }

  /// The id of each unit of `run` as a cluster of its own, or -1 where the table lacks it.
  @inline(__always)
  func lookupSingles(_ run: UnsafeBufferPointer<UInt16>, into ids: UnsafeMutableBufferPointer<Int32>) {
    single.withUnsafeBufferPointer { t in
      for k in run.indices { ids[k] = t[Int(run[k])] }
    }
  }

  /// The id of `cluster`, adding it with the next free id if it is new.
  @inline(__always)
  mutating func intern(_ cluster: UnsafeBufferPointer<UInt16>) -> Int32 {
    if let id = lookup(cluster) { return id }
    let id = Int32(units.count)
    insert(Array(cluster), id: id)
    return id
  }

  /// Takes `id` for a symbol that no text matches (the unknown symbol, the end-of-text symbol),
  /// keeping ids dense: `symbol` is what the id decodes to, never looked up.
  mutating func reserve(id: Int32, symbol: String) {
    precondition(Int(id) == units.count, "symbol ids must be dense")
    units.append(Array(symbol.utf16))
  }

  /// Adds `cluster` under a given id (ids must be dense: `id == count` on each call).
  mutating func insert(_ cluster: [UInt16], id: Int32) {
    precondition(Int(id) == units.count, "symbol ids must be dense")
    units.append(cluster)
    cluster.withUnsafeBufferPointer { c in
      switch c.count {
      case 1: single[Int(c[0])] = id
      case 2...4: short[Self.shortKey(c)] = id
      default: long[cluster] = id
      }
    }
  }
}
