import ArgumentParser
import CharLSTMKit
import CharLSTMServer
import Dispatch
import Foundation
import Synchronization

/// `charlstm serve CKPT…`: an HTTP server speaking OpenAI's completions API.
struct ServeCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "serve",
    abstract: "Serve checkpoints over HTTP with OpenAI's completions API.",
    discussion: """
      GET /v1/models lists the checkpoints (id: the file name without extension); \
      POST /v1/completions generates (model, prompt, max_tokens in characters, temperature, \
      top_p, top_k, n, stop, seed, stream, echo, logprobs); GET /healthz answers probes. \
      Concurrent requests for a model are generated together, one batch per character step; \
      the same request and seed give the text 'charlstm generate' gives with the same options. \
      SIGINT or SIGTERM let the running requests finish (up to --shutdown-grace seconds) and \
      exit 0. One line per request goes to standard error.

      Examples:
        charlstm serve checkpoints/tinyshakespeare.safetensors --port 8080
        curl -s localhost:8080/v1/completions -H 'Content-Type: application/json' \\
          -d '{"model": "tinyshakespeare", "prompt": "ROMEO:", "max_tokens": 200, "seed": 7}'
      """)

  @Argument(help: "Checkpoints written by 'charlstm train'; each is served as the model named by its file name without extension.")
  var checkpoints: [String]

  @Option(help: "The address to listen on (0.0.0.0 for every interface).")
  var host = "127.0.0.1"

  @Option(help: "The port; 0 picks a free one (printed on the 'listening' line).")
  var port = 8080

  @Option(help: "The largest request body in bytes (larger: 413).")
  var maxBodyBytes = ServerConfiguration().maxBodyBytes

  @Option(help: "The largest max_tokens a request may ask for, in characters (larger: 400).")
  var maxTokens = ServerConfiguration().maxTokens

  @Option(help: "The most choices per request, n × prompts (more: 400).")
  var maxN = ServerConfiguration().maxN

  @Option(help: "The longest prompt in characters (longer: 400).")
  var maxPromptCharacters = ServerConfiguration().maxPromptCharacters

  @Option(help: "Completion requests answered at once (more: 429 with Retry-After).")
  var maxConcurrent = ServerConfiguration().maxConcurrent

  @Option(help: "Seconds a completion may run before it is stopped (503, or an error event when streaming); 0 = no limit.")
  var requestTimeout = ServerConfiguration().requestTimeout

  @Option(help: "Seconds the running requests get to finish after SIGINT or SIGTERM.")
  var shutdownGrace = ServerConfiguration().shutdownGrace

  @Option(help: "The most texts of one model generated together (one batch); further choices wait for a free row.")
  var batchRows = ServerConfiguration().batchRows

  @OptionGroup var threads: ThreadOptions
  @OptionGroup var numerics: PrecisionOptions

  var serverConfiguration: ServerConfiguration {
    var c = ServerConfiguration()
    c.host = host
    c.port = port
    c.maxBodyBytes = maxBodyBytes
    c.maxTokens = maxTokens
    c.maxN = maxN
    c.maxPromptCharacters = maxPromptCharacters
    c.maxConcurrent = maxConcurrent
    c.requestTimeout = requestTimeout
    c.shutdownGrace = shutdownGrace
    c.batchRows = batchRows
    c.weights = numerics.generationWeights
    return c
  }

  func validate() throws {
    if checkpoints.isEmpty { throw ValidationError("give at least one checkpoint to serve") }
    func range<T: Comparable>(_ name: String, _ v: T, _ lo: T, _ hi: T, _ expected: String) throws {
      if !(v >= lo && v <= hi) { throw ValidationError("--\(name) \(v) is invalid: expected \(expected)") }
    }
    try range("port", port, 0, 65535, "0 (any free port) to 65535")
    try range("max-body-bytes", maxBodyBytes, 64, 1 << 30, "64 to 1073741824 bytes")
    try range("max-tokens", maxTokens, 1, 10_000_000, "1 to 10,000,000 characters")
    try range("max-n", maxN, 1, 1024, "1 to 1,024 choices")
    try range("max-prompt-characters", maxPromptCharacters, 1, 1_000_000, "1 to 1,000,000 characters")
    try range("max-concurrent", maxConcurrent, 1, 100_000, "1 to 100,000 requests")
    try range("request-timeout", requestTimeout, 0, 86_400, "0 (no limit) to 86,400 seconds")
    try range("shutdown-grace", shutdownGrace, 0, 3_600, "0 to 3,600 seconds")
    try range("batch-rows", batchRows, 1, 4096, "1 to 4,096 rows")
  }

  func run() throws {
    threads.apply()
    var models: [ServedModel] = []
    for path in checkpoints { models.append(try ServedModel.load(path: path)) }
    let config = serverConfiguration
    let server = try GenerationServer(models: models, configuration: config, log: { Output.note($0) })
    let summary = models.map { "\($0.id) (\($0.config.layers)×\($0.config.hiddenSize), V \($0.config.vocabSize))" }.joined(separator: ", ")
    let weights = config.weights == .bf16 ? "bf16" : "fp32"
    let host = config.host
    let outcome = Mutex<(any Error)?>(nil)
    let done = DispatchSemaphore(value: 0)
    // The server runs on Swift concurrency's pool; its generation thread is its own.
    Task.detached {
      do {
        try await server.run { port in
          Output.write("charlstm serve: listening on http://\(host):\(port) · \(summary) · \(weights) weights · \(Kernels.threads) threads\n")
        }
      } catch {
        outcome.withLock { $0 = error }
      }
      done.signal()
    }
    done.wait()
    if let error = outcome.withLock({ $0 }) { throw error }
    Output.note("charlstm serve: stopped")
  }
}
