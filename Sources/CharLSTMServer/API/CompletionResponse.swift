import Foundation

// The bodies the server sends, in OpenAI's shapes. `null` fields are written out (OpenAI's
// clients expect `"logprobs": null`, `"finish_reason": null` in stream chunks).

/// `POST /v1/completions`: the whole answer, or (with `stream`) one Server-Sent Event's chunk.
struct CompletionBody: Encodable {
  var id: String
  var created: Int
  var model: String
  var choices: [ChoiceBody]
  /// Absent in stream chunks but the optional last one.
  var usage: UsageBody?

  enum CodingKeys: String, CodingKey { case id, object, created, model, choices, usage }

  func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(id, forKey: .id)
    try c.encode("text_completion", forKey: .object)
    try c.encode(created, forKey: .created)
    try c.encode(model, forKey: .model)
    try c.encode(choices, forKey: .choices)
    try c.encodeIfPresent(usage, forKey: .usage)
  }
}

/// One choice: `text`, `index`, `logprobs`, `finish_reason` (`length` or `stop`).
struct ChoiceBody: Encodable {
  var text: String
  var index: Int
  var logprobs: LogprobsBody?
  var finishReason: String?

  enum CodingKeys: String, CodingKey { case text, index, logprobs, finishReason = "finish_reason" }

  func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(text, forKey: .text)
    try c.encode(index, forKey: .index)
    if let logprobs { try c.encode(logprobs, forKey: .logprobs) } else { try c.encodeNil(forKey: .logprobs) }
    if let finishReason { try c.encode(finishReason, forKey: .finishReason) } else { try c.encodeNil(forKey: .finishReason) }
  }
}

/// OpenAI's legacy `logprobs` object. A token is one character; its log-probability is under
/// the distribution it was drawn from (after temperature, top-k and top-p); echoed prompt
/// characters have `null`. `top_logprobs` holds, per character, the `logprobs: N` most likely
/// characters of that distribution with their log-probabilities (`null` for echoed prompt
/// characters; the whole field `null` for `logprobs: 0`).
struct LogprobsBody: Encodable {
  var tokens: [String] = []
  var tokenLogprobs: [Double?] = []
  /// nil: `logprobs: 0` (no alternatives asked for).
  var topLogprobs: [[String: Double]?]?
  /// Offsets in Unicode scalars from the start of the choice's text (echo included).
  var textOffset: [Int] = []

  enum CodingKeys: String, CodingKey {
    case tokens, tokenLogprobs = "token_logprobs", topLogprobs = "top_logprobs", textOffset = "text_offset"
  }

  func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(tokens, forKey: .tokens)
    var lp = c.nestedUnkeyedContainer(forKey: .tokenLogprobs)
    for v in tokenLogprobs {
      if let v, v.isFinite { try lp.encode(v) } else { try lp.encodeNil() }
    }
    if let topLogprobs {
      var top = c.nestedUnkeyedContainer(forKey: .topLogprobs)
      for entry in topLogprobs {
        // A log-probability that underflowed to −∞ has no JSON number: left out.
        if let entry { try top.encode(entry.filter { $0.value.isFinite }) } else { try top.encodeNil() }
      }
    } else {
      try c.encodeNil(forKey: .topLogprobs)
    }
    try c.encode(textOffset, forKey: .textOffset)
  }
}

/// Characters in the prompts (each prompt once, whatever `n`) and generated.
struct UsageBody: Encodable {
  var promptTokens: Int
  var completionTokens: Int

  enum CodingKeys: String, CodingKey {
    case promptTokens = "prompt_tokens", completionTokens = "completion_tokens", totalTokens = "total_tokens"
  }

  func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(promptTokens, forKey: .promptTokens)
    try c.encode(completionTokens, forKey: .completionTokens)
    try c.encode(promptTokens + completionTokens, forKey: .totalTokens)
  }
}

/// `GET /v1/models`.
struct ModelListBody: Encodable {
  struct Entry: Encodable {
    var id: String
    var object = "model"
    var created: Int
    var ownedBy = "charlstm"
    enum CodingKeys: String, CodingKey { case id, object, created, ownedBy = "owned_by" }
  }
  var object = "list"
  var data: [Entry]
}

