/// What to do with a character the vocabulary does not know.
public enum UnknownPolicy: Sendable {
  /// Throw ``TextError/unknownCharacters(_:)`` naming every unknown character.
  case error
  /// Leave unknown characters out.
  case drop
  /// Map them to the unknown symbol when the vocabulary has one, else throw.
  case mapToUnknown
}

/// Turns text into symbol ids and back: normalization, grapheme clusters, vocabulary lookup.
///
/// A character is a user-perceived character — an extended grapheme cluster (UAX #29), found
/// with ICU's character break iterator after the text is normalized (NFC by default).
/// Decoding ids gives back the normalized text exactly (when no character was unknown).
public struct Tokenizer: Sendable {
  /// How text is prepared; part of every checkpoint.
  public let options: TokenizerOptions
  /// The symbols and their ids.
  public let vocabulary: Vocabulary
  private let table: SymbolTable

  /// A tokenizer for an existing vocabulary (for example one loaded from a checkpoint).
  public init(options: TokenizerOptions, vocabulary: Vocabulary) {
    self.options = options
    self.vocabulary = vocabulary
    var table = SymbolTable()
    for (id, s) in vocabulary.symbols.enumerated() {
      // The unknown and end-of-text symbols take their ids without being matchable as text.
      if vocabulary.isReserved(id) {
        table.reserve(id: Int32(id), symbol: s)
      } else {
        table.insert(Array(s.utf16), id: Int32(id))
      }
    }
    self.table = table
  }

  /// The id of the end-of-text symbol, which ends every document of a corpus read as documents
  /// (``DocumentMode``); nil for a model trained on one stream. Generation stops a text when the
  /// model draws it, and a document starts after it. No text encodes to it: ``encode(_:unknown:)``
  /// of "<|endoftext|>" gives its 13 characters; ``decode(_:)`` and ``symbol(_:)`` of the id give
  /// that string.
  public var endOfTextID: Int32? { vocabulary.endOfTextIndex.map(Int32.init) }

  /// The ICU version doing the work, e.g. "72.1".
  public static var icuVersion: String { ICU.version }

  /// Splits `text` into normalized grapheme clusters, without a vocabulary.
  public static func characters(
    _ text: String, options: TokenizerOptions = TokenizerOptions()
  ) throws(TextError) -> [String] {
    var out: [String] = []
    var seg = Segmenter(options: options)
    try seg.feed(Array(text.utf16)[...], final: true) { out.append(String(decoding: $0, as: UTF16.self)) }
    return out
  }

  /// The ids of the characters of `text`.
  /// - Parameter unknown: what to do with characters outside the vocabulary.
  /// - Throws: ``TextError/unknownCharacters(_:)`` listing each unknown character once.
  public func encode(_ text: String, unknown: UnknownPolicy = .error) throws(TextError) -> [Int32] {
    var ids: [Int32] = []
    var missing: [String] = []
    var seg = Segmenter(options: options)
    try seg.feed(Array(text.utf16)[...], final: true) { cluster in
      if let id = resolve(cluster, unknown, &missing) { ids.append(id) }
    }
    if !missing.isEmpty { throw .unknownCharacters(missing) }
    return ids
  }

  /// The id of `cluster` under `unknown`: the symbol's id, the unknown symbol's, or nil (left
  /// out; with `.error` it is also recorded in `missing`, each character once, at most 100).
  func resolve(_ cluster: UnsafeBufferPointer<UInt16>, _ unknown: UnknownPolicy, _ missing: inout [String]) -> Int32? {
    if let id = table.lookup(cluster) { return id }
    // U+FFFD itself is the unknown symbol's text: a prompt may name it.
    if let u = vocabulary.unknownIndex, unknown == .mapToUnknown || (cluster.count == 1 && cluster[0] == 0xFFFD) {
      return Int32(u)
    }
    if unknown != .drop {
      let s = String(decoding: cluster, as: UTF16.self)
      if missing.count < 100, !missing.contains(s) { missing.append(s) }
    }
    return nil
  }

  /// ``resolve(_:_:_:)`` of each unit of `run` as a cluster of its own, appended to `tokens`
  /// in one pass when the tokenizer knows them all; `scratch` is reused between calls.
  func resolveSingles(
    _ run: UnsafeBufferPointer<UInt16>, _ unknown: UnknownPolicy, _ missing: inout [String], to tokens: inout TokenIDs,
    scratch: inout [Int32]
  ) {
    if scratch.count < run.count { scratch = [Int32](repeating: 0, count: run.count) }
    scratch.withUnsafeMutableBufferPointer { all in
      let ids = UnsafeMutableBufferPointer(rebasing: all[..<run.count])
      table.lookupSingles(run, into: ids)
      guard ids.contains(where: { $0 < 0 }) else { return tokens.append(contentsOf: UnsafeBufferPointer(ids)) }
      for k in ids.indices {
        if ids[k] >= 0 {
          tokens.append(ids[k])
        } else if let id = resolve(UnsafeBufferPointer(rebasing: run[k..<(k + 1)]), unknown, &missing) {
          tokens.append(id)
        }
      }
    }
  }

  /// The text of `ids` (the end-of-text symbol as "<|endoftext|>"). Ids outside the vocabulary
  /// are a programmer error.
  public func decode<C: Sequence<Int32>>(_ ids: C) -> String {
    var units: [UInt16] = []
    for id in ids { units.append(contentsOf: table.units[Int(id)]) }
    return String(decoding: units, as: UTF16.self)
  }

  /// The text of one symbol.
  public func symbol(_ id: Int32) -> String { vocabulary.symbols[Int(id)] }

}
