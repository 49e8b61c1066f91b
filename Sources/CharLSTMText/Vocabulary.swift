/// The characters a model knows, in a fixed order, with how often each was seen.
///
/// The order is by Unicode scalar values (code point order, shortest first on ties), so the
/// same corpus gives the same ids on every run and machine. When `--min-count` folded rare
/// characters together, the unknown symbol U+FFFD sits at index 0 and ``unknownIndex`` is 0.
public struct Vocabulary: Codable, Equatable, Sendable {
  /// The characters (extended grapheme clusters), by id.
  public let symbols: [String]
  /// How many times each symbol occurred in the corpus it was built from.
  public let counts: [Int]
  /// The id of the unknown symbol, if the vocabulary has one.
  public let unknownIndex: Int?

  /// What the unknown symbol decodes to.
  public static let unknownSymbol = "\u{FFFD}"

  /// Number of symbols (the model's V).
  public var count: Int { symbols.count }

  /// Creates a vocabulary; `counts` must be as long as `symbols`.
  public init(symbols: [String], counts: [Int], unknownIndex: Int?) {
    precondition(symbols.count == counts.count, "one count per symbol")
    self.symbols = symbols
    self.counts = counts
    self.unknownIndex = unknownIndex
  }

  /// Symbol ids sorted by decreasing count (ties by id).
  public func mostFrequent(_ n: Int) -> [Int] {
    Array(counts.indices.sorted { counts[$0] != counts[$1] ? counts[$0] > counts[$1] : $0 < $1 }.prefix(n))
  }
}

/// Collects clusters and counts while a corpus streams by, then fixes the order.
struct VocabularyBuilder {
  var table = SymbolTable()
  var counts: [Int] = []

  /// The provisional id of `cluster` (order of first appearance), counted once more.
  @inline(__always)
  mutating func add(_ cluster: UnsafeBufferPointer<UInt16>) -> Int32 {
    let id = table.intern(cluster)
    if Int(id) == counts.count { counts.append(0) }
    counts[Int(id)] += 1
    return id
  }

  /// The final vocabulary and the map from provisional ids to final ids.
  func finish(minCount: Int) -> (Vocabulary, remap: [Int32]) {
    let scalars: [[UInt32]] = table.units.map { u in
      String(decoding: u, as: UTF16.self).unicodeScalars.map(\.value)
    }
    let order = scalars.indices.sorted { scalars[$0].lexicographicallyPrecedes(scalars[$1]) }
    let rare = order.filter { counts[$0] < minCount }
    var symbols: [String] = []
    var finalCounts: [Int] = []
    var remap = [Int32](repeating: 0, count: counts.count)
    var unknownIndex: Int? = nil
    if !rare.isEmpty {
      unknownIndex = 0
      symbols.append(Vocabulary.unknownSymbol)
      finalCounts.append(rare.reduce(0) { $0 + counts[$1] })
    }
    for p in order where counts[p] >= minCount {
      remap[p] = Int32(symbols.count)
      symbols.append(String(decoding: table.units[p], as: UTF16.self))
      finalCounts.append(counts[p])
    }
    return (Vocabulary(symbols: symbols, counts: finalCounts, unknownIndex: unknownIndex), remap)
  }
}
