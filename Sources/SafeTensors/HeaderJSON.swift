// A small strict JSON parser for safetensors headers.
//
// Foundation's JSONSerialization silently accepts duplicate keys (last one wins) and recurses
// without a depth limit, which makes it a poor fit for untrusted headers. This parser:
// - keeps object members in file order (tensor order matters),
// - rejects duplicate keys (including canonically equivalent ones),
// - limits nesting depth,
// - accepts only the RFC 8259 grammar (no trailing commas, no leading zeros, no NaN),
// - decodes string escapes, including \uXXXX surrogate pairs, rejecting lone surrogates,
// - parses numbers without floating point: it records whether a number is a non-negative
//   integer that fits in `Int` and never allocates more than a short lexeme for messages.
// The input must already be valid UTF-8 (see `firstInvalidUTF8Offset`).

/// A JSON number, kept as what the validator needs.
struct JSONNumber: Sendable, Equatable {
  /// The lexeme, shortened for messages.
  var text: String
  /// True for a leading minus sign.
  var isNegative: Bool
  /// True when there is no fraction and no exponent.
  var isInteger: Bool
  /// The value when it is a non-negative integer that fits in `Int`, else nil.
  var intValue: Int?
}

/// A parsed JSON value; objects keep their members in order.
indirect enum JSONValue: Sendable {
  case object([JSONMember])
  case array([JSONValue])
  case string(String)
  case number(JSONNumber)
  case bool(Bool)
  case null

  /// A human name of the value's JSON type, for messages.
  var typeName: String {
    switch self {
    case .object: "an object"
    case .array: "an array"
    case .string: "a string"
    case .number: "a number"
    case .bool: "a boolean"
    case .null: "null"
    }
  }
}

/// One `key: value` pair of a JSON object.
struct JSONMember: Sendable {
  var key: String
  var value: JSONValue
}

/// A syntax error at a byte offset of the header; `duplicateKey` is set for repeated keys.
struct JSONSyntaxError: Error {
  var message: String
  var offset: Int
  var duplicateKey: String? = nil
}

struct StrictJSONParser {
  static let maxDepth = 32

  private let b: UnsafeBufferPointer<UInt8>
  private var i = 0

  private init(_ b: UnsafeBufferPointer<UInt8>) { self.b = b }

  /// Parses a complete document: one value surrounded by optional whitespace.
  static func parse(_ bytes: UnsafeBufferPointer<UInt8>) throws(JSONSyntaxError) -> JSONValue {
    var p = StrictJSONParser(bytes)
    p.skipWhitespace()
    let value = try p.parseValue(depth: 0)
    p.skipWhitespace()
    if p.i != bytes.count {
      throw p.fail("unexpected \(p.describeCurrent()) after the JSON value")
    }
    return value
  }

  private func fail(_ message: String) -> JSONSyntaxError {
    JSONSyntaxError(message: message, offset: i)
  }

  private func describeCurrent() -> String {
    guard i < b.count else { return "end of header" }
    let c = b[i]
    if c >= 0x21 && c < 0x7F { return "character '\(Character(Unicode.Scalar(c)))' at byte \(i)" }
    return "byte 0x\(String(c, radix: 16)) at byte \(i)"
  }

  private mutating func skipWhitespace() {
    while i < b.count {
      switch b[i] {
      case 0x20, 0x09, 0x0A, 0x0D: i += 1
      default: return
      }
    }
  }

