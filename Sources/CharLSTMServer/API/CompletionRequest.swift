import CharLSTMKit

/// A `POST /v1/completions` body, as OpenAI's legacy completions API defines it, with
/// charlstm's `top_k`. Lengths are in characters (charlstm's tokens).
///
/// Fields OpenAI has but charlstm does not use (`best_of`, `presence_penalty`, `user`, …) and
/// unknown fields are ignored, as OpenAI's server ignores unknown fields; a known field of the
/// wrong type is an error. `null` means "not given" for every field.
public struct CompletionRequest: Sendable, Equatable {
  /// The id of a loaded checkpoint (its file name without extension).
  public var model: String
  /// The prompts: one for a string, several for a list; `[""]` when absent.
  public var prompts: [String] = [""]
  /// The most characters to generate per choice (OpenAI's default, 16).
  public var maxTokens = 16
  /// Softmax temperature (OpenAI's default, 1); 0 picks the most likely character.
  public var temperature = 1.0
  /// Nucleus sampling: the smallest set of characters whose probability reaches it (1: off).
  public var topP = 1.0
  /// charlstm's own: sample among the K most likely characters (0: off).
  public var topK = 0
  /// Choices per prompt; choice k draws from stream k of the seed, as `generate --count`.
  public var n = 1
  /// Texts that end a choice when produced; they are not part of it.
  public var stop: [String] = []
  /// Seed of the draws; nil takes a random one.
  public var seed: UInt64?
  /// Send Server-Sent Events as the text is produced, ending with `data: [DONE]`.
  public var stream = false
  /// With `stream`: send a last chunk with `usage` (OpenAI's `stream_options.include_usage`).
  public var includeUsage = false
  /// Put the prompt before each choice's text.
  public var echo = false
  /// Return each character's log-probability (OpenAI allows 0 to 5 alternatives; charlstm
  /// returns the drawn character's only).
  public var logprobs: Int?

  /// A request for `model` with OpenAI's defaults.
  public init(model: String) {
    self.model = model
  }

  /// Reads a request body.
  /// - Throws: ``ServeError`` naming the field for a malformed body, a missing `model`, a
  ///   wrong type or a value outside what the field means (temperature 0–100, top_p in (0, 1],
  ///   n ≥ 1, max_tokens ≥ 0, logprobs 0–5). Server limits are checked later, by the planner.
  public static func parse(_ body: [UInt8]) throws(ServeError) -> CompletionRequest {
    let f = Fields(try JSONValue.object(from: body))
    guard let model = try f.string("model") else { throw .missing(param: "model") }
    var r = CompletionRequest(model: model)
    if let p = try f.prompts() { r.prompts = p }
    if let v = try f.integer("max_tokens") {
      guard v >= 0 else { throw .invalidValue(param: "max_tokens", value: "\(v)", expected: "an integer ≥ 0 (characters per choice)") }
      r.maxTokens = v
    }
    if let v = try f.number("temperature") {
      guard v >= 0 && v <= SamplingOptions.maxTemperature else {
        throw .invalidValue(param: "temperature", value: "\(v)", expected: "a number from 0 to 100 (0 = always the most likely character)")
      }
      r.temperature = v
    }
    if let v = try f.number("top_p") {
      guard v > 0 && v <= 1 else { throw .invalidValue(param: "top_p", value: "\(v)", expected: "a number in (0, 1]") }
      r.topP = v
    }
    if let v = try f.integer("top_k") {
      guard v >= 0 && v <= 1 << 24 else { throw .invalidValue(param: "top_k", value: "\(v)", expected: "an integer from 0 (off) to 16,777,216") }
      r.topK = v
    }
    if let v = try f.integer("n") {
      guard v >= 1 else { throw .invalidValue(param: "n", value: "\(v)", expected: "an integer ≥ 1") }
      r.n = v
    }
    if let v = try f.stops() { r.stop = v }
    if let v = try f.seed() { r.seed = v }
    if let v = try f.bool("stream") { r.stream = v }
    if let v = try f.bool("echo") { r.echo = v }
    if let v = try f.integer("logprobs") {
      guard v >= 0 && v <= 5 else { throw .invalidValue(param: "logprobs", value: "\(v)", expected: "an integer from 0 to 5") }
      r.logprobs = v
    }
    if let o = try f.object("stream_options") {
      if let v = try Fields(o, prefix: "stream_options.").bool("include_usage") { r.includeUsage = v }
    }
    return r
  }
}

