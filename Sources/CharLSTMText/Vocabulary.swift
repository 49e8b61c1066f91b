/// The characters a model knows, in a fixed order, with how often each was seen.
///
/// The order is by Unicode scalar values (code point order, shortest first on ties), so the
/// same corpus gives the same ids on every run and machine. When `--min-count` folded rare
/// characters together, the unknown symbol U+FFFD sits at index 0 and ``unknownIndex`` is 0.
/// A corpus read as documents (``DocumentMode``) adds the end-of-text symbol next, at
/// ``endOfTextIndex``. A fine-tuned model's vocabulary (``merged(with:minCount:)``) keeps its
/// parent's ids and appends the new symbols, so these two may sit anywhere.
public struct Vocabulary: Codable, Equatable, Sendable {
  /// The characters (extended grapheme clusters), by id.
  public let symbols: [String]
  /// How many times each symbol occurred in the corpus it was built from.
  public let counts: [Int]
  /// The id of the unknown symbol, if the vocabulary has one.
  public let unknownIndex: Int?
  /// The id of the end-of-text symbol, if the vocabulary has one (a model trained on documents).
  public let endOfTextIndex: Int?

  /// What the unknown symbol decodes to.
  public static let unknownSymbol = "\u{FFFD}"
  /// What the end-of-text symbol decodes to: 13 characters as text, so no text can produce the
  /// symbol (encoding this string gives its 13 characters, never ``endOfTextIndex``).
  public static let endOfTextSymbol = "<|endoftext|>"

  /// Number of symbols (the model's V).
  public var count: Int { symbols.count }

  /// Creates a vocabulary; `counts` must be as long as `symbols`, and the symbol at
  /// `endOfTextIndex` must be ``endOfTextSymbol`` (preconditions).
  public init(symbols: [String], counts: [Int], unknownIndex: Int?, endOfTextIndex: Int? = nil) {
    precondition(symbols.count == counts.count, "one count per symbol")
    precondition(endOfTextIndex.map { symbols.indices.contains($0) && symbols[$0] == Self.endOfTextSymbol && $0 != unknownIndex } ?? true, "end-of-text index \(endOfTextIndex ?? -1) must name the symbol \(Self.endOfTextSymbol)")
    self.symbols = symbols
    self.counts = counts
    self.unknownIndex = unknownIndex
    self.endOfTextIndex = endOfTextIndex
  }

  /// Whether `id` is a symbol no text produces (the unknown or the end-of-text symbol).
  public func isReserved(_ id: Int) -> Bool { id == unknownIndex || id == endOfTextIndex }

  /// This vocabulary grown by `other`'s symbols, for fine-tuning a model on a new corpus.
  ///
  /// Every symbol of `self` keeps its id (so a model's rows stay where they are); the symbols of
  /// `other` that `self` lacks follow, in `other`'s order, except those seen fewer than
  /// `minCount` times, which become the unknown symbol (`self`'s, or a new one appended). The
  /// end-of-text and unknown symbols of `other` map to `self`'s, or are appended when `self` has
  /// none. Counts add up: a symbol counts its occurrences in both corpora.
  /// - Returns: the merged vocabulary and, for each id of `other`, its id in the merged one.
  public func merged(with other: Vocabulary, minCount: Int = 1) -> (vocabulary: Vocabulary, map: [Int32]) {
    var symbols = self.symbols
    var counts = self.counts
    var unknown = unknownIndex
    var endOfText = endOfTextIndex
    var index: [String: Int] = [:]
    for (i, s) in symbols.enumerated() where !isReserved(i) { index[s] = i }
    func unknownID() -> Int {
      if let unknown { return unknown }
      symbols.append(Self.unknownSymbol)
      counts.append(0)
      unknown = symbols.count - 1
      return symbols.count - 1
    }
    var map = [Int32](repeating: 0, count: other.count)
    for (j, s) in other.symbols.enumerated() {
      let id: Int
      if j == other.endOfTextIndex {
        if let e = endOfText { id = e } else {
          symbols.append(Self.endOfTextSymbol)
          counts.append(0)
          endOfText = symbols.count - 1
          id = symbols.count - 1
        }
      } else if j == other.unknownIndex {
        id = unknownID()
      } else if let i = index[s] {
        id = i
      } else if other.counts[j] < minCount {
        id = unknownID()
      } else {
        symbols.append(s)
        counts.append(0)
        index[s] = symbols.count - 1
        id = symbols.count - 1
      }
      counts[id] += other.counts[j]
      map[j] = Int32(id)
    }
    return (Vocabulary(symbols: symbols, counts: counts, unknownIndex: unknown, endOfTextIndex: endOfText), map)
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
  /// The provisional id of the end-of-text symbol, once a document has been seen.
  var endOfText: Int32? = nil

  /// The provisional id of the end-of-text symbol, counted once more. No cluster can match its
  /// 13-character text, so it never collides with a character.
  mutating func addEndOfText() -> Int32 {
    if endOfText == nil {
      endOfText = Array(Vocabulary.endOfTextSymbol.utf16).withUnsafeBufferPointer { table.intern($0) }
      counts.append(0)
    }
    counts[Int(endOfText!)] += 1
    return endOfText!
  }

  /// The provisional id of `cluster` (order of first appearance), counted once more.
  @inline(__always)
  mutating func add(_ cluster: UnsafeBufferPointer<UInt16>) -> Int32 {
    let id = table.intern(cluster)
    if Int(id) == counts.count { counts.append(0) }
    counts[Int(id)] += 1
    return id
  }

  /// Adds each unit of `run` as a cluster of its own (see ``Segmenter``), appending the
  /// provisional ids to `tokens`; `scratch` is reused between calls.
  mutating func addSingles(_ run: UnsafeBufferPointer<UInt16>, to tokens: inout TokenIDs, scratch: inout [Int32]) {
    if scratch.count < run.count { scratch = [Int32](repeating: 0, count: run.count) }
    scratch.withUnsafeMutableBufferPointer { ids in
      let ids = UnsafeMutableBufferPointer(rebasing: ids[..<run.count])
      table.internSingles(run, into: ids)
      if counts.count < table.count { counts.append(contentsOf: repeatElement(0, count: table.count - counts.count)) }
      counts.withUnsafeMutableBufferPointer { c in
        for id in ids { c[Int(id)] += 1 }
      }
      tokens.append(contentsOf: UnsafeBufferPointer(ids))
    }
  }

  /// The final vocabulary and the map from provisional ids to final ids.
  func finish(minCount: Int) -> (Vocabulary, remap: [Int32]) {
    let scalars: [[UInt32]] = table.units.map { u in
      String(decoding: u, as: UTF16.self).unicodeScalars.map(\.value)
    }
    let order = scalars.indices.sorted { scalars[$0].lexicographicallyPrecedes(scalars[$1]) }.filter { Int32($0) != endOfText }
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
    var endOfTextIndex: Int? = nil
    if let e = endOfText {
      endOfTextIndex = symbols.count
      remap[Int(e)] = Int32(symbols.count)
      symbols.append(Vocabulary.endOfTextSymbol)
      finalCounts.append(counts[Int(e)])
    }
    for p in order where counts[p] >= minCount {
      remap[p] = Int32(symbols.count)
      symbols.append(String(decoding: table.units[p], as: UTF16.self))
      finalCounts.append(counts[p])
    }
    return (Vocabulary(symbols: symbols, counts: finalCounts, unknownIndex: unknownIndex, endOfTextIndex: endOfTextIndex), remap)
  }
}
