import Foundation
import Hummingbird

/// Turns every error into OpenAI's error object with its status, so that no request gets a
/// bare status or a framework-shaped body: ``ServeError`` as it is, Hummingbird's own errors
/// (no route, body too large) mapped to the nearest ``ServeError``.
struct OpenAIErrorMiddleware: RouterMiddleware {
  typealias Context = ServeContext
  let maxBodyBytes: Int

  func handle(_ request: Request, context: ServeContext, next: (Request, ServeContext) async throws -> Response) async throws -> Response {
    do {
      return try await next(request, context)
    } catch let e as ServeError {
      return Self.response(e)
    } catch let e as HTTPError {
      switch e.status.code {
      case 404, 405: return Self.response(.notFound(method: request.method.rawValue, path: request.uri.path))
      case 413: return Self.response(.bodyTooLarge(bytes: nil, limit: maxBodyBytes))
      default: return Self.response(.http(status: e.status.code, message: e.body ?? e.status.reasonPhrase))
      }
    } catch is CancellationError {
      // The client went away (or the server is being cut at its deadline): nobody reads this.
      context.stats.note("client closed")
      return Response(status: .init(code: 499, reasonPhrase: "Client Closed Request"))
    } catch {
      return Self.response(.internalError(String(describing: error)))
    }
  }

  static func response(_ e: ServeError, headers: HTTPFields = [:]) -> Response {
    var h = headers
    h[.contentType] = "application/json"
    return Response(status: .init(code: e.status), headers: h, body: .init(byteBuffer: ByteBuffer(bytes: JSON.encode(ErrorBody(e)))))
  }
}

/// One line per request once its response is written (a stream's last byte included):
/// `POST /v1/completions 200 · 200 chars · 812 ms`.
struct RequestLogMiddleware: RouterMiddleware {
  typealias Context = ServeContext
  let log: @Sendable (String) -> Void

  func handle(_ request: Request, context: ServeContext, next: (Request, ServeContext) async throws -> Response) async throws -> Response {
    let start = ContinuousClock.now
    let method = request.method.rawValue
    let path = request.uri.path
    let stats = context.stats
    let log = self.log
    var response = try await next(request, context)
    let status = response.status.code
    let body = response.body
    response.body = ResponseBody(contentLength: body.contentLength) { writer in
      var failed = false
      do {
        try await body.write(writer)
      } catch {
        failed = true
        stats.note("client closed")
      }
      let ms = (ContinuousClock.now - start) / .milliseconds(1)
      let note = stats.remark.map { " · \($0)" } ?? ""
      log("\(method) \(path) \(status) · \(stats.characters) chars · \(Self.format(ms)) ms\(note)")
      if failed { throw CancellationError() }
    }
    return response
  }

  static func format(_ ms: Double) -> String {
    ms < 10 ? String(format: "%.1f", ms) : String(Int(ms.rounded()))
  }
}