/// Typed access to the fields of a JSON object; every accessor returns nil for an absent or
/// `null` field and throws ``ServeError/invalidType(param:expected:found:)`` for a wrong type.
private struct Fields {
  let object: [String: JSONValue]
  let prefix: String

  init(_ object: [String: JSONValue], prefix: String = "") {
    self.object = object
    self.prefix = prefix
  }

  func value(_ key: String) -> JSONValue? {
    guard let v = object[key], v != .null else { return nil }
    return v
  }

  func wrong(_ key: String, _ expected: String, _ v: JSONValue) -> ServeError {
    .invalidType(param: prefix + key, expected: expected, found: v.kind)
  }

  func string(_ key: String) throws(ServeError) -> String? {
    guard let v = value(key) else { return nil }
    guard case .string(let s) = v else { throw wrong(key, "a string", v) }
    return s
  }

  func bool(_ key: String) throws(ServeError) -> Bool? {
    guard let v = value(key) else { return nil }
    guard case .bool(let b) = v else { throw wrong(key, "true or false", v) }
    return b
  }

  func object(_ key: String) throws(ServeError) -> [String: JSONValue]? {
    guard let v = value(key) else { return nil }
    guard case .object(let o) = v else { throw wrong(key, "an object", v) }
    return o
  }

  /// An integer; a number with no fraction (16.0) counts, as in OpenAI's server.
  func integer(_ key: String) throws(ServeError) -> Int? {
    guard let v = value(key) else { return nil }
    switch v {
    case .unsigned(let u):
      guard u <= UInt64(Int.max) else { throw .invalidValue(param: prefix + key, value: "\(u)", expected: "a smaller integer") }
      return Int(u)
    case .signed(let i): return Int(i)
    case .number(let d) where d == d.rounded() && abs(d) < 1e15: return Int(d)
    default: throw wrong(key, "an integer", v)
    }
  }

  func number(_ key: String) throws(ServeError) -> Double? {
    guard let v = value(key) else { return nil }
    switch v {
    case .unsigned(let u): return Double(u)
    case .signed(let i): return Double(i)
    case .number(let d): return d
    default: throw wrong(key, "a number", v)
    }
  }

  /// `seed`: an integer from 0 to 2^64 − 1 (the seeds `charlstm generate --seed` takes).
  func seed() throws(ServeError) -> UInt64? {
    guard let v = value("seed") else { return nil }
    switch v {
    case .unsigned(let u): return u
    case .signed(let i): throw .invalidValue(param: "seed", value: "\(i)", expected: "an integer from 0 to 18446744073709551615")
    case .number(let d) where d == d.rounded() && d >= 0 && d < 9e15: return UInt64(d)
    default: throw wrong("seed", "an integer", v)
    }
  }

  /// `prompt`: a string or a non-empty list of strings. Token-id prompts (OpenAI's integer
  /// lists) are refused: a charlstm token is a character, so send the text.
  func prompts() throws(ServeError) -> [String]? {
    guard let v = value("prompt") else { return nil }
    switch v {
    case .string(let s): return [s]
    case .array(let a):
      if a.isEmpty { throw .invalidValue(param: "prompt", value: "an empty list", expected: "a string or a non-empty list of strings") }
      var out: [String] = []
      for (i, e) in a.enumerated() {
        guard case .string(let s) = e else {
          if case .unsigned = e {
            throw .invalidType(param: "prompt", expected: "a string or a list of strings (token-id prompts are not supported: a charlstm token is one character, send the text)", found: "a list of integers")
          }
          throw .invalidType(param: "prompt[\(i)]", expected: "a string", found: e.kind)
        }
        out.append(s)
      }
      return out
    default: throw wrong("prompt", "a string or a list of strings", v)
    }
  }

  /// `stop`: a string or a list of strings.
  func stops() throws(ServeError) -> [String]? {
    guard let v = value("stop") else { return nil }
    switch v {
    case .string(let s): return [s]
    case .array(let a):
      var out: [String] = []
      for (i, e) in a.enumerated() {
        guard case .string(let s) = e else { throw .invalidType(param: "stop[\(i)]", expected: "a string", found: e.kind) }
        out.append(s)
      }
      return out
    default: throw wrong("stop", "a string or a list of strings", v)
    }
  }
}