  private mutating func parseValue(depth: Int) throws(JSONSyntaxError) -> JSONValue {
    guard i < b.count else { throw fail("unexpected end of header, expected a value") }
    switch b[i] {
    case UInt8(ascii: "{"): return try parseObject(depth: depth + 1)
    case UInt8(ascii: "["): return try parseArray(depth: depth + 1)
    case UInt8(ascii: "\""): return .string(try parseString())
    case UInt8(ascii: "t"): try expectLiteral("true"); return .bool(true)
    case UInt8(ascii: "f"): try expectLiteral("false"); return .bool(false)
    case UInt8(ascii: "n"): try expectLiteral("null"); return .null
    case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try parseNumber())
    default: throw fail("unexpected \(describeCurrent()), expected a value")
    }
  }

  private mutating func expectLiteral(_ word: StaticString) throws(JSONSyntaxError) {
    let n = word.utf8CodeUnitCount
    let ok = word.withUTF8Buffer { w in
      i + n <= b.count && (0..<n).allSatisfy { b[i + $0] == w[$0] }
    }
    guard ok else { throw fail("invalid literal at byte \(i)") }
    i += n
  }

  private mutating func parseObject(depth: Int) throws(JSONSyntaxError) -> JSONValue {
    if depth > Self.maxDepth { throw fail("nesting deeper than \(Self.maxDepth) levels at byte \(i)") }
    i += 1  // {
    var members: [JSONMember] = []
    var seen = Set<String>()
    skipWhitespace()
    if i < b.count && b[i] == UInt8(ascii: "}") {
      i += 1
      return .object(members)
    }
    while true {
      skipWhitespace()
      guard i < b.count && b[i] == UInt8(ascii: "\"") else {
        throw fail("expected a string key, found \(describeCurrent())")
      }
      let keyOffset = i
      let key = try parseString()
      guard seen.insert(key).inserted else {
        throw JSONSyntaxError(
          message: "duplicate key at byte \(keyOffset)", offset: keyOffset, duplicateKey: key)
      }
      skipWhitespace()
      guard i < b.count && b[i] == UInt8(ascii: ":") else {
        throw fail("expected ':' after a key, found \(describeCurrent())")
      }
      i += 1
      skipWhitespace()
      let value = try parseValue(depth: depth)
      members.append(JSONMember(key: key, value: value))
      skipWhitespace()
      guard i < b.count else { throw fail("unexpected end of header inside an object") }
      if b[i] == UInt8(ascii: ",") {
        i += 1
        continue
      }
      if b[i] == UInt8(ascii: "}") {
        i += 1
        return .object(members)
      }
      throw fail("expected ',' or '}', found \(describeCurrent())")
    }
  }

  private mutating func parseArray(depth: Int) throws(JSONSyntaxError) -> JSONValue {
    if depth > Self.maxDepth { throw fail("nesting deeper than \(Self.maxDepth) levels at byte \(i)") }
    i += 1  // [
    var elements: [JSONValue] = []
    skipWhitespace()
    if i < b.count && b[i] == UInt8(ascii: "]") {
      i += 1
      return .array(elements)
    }
    while true {
      skipWhitespace()
      elements.append(try parseValue(depth: depth))
      skipWhitespace()
      guard i < b.count else { throw fail("unexpected end of header inside an array") }
      if b[i] == UInt8(ascii: ",") {
        i += 1
        continue
      }
      if b[i] == UInt8(ascii: "]") {
        i += 1
        return .array(elements)
      }
      throw fail("expected ',' or ']', found \(describeCurrent())")
    }
  }

  private static func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }

  private mutating func parseNumber() throws(JSONSyntaxError) -> JSONNumber {
    let start = i
    var negative = false
    if b[i] == UInt8(ascii: "-") {
      negative = true
      i += 1
    }
    guard i < b.count && Self.isDigit(b[i]) else { throw fail("invalid number at byte \(start)") }
    var value: Int? = 0
    if b[i] == UInt8(ascii: "0") {
      i += 1
      if i < b.count && Self.isDigit(b[i]) { throw fail("number with a leading zero at byte \(start)") }
    } else {
      while i < b.count && Self.isDigit(b[i]) {
        if let v = value {
          let (m, o1) = v.multipliedReportingOverflow(by: 10)
          let (s, o2) = m.addingReportingOverflow(Int(b[i] &- 0x30))
          value = (o1 || o2) ? nil : s
        }
        i += 1
      }
    }
    var integer = true
    if i < b.count && b[i] == UInt8(ascii: ".") {
      integer = false
      i += 1
      guard i < b.count && Self.isDigit(b[i]) else { throw fail("invalid fraction at byte \(start)") }
      while i < b.count && Self.isDigit(b[i]) { i += 1 }
    }
    if i < b.count && (b[i] == UInt8(ascii: "e") || b[i] == UInt8(ascii: "E")) {
      integer = false
      i += 1
      if i < b.count && (b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-")) { i += 1 }
      guard i < b.count && Self.isDigit(b[i]) else { throw fail("invalid exponent at byte \(start)") }
      while i < b.count && Self.isDigit(b[i]) { i += 1 }
    }
    let shown = min(i - start, 40)
    var text = String(decoding: UnsafeBufferPointer(rebasing: b[start..<start + shown]), as: UTF8.self)
    if i - start > shown { text += "…" }
    return JSONNumber(
      text: text, isNegative: negative, isInteger: integer,
      intValue: (!negative && integer) ? value : nil)
  }

  private mutating func hex4() throws(JSONSyntaxError) -> UInt32 {
    guard i + 4 <= b.count else { throw fail("truncated \\u escape at byte \(i)") }
    var v: UInt32 = 0
    for k in 0..<4 {
      let c = b[i + k]
      let d: UInt32
      switch c {
      case 0x30...0x39: d = UInt32(c - 0x30)
      case 0x41...0x46: d = UInt32(c - 0x41 + 10)
      case 0x61...0x66: d = UInt32(c - 0x61 + 10)
      default: throw fail("invalid hex digit in \\u escape at byte \(i + k)")
      }
      v = v << 4 | d
    }
    i += 4
    return v
  }

  /// Parses a string starting at the opening quote; leaves `i` after the closing quote.
  private mutating func parseString() throws(JSONSyntaxError) -> String {
    let open = i
    i += 1
    var out: [UInt8] = []
    var runStart = i
    while true {
      guard i < b.count else { throw JSONSyntaxError(message: "unterminated string starting at byte \(open)", offset: open) }
      let c = b[i]
      if c == UInt8(ascii: "\"") {
        if out.isEmpty {
          let s = String(decoding: UnsafeBufferPointer(rebasing: b[runStart..<i]), as: UTF8.self)
          i += 1
          return s
        }
        out.append(contentsOf: UnsafeBufferPointer(rebasing: b[runStart..<i]))
        i += 1
        return String(decoding: out, as: UTF8.self)
      }
      if c < 0x20 { throw fail("unescaped control character in a string at byte \(i)") }
      if c != UInt8(ascii: "\\") {
        i += 1
        continue
      }
      out.append(contentsOf: UnsafeBufferPointer(rebasing: b[runStart..<i]))
      i += 1
      guard i < b.count else { throw fail("unterminated escape") }
      let e = b[i]
      i += 1
      switch e {
      case UInt8(ascii: "\""): out.append(0x22)
      case UInt8(ascii: "\\"): out.append(0x5C)
      case UInt8(ascii: "/"): out.append(0x2F)
      case UInt8(ascii: "b"): out.append(0x08)
      case UInt8(ascii: "f"): out.append(0x0C)
      case UInt8(ascii: "n"): out.append(0x0A)
      case UInt8(ascii: "r"): out.append(0x0D)
      case UInt8(ascii: "t"): out.append(0x09)
      case UInt8(ascii: "u"):
        var v = try hex4()
        if (0xD800...0xDBFF).contains(v) {
          guard i + 2 <= b.count && b[i] == UInt8(ascii: "\\") && b[i + 1] == UInt8(ascii: "u") else {
            throw fail("high surrogate without a low surrogate before byte \(i)")
          }
          i += 2
          let low = try hex4()
          guard (0xDC00...0xDFFF).contains(low) else { throw fail("invalid low surrogate before byte \(i)") }
          v = 0x10000 + ((v - 0xD800) << 10) + (low - 0xDC00)
        } else if (0xDC00...0xDFFF).contains(v) {
          throw fail("lone low surrogate before byte \(i)")
        }
        // Cannot fail: surrogates were excluded and v <= 0x10FFFF.
        guard let scalar = Unicode.Scalar(v) else { throw fail("invalid escape before byte \(i)") }
        UTF8.encode(scalar) { out.append($0) }
      default:
        throw fail("invalid escape '\\\(Character(Unicode.Scalar(e)))' at byte \(i - 2)")
      }
      runStart = i
    }
  }
}