/// `{"error": {"message", "type", "param", "code"}}`.
struct ErrorBody: Encodable {
  struct Detail: Encodable {
    var message: String
    var type: String
    var param: String?
    var code: String
    enum CodingKeys: String, CodingKey { case message, type, param, code }
    func encode(to encoder: any Encoder) throws {
      var c = encoder.container(keyedBy: CodingKeys.self)
      try c.encode(message, forKey: .message)
      try c.encode(type, forKey: .type)
      if let param { try c.encode(param, forKey: .param) } else { try c.encodeNil(forKey: .param) }
      try c.encode(code, forKey: .code)
    }
  }
  var error: Detail

  init(_ e: ServeError) {
    error = Detail(message: e.description, type: e.type, param: e.param, code: e.code)
  }
}

/// `GET /healthz`: what the generation thread is doing.
struct HealthBody: Encodable {
  var status = "ok"
  var models: Int
  /// Completion requests being answered.
  var requests: Int
  /// Choices being generated (batch rows) and waiting for a row.
  var rows: Int
  var waiting: Int
  /// The most rows of one model stepped together since the start.
  var peakRows: Int
  enum CodingKeys: String, CodingKey { case status, models, requests, rows, waiting, peakRows = "peak_rows" }
}

/// JSON with stable key order and unescaped slashes.
enum JSON {
  static func encode<T: Encodable>(_ value: T) -> [UInt8] {
    let e = JSONEncoder()
    e.outputFormatting = [.withoutEscapingSlashes, .sortedKeys]
    // The bodies hold only strings, integers and finite numbers: encoding cannot fail.
    return Array((try? e.encode(value)) ?? Data("{}".utf8))
  }
}

/// The stream chunks of one completion that carry text only (no `logprobs`), written by hand:
/// the same bytes ``JSON/encode(_:)`` gives for ``CompletionBody`` with one ``ChoiceBody``
/// (sorted keys, slashes unescaped), without an encoder per character step. What stays the same
/// in every chunk of a request (id, created, model) is encoded once.
struct TextChunkWriter {
  /// `],"created":…,"id":"…","model":"…","object":"text_completion"}` + the event's end.
  private let tail: [UInt8]

  init(id: String, created: Int, model: String) {
    var t = Array(#"],"created":\#(created),"id":"#.utf8)
    Self.appendString(id, to: &t)
    t += Array(#","model":"#.utf8)
    Self.appendString(model, to: &t)
    t += Array(#","object":"text_completion"}"#.utf8) + [10, 10]
    tail = t
  }

  /// Appends `data: {…}\n\n` for choice `index` with `text` and `finishReason` (nil: `null`).
  func append(text: String, index: Int, finishReason: String?, to out: inout [UInt8]) {
    out += Array(#"data: {"choices":[{"finish_reason":"#.utf8)
    if let finishReason { Self.appendString(finishReason, to: &out) } else { out += Array("null".utf8) }
    out += Array(#","index":\#(index),"logprobs":null,"text":"#.utf8)
    Self.appendString(text, to: &out)
    out += Array("}".utf8)
    out += tail
  }

  /// A JSON string literal as Foundation's encoder writes it: `"` and `\` escaped, control
  /// characters as `\b \t \n \f \r` or `\u00XX`, everything else (slashes, non-ASCII) as is.
  static func appendString(_ s: String, to out: inout [UInt8]) {
    out.append(0x22)
    for b in s.utf8 {
      switch b {
      case 0x22: out += [0x5C, 0x22]
      case 0x5C: out += [0x5C, 0x5C]
      case 0x08: out += [0x5C, 0x62]
      case 0x09: out += [0x5C, 0x74]
      case 0x0A: out += [0x5C, 0x6E]
      case 0x0C: out += [0x5C, 0x66]
      case 0x0D: out += [0x5C, 0x72]
      case 0..<0x20:
        let hex = Array("0123456789abcdef".utf8)
        out += [0x5C, 0x75, 0x30, 0x30, hex[Int(b >> 4)], hex[Int(b & 15)]]
      default: out.append(b)
      }
    }
    out.append(0x22)
  }
}
