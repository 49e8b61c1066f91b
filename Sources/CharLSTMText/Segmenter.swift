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

  init(options: TokenizerOptions) {
    self.options = options
    let language = options.locale.lowercased().split(whereSeparator: { $0 == "_" || $0 == "-" }).first.map(String.init) ?? ""
    localeCasesIJ = ["tr", "az", "lt"].contains(language)
  }

  /// Feeds the next raw units of a text; `final` marks its end (all held units are flushed).
  /// - Parameter emit: called once per grapheme cluster, in order.
  mutating func feed(
    _ raw: ArraySlice<UInt16>, final: Bool,
    emit: (UnsafeBufferPointer<UInt16>) -> Void
  ) throws(TextError) {
    var text = held
    text.append(contentsOf: raw)
    held = []
    if final {
      try process(text[...], emitLast: true, emit: emit)
    } else if let lf = text.lastIndex(of: 0x0A) {
      held = Array(text[(lf + 1)...])
      try process(text[...lf], emitLast: true, emit: emit)
    } else {
      try process(text[...], emitLast: false, emit: emit)
    }
  }

  /// Segments `raw`, a run of whole lines when `emitLast`. Lines of ASCII take a fast path
  /// that gives ICU's result exactly: every normalization form leaves ASCII unchanged,
  /// lowercasing it is A–Z → a–z (outside the locales that case I and J specially), and every
  /// ASCII character is its own grapheme cluster except CR LF (no ASCII character extends,
  /// prepends or joins; a line feed is a boundary on both sides, so a line's clusters do not
  /// depend on its neighbours). Runs of other lines go through ICU together.
  private mutating func process(
    _ raw: ArraySlice<UInt16>, emitLast: Bool, emit: (UnsafeBufferPointer<UInt16>) -> Void
  ) throws(TextError) {
    guard asciiFastPath && emitLast else { return try processICU(raw, emitLast: emitLast, emit: emit) }
    var other: Int?  // start of the current run of lines that need ICU
    var i = raw.startIndex
    var pair = [UInt16](repeating: 0, count: 2)
    while i < raw.endIndex {
      var j = i
      var ascii = true
      var caseIJ = false
      while j < raw.endIndex {
        let u = raw[j]
        j += 1
        if u >= 0x80 { ascii = false }
        if u == 0x49 || u == 0x4A { caseIJ = true }
        if u == 0x0A { break }
      }
      if ascii && !(caseIJ && options.lowercase && localeCasesIJ) {
        if let start = other {
          try processICU(raw[start..<i], emitLast: true, emit: emit)
          other = nil
        }
        pair.withUnsafeMutableBufferPointer { p in
          var k = i
          while k < j {
            var u = raw[k]
            if u == 0x0D && k + 1 < j && raw[k + 1] == 0x0A {
              p[0] = 0x0D
              p[1] = 0x0A
              emit(UnsafeBufferPointer(rebasing: p[0..<2]))
              k += 2
              continue
            }
            if options.lowercase && u >= 0x41 && u <= 0x5A { u += 0x20 }
            p[0] = u
            emit(UnsafeBufferPointer(rebasing: p[0..<1]))
            k += 1
          }
        }
      } else if other == nil {
        other = i
      }
      i = j
    }
    if let start = other { try processICU(raw[start...], emitLast: true, emit: emit) }
  }

  /// Lowercase, normalize and split with ICU.
  private mutating func processICU(
    _ raw: ArraySlice<UInt16>, emitLast: Bool, emit: (UnsafeBufferPointer<UInt16>) -> Void
  ) throws(TextError) {
    guard !raw.isEmpty else { return }
    var text = Array(raw)
    if options.lowercase { text = try ICU.lowercase(text, locale: options.locale) }
    text = try ICU.normalize(text, options.normalization)
    var ends = self.ends
    defer { self.ends = ends }
    try text.withUnsafeBufferPointer { (t) throws(TextError) in
      try ICU.graphemeEnds(t, into: &ends)
      var start = 0
      let count = emitLast ? ends.count : max(0, ends.count - 1)
      for k in 0..<count {
        let end = Int(ends[k])
        emit(UnsafeBufferPointer(rebasing: t[start..<end]))
        start = end
      }
      if !emitLast { held = Array(t[start...]) }
    }
  }
}