/// The header's strict JSON rules for JSON found inside a header, such as a metadata value
/// that is itself a JSON document (Foundation's decoders accept duplicate keys and silently keep one).
public enum StrictJSON {
  /// Why `text` is not one JSON value under the header's rules (RFC 8259 only, no duplicate
  /// keys, nesting at most 32 deep), or nil when it is one.
  public static func problem(in text: String) -> String? {
    var text = text
    return text.withUTF8 { b -> String? in
      do throws(JSONSyntaxError) {
        _ = try StrictJSONParser.parse(b)
        return nil
      } catch {
        if let key = error.duplicateKey { return "duplicate key \(quote(key))" }
        return error.message
      }
    }
  }
}

/// The offset of the first byte that is not part of well-formed UTF-8, or nil if all is valid.
///
/// The standard library's UTF-8 parser decides (the one validator, not a hand-written copy):
/// it rejects overlong encodings, surrogates and scalars above U+10FFFF; the offset is where the
/// first ill-formed sequence starts.
func firstInvalidUTF8Offset(_ b: UnsafeBufferPointer<UInt8>) -> Int? {
  var parser = Unicode.UTF8.ForwardParser()
  var bytes = b.makeIterator()
  var offset = 0
  while true {
    switch parser.parseScalar(from: &bytes) {
    case .valid(let scalar): offset += scalar.count
    case .emptyInput: return nil
    case .error: return offset
    }
  }
}
