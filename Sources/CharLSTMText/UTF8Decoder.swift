/// Validating UTF-8 → UTF-16 transcoding that reports the byte offset of the first bad byte.
///
/// Rejects what the Unicode standard calls ill-formed: stray continuation bytes, truncated
/// sequences, overlong forms, surrogates (U+D800–U+DFFF) and values above U+10FFFF.
enum UTF8Decoder {
  /// Decodes `bytes[start...]` into `out` until at least `maxUnits` units were appended or the
  /// input ends; never splits a code point.
  /// - Returns: the byte offset where decoding stopped.
  /// - Throws: the (relative to `bytes`) offset of the first ill-formed byte.
  static func decode(
    _ bytes: UnsafeBufferPointer<UInt8>, from start: Int, maxUnits: Int, into out: inout [UInt16]
  ) throws(InvalidOffset) -> Int {
    var i = start
    let n = bytes.count
    let limit = out.count + maxUnits
    while i < n && out.count < limit {
      let b0 = bytes[i]
      if b0 < 0x80 {
        // A run of ASCII, widened in one loop (no per-unit append).
        var j = i + 1
        let end = min(n, i + (limit - out.count))
        while j < end && bytes[j] < 0x80 { j += 1 }
        let at = out.count
        out.append(contentsOf: repeatElement(0, count: j - i))
        out.withUnsafeMutableBufferPointer { o in
          for k in 0..<(j - i) { o[at + k] = UInt16(bytes[i + k]) }
        }
        i = j
        continue
      }
      let need: Int
      var cp: UInt32
      var lower: UInt8 = 0x80
      var upper: UInt8 = 0xBF
      switch b0 {
      case 0xC2...0xDF: need = 1; cp = UInt32(b0 & 0x1F)
      case 0xE0: need = 2; cp = 0; lower = 0xA0
      case 0xE1...0xEC, 0xEE...0xEF: need = 2; cp = UInt32(b0 & 0x0F)
      case 0xED: need = 2; cp = 0x0D; upper = 0x9F
      case 0xF0: need = 3; cp = 0; lower = 0x90
      case 0xF1...0xF3: need = 3; cp = UInt32(b0 & 0x07)
      case 0xF4: need = 3; cp = 4; upper = 0x8F
      default: throw InvalidOffset(offset: i)
      }
      for k in 1...need {
        // Cut off by the end of the input: the sequence starting at i is incomplete (the end
        // itself is no byte to point at).
        guard i + k < n else { throw InvalidOffset(offset: i) }
        let b = bytes[i + k]
        if k == 1 {
          guard b >= lower && b <= upper else { throw InvalidOffset(offset: i + k) }
        } else {
          guard b & 0xC0 == 0x80 else { throw InvalidOffset(offset: i + k) }
        }
        cp = (cp << 6) | UInt32(b & 0x3F)
      }
      if cp >= 0x10000 {
        let v = cp - 0x10000
        out.append(UInt16(0xD800 + (v >> 10)))
        out.append(UInt16(0xDC00 + (v & 0x3FF)))
      } else {
        out.append(UInt16(cp))
      }
      i += need + 1
    }
    return i
  }

  struct InvalidOffset: Error { let offset: Int }
}
