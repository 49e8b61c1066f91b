import CharLSTMKit

/// Where the server listens and the limits it enforces. Every limit has a safe default and a
/// `charlstm serve` flag of the same name.
public struct ServerConfiguration: Sendable, Equatable {
  /// The address to bind: loopback by default.
  public var host = "127.0.0.1"
  /// The port; 0 takes a free one (printed on the "listening" line).
  public var port = 8080
  /// The largest request body in bytes (`--max-body-bytes`): beyond it, 413.
  public var maxBodyBytes = 1 << 20
  /// The largest `max_tokens` (`--max-tokens`): beyond it, 400.
  public var maxTokens = 4096
  /// The most choices per request, `n` × prompts (`--max-n`): beyond it, 400.
  public var maxN = 16
  /// The longest prompt in characters (`--max-prompt-characters`): beyond it, 400.
  public var maxPromptCharacters = 4096
  /// Completion requests answered at once (`--max-concurrent`): beyond it, 429 with
  /// `Retry-After`.
  public var maxConcurrent = 128
  /// Seconds a completion may run, from its arrival (`--request-timeout`); then it is stopped
  /// with 503 (or an error event when streaming). 0 turns the limit off.
  public var requestTimeout = 300.0
  /// Seconds the running requests get to finish after SIGINT or SIGTERM (`--shutdown-grace`);
  /// then they are cut and the server exits.
  public var shutdownGrace = 30.0
  /// The most texts of one model stepped together (`--batch-rows`); further choices wait
  /// for a free row.
  public var batchRows = 256
  /// The seconds a 429 tells the client to wait (`Retry-After`).
  public var retryAfter = 1
  /// The weights' format while generating (`--precision`: `auto` is bf16, as `generate`).
  public var weights: Kernels.Precision = .bf16

  /// The defaults.
  public init() {}
}
