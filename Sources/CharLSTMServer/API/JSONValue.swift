import Foundation

/// Any JSON value, read without a schema so that each field's type is checked by hand and a
/// wrong type is reported with what was found (`'n' must be an integer, got a string ("2")`).
enum JSONValue: Decodable, Equatable, Sendable {
  case null
  case bool(Bool)
  /// A non-negative integer (kept exactly up to 2^64 − 1).
  case unsigned(UInt64)
  /// A negative integer.
  case signed(Int64)
  /// Any other number.
  case number(Double)
  case string(String)
  case array([JSONValue])
  case object([String: JSONValue])

  init(from decoder: any Decoder) throws {
    let c = try decoder.singleValueContainer()
    if c.decodeNil() {
      self = .null
    } else if let b = try? c.decode(Bool.self) {
      self = .bool(b)
    } else if let u = try? c.decode(UInt64.self) {
      self = .unsigned(u)
    } else if let i = try? c.decode(Int64.self) {
      self = .signed(i)
    } else if let d = try? c.decode(Double.self) {
      self = .number(d)
    } else if let s = try? c.decode(String.self) {
      self = .string(s)
    } else if let a = try? c.decode([JSONValue].self) {
      self = .array(a)
    } else {
      self = .object(try c.decode([String: JSONValue].self))
    }
  }

  /// Parses `bytes` as one JSON object.
  /// - Throws: ``ServeError/invalidJSON(detail:)`` when it is not JSON or not an object.
  static func object(from bytes: [UInt8]) throws(ServeError) -> [String: JSONValue] {
    let value: JSONValue
    do {
      value = try JSONDecoder().decode(JSONValue.self, from: Data(bytes))
    } catch {
      let detail: String
      if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) {
        detail = "the body is empty"
      } else if case DecodingError.dataCorrupted(let ctx) = error {
        let under = (ctx.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String
        detail = "malformed JSON" + ((under ?? ctx.debugDescription).isEmpty ? "" : " (\(under ?? ctx.debugDescription))")
      } else {
        detail = "malformed JSON"
      }
      throw .invalidJSON(detail: detail)
    }
    guard case .object(let o) = value else { throw .invalidJSON(detail: "the body is \(value.kind), not an object") }
    return o
  }

  /// What the value is, for messages: `a string ("hot")`, `a number (1.5)`, `an array`.
  var kind: String {
    switch self {
    case .null: return "null"
    case .bool(let b): return b ? "true" : "false"
    case .unsigned(let u): return "an integer (\(u))"
    case .signed(let i): return "an integer (\(i))"
    case .number(let d): return "a number (\(d))"
    case .string(let s):
      let shown = s.count > 40 ? String(s.prefix(40)) + "…" : s
      return "a string (\"\(ServeError.visible(shown))\")"
    case .array: return "an array"
    case .object: return "an object"
    }
  }
}
