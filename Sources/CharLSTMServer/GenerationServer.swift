import CharLSTMKit
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import UnixSignals
import Synchronization

/// Why a server could not be set up.
public enum ServerSetupError: Error, Equatable, CustomStringConvertible {
  /// No checkpoint was given.
  case noModels
  /// Two checkpoints have the same id (file name without extension).
  case duplicateModelID(String, paths: [String])
  /// The address could not be bound (in use, not an address of this machine, no permission).
  case cannotListen(host: String, port: Int, reason: String)

  public var description: String {
    switch self {
    case .noModels: return "no checkpoint to serve; pass one or more files written by 'charlstm train'"
    case .duplicateModelID(let id, let paths):
      return "\(paths.joined(separator: " and ")) would both be served as model '\(id)' (the file name without extension); rename or copy one"
    case .cannotListen(let host, let port, let reason):
      return "cannot listen on \(host):\(port): \(reason); pick another --port (0 takes a free one) or --host"
    }
  }
}

/// An HTTP server that speaks OpenAI's completions API over loaded checkpoints:
/// `GET /v1/models`, `POST /v1/completions` (plain or streamed as Server-Sent Events) and
/// `GET /healthz`. Concurrent requests for a model are generated as rows of one batch on one
/// generation thread.
///
/// ```
/// let server = try GenerationServer(models: [try ServedModel.load(path: "shakespeare.safetensors")])
/// try await server.run { port in print("listening on \(port)") }
/// ```
public struct GenerationServer: Sendable {
  public let models: [ServedModel]
  public let configuration: ServerConfiguration
  let engine: GenerationEngine
  let limiter: ConcurrencyLimiter
  let log: @Sendable (String) -> Void

  /// A server for `models` with `configuration`; `log` receives one line per request and the
  /// shutdown notes.
  /// - Throws: ``ServerSetupError`` for no models or two with the same id.
  public init(
    models: [ServedModel], configuration: ServerConfiguration = ServerConfiguration(),
    log: @escaping @Sendable (String) -> Void = { print($0) }
  ) throws(ServerSetupError) {
    if models.isEmpty { throw .noModels }
    for m in models {
      let same = models.filter { $0.id == m.id }
      if same.count > 1 { throw .duplicateModelID(m.id, paths: same.map(\.path)) }
    }
    self.models = models
    self.configuration = configuration
    self.log = log
    engine = GenerationEngine(models: models, rows: configuration.batchRows, weights: configuration.weights)
    limiter = ConcurrencyLimiter(limit: configuration.maxConcurrent)
  }

  /// The routes, behind the OpenAI error shape and the request log.
  public func buildRouter() -> Router<ServeContext> {
    let router = Router(context: ServeContext.self)
    router.middlewares.add(RequestLogMiddleware(log: log))
    router.middlewares.add(OpenAIErrorMiddleware(maxBodyBytes: configuration.maxBodyBytes))
    let models = self.models
    let engine = self.engine
    let limiter = self.limiter
    router.get("healthz") { _, _ -> Response in
      let l = engine.current
      return Self.json(HealthBody(models: models.count, requests: limiter.current, rows: l.rows, waiting: l.waiting, peakRows: l.peakRows))
    }
    router.get("v1/models") { _, _ -> Response in
      Self.json(ModelListBody(data: models.map { .init(id: $0.id, created: $0.created) }))
    }
    router.get("v1/models/:id") { _, context -> Response in
      let id = context.parameters.get("id") ?? ""
      guard let m = models.first(where: { $0.id == id }) else { throw ServeError.unknownModel(id, available: models.map(\.id)) }
      return Self.json(ModelListBody.Entry(id: m.id, created: m.created))
    }
    let completions = CompletionsRoute(models: models, limits: configuration, engine: engine, limiter: limiter)
    router.post("v1/completions") { request, context in try await completions.handle(request, context: context) }
    return router
  }

  /// The Hummingbird application on the configured host and port; `onListening` gets the
  /// bound port (the free one picked for port 0).
  public func buildApplication(onListening: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
    var logger = Logger(label: "charlstm-serve")
    logger.logLevel = .warning
    return Application(
      router: buildRouter(),
      configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "charlstm"),
      onServerRunning: { channel in await onListening(channel.localAddress?.port ?? 0) },
      logger: logger)
  }

  /// Runs until SIGINT or SIGTERM, then stops accepting connections, lets the running requests
  /// finish for up to ``ServerConfiguration/shutdownGrace`` seconds, ends those still running
  /// (503, or an error event when streaming) and returns. A second signal ends them at once.
  /// - Throws: ``ServerSetupError/cannotListen(host:port:reason:)`` when the address cannot be bound.
  public func run(onListening: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
    engine.start()
    defer { engine.stop() }
    var logger = Logger(label: "charlstm-serve")
    logger.logLevel = .warning
    let listening = Mutex(false)
    let announce: @Sendable (Int) async -> Void = { port in
      listening.withLock { $0 = true }
      await onListening(port)
    }
    var config = ServiceGroupConfiguration(services: [buildApplication(onListening: announce)], logger: logger)
    // A backstop only: at the grace deadline the generations are ended, so the requests
    // answer and the server stops by itself well before this.
    config.maximumGracefulShutdownDuration = .seconds(configuration.shutdownGrace + 10)
    config.maximumCancellationDuration = .seconds(5)
    let group = ServiceGroup(configuration: config)
    let signals = await UnixSignalsSequence(trapping: .sigterm, .sigint)
    let grace = configuration.shutdownGrace
    let (engine, limiter, log) = (self.engine, self.limiter, self.log)
    do {
      try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        tasks.addTask {
          var deadline: Task<Void, Never>?
          defer { deadline?.cancel() }
          for await signal in signals {
            let n = limiter.current
            if deadline == nil {
              log("\(signal): shutting down: \(n == 0 ? "no request running" : "finishing \(n) running request\(n == 1 ? "" : "s") (at most \(ServeError.seconds(grace)) s)")")
              await group.triggerGracefulShutdown()
              deadline = Task {
                do { try await Task.sleep(for: .milliseconds(Int64(grace * 1000))) } catch { return }
                if limiter.current > 0 {
                  log("shutdown deadline: ending \(limiter.current) request\(limiter.current == 1 ? "" : "s") still running")
                  engine.failAll(.shuttingDown)
                }
              }
            } else {
              log("\(signal) again: ending \(n) request\(n == 1 ? "" : "s") now")
              engine.failAll(.shuttingDown)
            }
          }
        }
        // The server ends (after a shutdown, or with an error): stop listening for signals.
        try await tasks.next()
        tasks.cancelAll()
      }
    } catch {
      if listening.withLock({ $0 }) { throw error }
      // NIO says e.g. "bind(descriptor:ptr:bytes:): Address already in use (errno: 98)".
      var reason = String(describing: error)
      if let r = reason.range(of: "): ") { reason = String(reason[r.upperBound...]) }
      throw ServerSetupError.cannotListen(host: configuration.host, port: configuration.port, reason: reason)
    }
  }

  static func json<T: Encodable>(_ value: T) -> Response {
    Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: JSON.encode(value))))
  }
}
