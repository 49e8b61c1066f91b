/// Character ids, stored in 16 bits each while every id fits (a vocabulary of up to 65,536
/// symbols: every corpus seen so far), in 32 bits otherwise.
///
/// A corpus's ids are its largest allocation: 2 bytes per character instead of 4 halves the
/// memory of tokenizing and training on a large corpus. Reading an id costs one predictable
/// branch. Appending an id ≥ 65,536 widens the storage once (ids never narrow again).
public struct TokenIDs: RandomAccessCollection, Sendable, Hashable, ExpressibleByArrayLiteral {
  /// The ids while all are < 65,536; empty once ``isWide``.
  private var narrow: [UInt16] = []
  /// The ids once one is ≥ 65,536 (or negative); empty before.
  private var wide: [Int32] = []
  /// Whether the ids are stored in 32 bits.
  public private(set) var isWide = false

  public init() {}

  public init<S: Sequence<Int32>>(_ ids: S) {
    narrow.reserveCapacity(ids.underestimatedCount)
    for id in ids { append(id) }
  }

  public init(arrayLiteral ids: Int32...) { self.init(ids) }

  public var startIndex: Int { 0 }
  public var endIndex: Int { isWide ? wide.count : narrow.count }
  public var count: Int { endIndex }

  @inline(__always)
  public subscript(i: Int) -> Int32 { isWide ? wide[i] : Int32(narrow[i]) }

  public subscript(r: Range<Int>) -> TokenSlice { TokenSlice(base: self, bounds: r) }

  /// Bytes per stored id: 2 or 4.
  public var bytesPerID: Int { isWide ? 4 : 2 }

  /// Appends `id`, widening the storage the first time one does not fit in 16 bits.
  @inline(__always)
  public mutating func append(_ id: Int32) {
    if !isWide && UInt32(bitPattern: id) < 1 << 16 {
      narrow.append(UInt16(truncatingIfNeeded: id))
      return
    }
    if !isWide { widen() }
    wide.append(id)
  }

  /// Appends `ids` in one pass (widening first when one does not fit in 16 bits).
  public mutating func append(contentsOf ids: UnsafeBufferPointer<Int32>) {
    if !isWide && ids.contains(where: { UInt32(bitPattern: $0) >= 1 << 16 }) { widen() }
    if isWide { return wide.append(contentsOf: ids) }
    let at = narrow.count
    narrow.append(contentsOf: repeatElement(0, count: ids.count))
    narrow.withUnsafeMutableBufferPointer { n in
      for k in ids.indices { n[at + k] = UInt16(truncatingIfNeeded: ids[k]) }
    }
  }

  /// Reserves room for `n` ids (in the current width).
  public mutating func reserveCapacity(_ n: Int) {
    if isWide { wide.reserveCapacity(n) } else { narrow.reserveCapacity(n) }
  }

  private mutating func widen() {
    wide = narrow.map { Int32($0) }
    narrow = []
    isWide = true
  }

  /// Replaces every id `i` with `table[i]`, in place (ids stay 16-bit when they were and every
  /// new id fits; otherwise the storage widens).
  /// - Precondition: every id indexes `table`.
  public mutating func renumber(_ table: [Int32]) {
    if !isWide && table.allSatisfy({ UInt32(bitPattern: $0) < 1 << 16 }) {
      let t16 = table.map { UInt16($0) }
      t16.withUnsafeBufferPointer { t in
        narrow.withUnsafeMutableBufferPointer { ids in
          for i in ids.indices { ids[i] = t[Int(ids[i])] }
        }
      }
      return
    }
    if !isWide { widen() }
    table.withUnsafeBufferPointer { t in
      wide.withUnsafeMutableBufferPointer { ids in
        for i in ids.indices { ids[i] = t[Int(ids[i])] }
      }
    }
  }

  public static func == (a: TokenIDs, b: TokenIDs) -> Bool { a.elementsEqual(b) }

  public func hash(into h: inout Hasher) {
    h.combine(count)
    for id in self { h.combine(id) }
  }
}

/// A contiguous part of a ``TokenIDs`` (its indices are the base's), sharing its storage.
public struct TokenSlice: RandomAccessCollection, Sendable, Equatable, ExpressibleByArrayLiteral {
  private let base: TokenIDs
  public let startIndex: Int
  public let endIndex: Int

  init(base: TokenIDs, bounds: Range<Int>) {
    precondition(bounds.lowerBound >= 0 && bounds.upperBound <= base.count, "slice \(bounds) out of 0..<\(base.count)")
    self.base = base
    startIndex = bounds.lowerBound
    endIndex = bounds.upperBound
  }

  /// All of `ids`.
  public init(_ ids: TokenIDs) { self.init(base: ids, bounds: 0..<ids.count) }

  /// A slice of its own copy of `ids` (indices from 0).
  public init<S: Sequence<Int32>>(_ ids: S) { self.init(TokenIDs(ids)) }

  public init(arrayLiteral ids: Int32...) { self.init(TokenIDs(ids)) }

  @inline(__always)
  public subscript(i: Int) -> Int32 {
    precondition(i >= startIndex && i < endIndex, "index \(i) out of \(startIndex)..<\(endIndex)")
    return base[i]
  }

  public subscript(r: Range<Int>) -> TokenSlice {
    precondition(r.lowerBound >= startIndex && r.upperBound <= endIndex, "slice \(r) out of \(startIndex)..<\(endIndex)")
    return TokenSlice(base: base, bounds: r)
  }

  public static func == (a: TokenSlice, b: TokenSlice) -> Bool { a.elementsEqual(b) }
}
