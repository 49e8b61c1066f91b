/// Streams UTF-16 text through lowercase → normalize → grapheme split, in bounded chunks.
///
/// A chunk is cut after its last line feed (always a grapheme boundary, never part of a
/// normalization or casing context); a chunk without one (an enormous line) holds back its
/// last cluster and processes it again with what follows, so cluster boundaries never depend
/// on where the chunks fall. Lowercasing and normalization are idempotent, which makes
/// reprocessing the held-back units safe.
struct Segmenter {
  let options: TokenizerOptions
  /// Whether lines of ASCII skip ICU (see ``process(_:emitLast:emit:)``); off only in tests
  /// that compare the two paths.
  var asciiFastPath = true
  /// Whether lowercasing an ASCII "I" or "J" depends on the locale (Turkic ı, Lithuanian i̇):
  /// such lines go through ICU.
  private let localeCasesIJ: Bool
  /// Units to process again in front of the next chunk. Bounded by one line or one cluster.
  private var held: [UInt16] = []
  private var ends: [Int32] = []
  /// Opened on the first line that needs ICU, kept for the rest of the text.
  private var breaker: GraphemeBreaker? = nil

  init(options: TokenizerOptions) {
    self.options = options
    let language = options.locale.lowercased().split(whereSeparator: { $0 == "_" || $0 == "-" }).first.map(String.init) ?? ""
    localeCasesIJ = ["tr", "az", "lt"].contains(language)
  }

  /// Feeds the next raw units of a text; `final` marks its end (all held units are flushed).
  /// - Parameter emit: called once per grapheme cluster, in order.
  mutating func feed(_ raw: ArraySlice<UInt16>, final: Bool, emit: (UnsafeBufferPointer<UInt16>) -> Void) throws(TextError) {
    try feed(raw, final: final, emit: emit) { run in
      for k in run.indices { emit(UnsafeBufferPointer(rebasing: run[k..<(k + 1)])) }
    }
  }

  /// Feeds the next raw units of a text; `final` marks its end (all held units are flushed).
  /// - Parameters:
  ///   - emit: called once per grapheme cluster, in order.
  ///   - singles: called instead of `emit` with runs of units that are each a cluster of their
  ///     own (ASCII lines), in order with `emit`'s clusters; a consumer handles a run in one
  ///     loop rather than one call per character.
  mutating func feed(
    _ raw: ArraySlice<UInt16>, final: Bool,
    emit: (UnsafeBufferPointer<UInt16>) -> Void, singles: (UnsafeBufferPointer<UInt16>) -> Void
  ) throws(TextError) {
    var text = held
    text.append(contentsOf: raw)
    held = []
    if final {
      try process(text[...], emitLast: true, emit: emit, singles: singles)
    } else if let lf = text.lastIndex(of: 0x0A) {
      held = Array(text[(lf + 1)...])
      try process(text[...lf], emitLast: true, emit: emit, singles: singles)
    } else {
      try process(text[...], emitLast: false, emit: emit, singles: singles)
    }
  }

  /// Segments `raw`, a run of whole lines when `emitLast`. Lines of ASCII take a fast path
  /// that gives ICU's result exactly: every normalization form leaves ASCII unchanged,
  /// lowercasing it is A–Z → a–z (outside the locales that case I and J specially), and every
  /// ASCII character is its own grapheme cluster except CR LF (no ASCII character extends,
  /// prepends or joins; a line feed is a boundary on both sides, so a line's clusters do not
  /// depend on its neighbours). Consecutive ASCII lines go out as one run of single-unit
  /// clusters (a CR LF that ends a line as one cluster of two); runs of other lines go through
  /// ICU together.
  private mutating func process(
    _ raw: ArraySlice<UInt16>, emitLast: Bool, emit: (UnsafeBufferPointer<UInt16>) -> Void,
    singles: (UnsafeBufferPointer<UInt16>) -> Void
  ) throws(TextError) {
    guard asciiFastPath && emitLast else { return try processICU(raw, emitLast: emitLast, emit: emit) }
    // What ASCII lines emit: the units themselves, or a copy with A–Z lowercased.
    var lowered: [UInt16] = []
    if options.lowercase {
      lowered = Array(raw)
      lowered.withUnsafeMutableBufferPointer { l in
        for k in l.indices where l[k] >= 0x41 && l[k] <= 0x5A { l[k] += 0x20 }
      }
    }
    let caseIJ = options.lowercase && localeCasesIJ
    try raw.withUnsafeBufferPointer { (r) throws(TextError) in
      try lowered.withUnsafeBufferPointer { (l) throws(TextError) in
        let out = options.lowercase ? l : r
        func run(_ range: Range<Int>) {
          if !range.isEmpty { singles(UnsafeBufferPointer(rebasing: out[range])) }
        }
        var other: Int? = nil  // start of the current run of lines that need ICU
        var ascii: Int? = nil  // start of the current run of ASCII clusters
        var i = 0
        while i < r.count {
          var j = i
          var plain = true
          while j < r.count {
            let u = r[j]
            j += 1
            if u >= 0x80 || (caseIJ && (u == 0x49 || u == 0x4A)) { plain = false }
            if u == 0x0A { break }
          }
          if plain {
            if let start = other {
              try processICU(raw[(raw.startIndex + start)..<(raw.startIndex + i)], emitLast: true, emit: emit)
              other = nil
            }
            if ascii == nil { ascii = i }
            if j - i >= 2 && r[j - 1] == 0x0A && r[j - 2] == 0x0D {  // CR LF: one cluster
              run(ascii!..<(j - 2))
              emit(UnsafeBufferPointer(rebasing: out[(j - 2)..<j]))
              ascii = nil
            }
          } else {
            if let start = ascii { run(start..<i) }
            ascii = nil
            if other == nil { other = i }
          }
          i = j
        }
        if let start = ascii { run(start..<r.count) }
        if let start = other { try processICU(raw[(raw.startIndex + start)...], emitLast: true, emit: emit) }
      }
    }
  }

  /// Lowercase, normalize and split with ICU.
  private mutating func processICU(
    _ raw: ArraySlice<UInt16>, emitLast: Bool, emit: (UnsafeBufferPointer<UInt16>) -> Void
  ) throws(TextError) {
    guard !raw.isEmpty else { return }
    var text = Array(raw)
    if options.lowercase { text = try ICU.lowercase(text, locale: options.locale) }
    text = try ICU.normalize(text, options.normalization)
    var ends = self.ends  // moved out and back, so growing it never copies
    self.ends = []
    defer { self.ends = ends }
    try text.withUnsafeBufferPointer { (t) throws(TextError) in
      if breaker == nil { breaker = try GraphemeBreaker() }
      let n = try breaker!.ends(t, into: &ends)
      var start = 0
      let count = emitLast ? n : max(0, n - 1)
      for k in 0..<count {
        let end = Int(ends[k])
        emit(UnsafeBufferPointer(rebasing: t[start..<end]))
        start = end
      }
      if !emitLast { held = Array(t[start...]) }
    }
  }
}
