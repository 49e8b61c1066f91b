import _CharLSTMICU

/// Swift face of the ICU shim: normalization, lowercasing and grapheme boundaries on UTF-16.
enum ICU {
  /// The ICU version linked in, e.g. "72.1".
  static var version: String { String(cString: clicu_version()) }

  /// Runs an ICU "preflight" style call: try with a buffer, grow it once if ICU asks for more.
  private static func transform(
    _ name: String, _ src: [UInt16],
    _ call: (UnsafePointer<UInt16>?, Int32, UnsafeMutablePointer<UInt16>?, Int32, UnsafeMutablePointer<Int32>) -> Int32
  ) throws(TextError) -> [UInt16] {
    var capacity = src.count + src.count / 8 + 16
    for _ in 0..<2 {
      var status: Int32 = 0
      var out = [UInt16](repeating: 0, count: capacity)
      let n = src.withUnsafeBufferPointer { s in
        out.withUnsafeMutableBufferPointer { d in
          call(s.baseAddress, Int32(s.count), d.baseAddress, Int32(d.count), &status)
        }
      }
      guard n >= 0 else { throw .icu(operation: name, code: String(cString: clicu_error_name(status))) }
      if Int(n) <= capacity {
        out.removeLast(capacity - Int(n))
        return out
      }
      capacity = Int(n)
    }
    throw .icu(operation: name, code: "buffer size")
  }

  /// `src` in normalization form `form` (identity for `.none`).
  static func normalize(_ src: [UInt16], _ form: Normalization) throws(TextError) -> [UInt16] {
    guard form != .none, !src.isEmpty else { return src }
    let f: Int32 = form == .nfkc ? Int32(CLICU_NFKC) : Int32(CLICU_NFC)
    return try transform("normalize", src) { clicu_normalize(f, $0, $1, $2, $3, $4) }
  }

  /// `src` lowercased under the rules of `locale`.
  static func lowercase(_ src: [UInt16], locale: String) throws(TextError) -> [UInt16] {
    guard !src.isEmpty else { return src }
    let loc = Array(locale.utf8CString)
    return try transform("lowercase", src) { clicu_to_lower(loc, $0, $1, $2, $3, $4) }
  }
}

/// An ICU character break iterator kept open between texts (opening one per text cost more
/// than the segmentation itself on text that switches scripts line by line).
final class GraphemeBreaker {
  private let it: UnsafeMutableRawPointer

  init() throws(TextError) {
    var status: Int32 = 0
    guard let it = clicu_breaker_open(&status) else {
      throw .icu(operation: "grapheme breaking", code: String(cString: clicu_error_name(status)))
    }
    self.it = it
  }

  deinit { clicu_breaker_close(it) }

  /// Writes the end offset of every cluster of `text` into `ends[0..<n]` (grown when too
  /// short, never shrunk, so a reused buffer stays allocated) and returns n.
  func ends(_ text: UnsafeBufferPointer<UInt16>, into ends: inout [Int32]) throws(TextError) -> Int {
    if ends.count < text.count { ends = [Int32](repeating: 0, count: text.count) }
    var status: Int32 = 0
    let n = ends.withUnsafeMutableBufferPointer { e in
      clicu_breaker_ends(it, text.baseAddress, Int32(text.count), e.baseAddress, Int32(e.count), &status)
    }
    guard n >= 0 else { throw .icu(operation: "grapheme breaking", code: String(cString: clicu_error_name(status))) }
    return Int(n)
  }
}
