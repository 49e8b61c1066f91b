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
/// characters have `null`; `top_logprobs` is `null` (alternatives are not reported).
struct LogprobsBody: Encodable {
  var tokens: [String] = []
  var tokenLogprobs: [Double?] = []
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
    try c.encodeNil(forKey: .topLogprobs)
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
