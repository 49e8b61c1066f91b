/// Streams UTF-16 text through lowercase → normalize → grapheme split, in bounded chunks.
///
/// A chunk is cut after its last line feed (always a grapheme boundary, never part of a
/// normalization or casing context); a chunk without one (an enormous line) holds back its
/// last cluster and processes it again with what follows, so cluster boundaries never depend
/// on where the chunks fall. Lowercasing and normalization are idempotent, which makes
/// reprocessing the held-back units safe.
struct Segmenter {
  let options: TokenizerOptions
  /// Units to process again in front of the next chunk. Bounded by one line or one cluster.
  private var held: [UInt16] = []
  private var ends: [Int32] = []

  init(options: TokenizerOptions) {
    self.options = options
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

  private mutating func process(
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
