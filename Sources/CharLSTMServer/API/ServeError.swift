/// Why the server refused or ended a request, in the terms of OpenAI's error object:
/// `{"error": {"message", "type", "param", "code"}}` with the HTTP status OpenAI uses.
///
/// Every case names the values involved, so a client sees what to change.
public enum ServeError: Error, Equatable, Sendable, CustomStringConvertible {
  /// The body is not JSON, or not a JSON object.
  case invalidJSON(detail: String)
  /// A field has the wrong JSON type: `expected` says what it takes, `found` what came.
  case invalidType(param: String, expected: String, found: String)
  /// A field has a value of the right type outside what is accepted.
  case invalidValue(param: String, value: String, expected: String)
  /// A required field is absent.
  case missing(param: String)
  /// No loaded checkpoint has this id.
  case unknownModel(String, available: [String])
  /// The prompt has characters the model's vocabulary lacks (each listed once).
  case unknownCharacters(model: String, characters: [String])
  /// The body is larger than the server takes.
  case bodyTooLarge(bytes: Int?, limit: Int)
  /// The server is already running its limit of concurrent generations.
  case tooManyRequests(limit: Int)
  /// The generation ran longer than the per-request time limit and was stopped.
  case timedOut(seconds: Double)
  /// The server is shutting down and ended the generation.
  case shuttingDown
  /// No route has this method and path.
  case notFound(method: String, path: String)
  /// Another HTTP-level refusal (from the HTTP framework), with its status.
  case http(status: Int, message: String)
  /// A bug: the server could not answer.
  case internalError(String)

  /// The HTTP status of this error.
  public var status: Int {
    switch self {
    case .invalidJSON, .invalidType, .invalidValue, .missing, .unknownCharacters: return 400
    case .unknownModel, .notFound: return 404
    case .bodyTooLarge: return 413
    case .tooManyRequests: return 429
    case .timedOut, .shuttingDown: return 503
    case .internalError: return 500
    case .http(let s, _): return s
    }
  }

  /// OpenAI's `type`: `invalid_request_error` for what the client can fix, else a server kind.
  public var type: String {
    switch self {
    case .tooManyRequests: return "rate_limit_error"
    case .timedOut, .shuttingDown, .internalError: return "server_error"
    case .http(let s, _): return s >= 500 ? "server_error" : "invalid_request_error"
    default: return "invalid_request_error"
    }
  }

  /// The request field at fault, when there is one.
  public var param: String? {
    switch self {
    case .invalidType(let p, _, _), .invalidValue(let p, _, _), .missing(let p): return p
    case .unknownModel: return "model"
    case .unknownCharacters: return "prompt"
    default: return nil
    }
  }

  /// A stable machine-readable code.
  public var code: String {
    switch self {
    case .invalidJSON: return "invalid_json"
    case .invalidType: return "invalid_type"
    case .invalidValue: return "invalid_value"
    case .missing: return "missing_required_parameter"
    case .unknownModel: return "model_not_found"
    case .unknownCharacters: return "unknown_characters"
    case .bodyTooLarge: return "request_too_large"
    case .tooManyRequests: return "rate_limit_exceeded"
    case .timedOut: return "timeout"
    case .shuttingDown: return "server_shutting_down"
    case .notFound: return "not_found"
    case .internalError: return "internal_error"
    case .http(let s, _): return "http_\(s)"
    }
  }

  public var description: String {
    switch self {
    case .invalidJSON(let d): return "the request body is not a JSON object: \(d)"
    case .invalidType(let p, let e, let f): return "'\(p)' must be \(e), got \(f)"
    case .invalidValue(let p, let v, let e): return "'\(p)' is \(v): expected \(e)"
    case .missing(let p): return "'\(p)' is required"
    case .unknownModel(let m, let a):
      return "the model '\(m)' does not exist; this server has \(a.map { "'\($0)'" }.joined(separator: ", ")) (GET /v1/models lists them)"
    case .unknownCharacters(let m, let cs):
      let shown = cs.map { "'\(Self.visible($0))'" }.joined(separator: ", ")
      return "the prompt has \(cs.count == 1 ? "a character" : "\(cs.count) characters") outside the vocabulary of '\(m)': \(shown)"
    case .bodyTooLarge(let b, let l):
      return "the request body\(b.map { " of \($0) bytes" } ?? "") is larger than this server's limit of \(l) bytes (--max-body-bytes)"
    case .tooManyRequests(let l):
      return "the server is running its limit of \(l) concurrent requests (--max-concurrent); retry after the time in Retry-After"
    case .timedOut(let s):
      return "the generation ran longer than this server's limit of \(Self.seconds(s)) s per request (--request-timeout) and was stopped; ask for fewer max_tokens or n"
    case .shuttingDown: return "the server is shutting down; the generation was stopped"
    case .notFound(let m, let p): return "no route \(m) \(p); this server answers GET /v1/models, POST /v1/completions and GET /healthz"
    case .http(_, let m): return m
    case .internalError(let d): return "internal error: \(d)"
    }
  }

  /// A character as text a person can read in a message: control characters as `\u{…}`.
  static func visible(_ s: String) -> String {
    var out = ""
    for u in s.unicodeScalars {
      switch u {
      case "\n": out += "\\n"
      case "\t": out += "\\t"
      case "\r": out += "\\r"
      case "'": out += "\\'"
      default:
        if u.properties.generalCategory == .control || u.properties.generalCategory == .format {
          out += "\\u{\(String(u.value, radix: 16, uppercase: true))}"
        } else {
          out.unicodeScalars.append(u)
        }
      }
    }
    return out
  }

  static func seconds(_ s: Double) -> String {
    s == s.rounded() ? String(Int(s)) : String(s)
  }
}
