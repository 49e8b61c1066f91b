import Hummingbird
import Synchronization

/// The request context of `charlstm serve`: Hummingbird's core context and what the request
/// log line reports.
public struct ServeContext: RequestContext {
  public var coreContext: CoreRequestContextStorage
  /// Filled in by the handler, read by the log line once the response is written.
  let stats = RequestStats()

  public init(source: ApplicationRequestContextSource) {
    coreContext = .init(source: source)
  }
}

/// What one request produced, for its log line.
final class RequestStats: Sendable {
  private struct Values {
    var characters = 0
    var note: String?
  }
  private let values = Mutex(Values())

  /// Adds generated characters.
  func add(characters n: Int) { values.withLock { $0.characters += n } }
  /// A remark for the log line ("client closed", "timed out").
  func note(_ s: String) { values.withLock { $0.note = s } }

  var characters: Int { values.withLock { $0.characters } }
  var remark: String? { values.withLock { $0.note } }
}

/// Counts the completion requests being answered and refuses those beyond the limit.
final class ConcurrencyLimiter: Sendable {
  let limit: Int
  private let running = Mutex(0)

  init(limit: Int) { self.limit = limit }

  /// A permit when fewer than `limit` are running, else nil.
  func acquire() -> Permit? {
    let ok = running.withLock { n -> Bool in
      guard n < limit else { return false }
      n += 1
      return true
    }
    return ok ? Permit(self) : nil
  }

  /// Requests holding a permit.
  var current: Int { running.withLock { $0 } }

  fileprivate func release() { running.withLock { $0 -= 1 } }

  /// One running request; released once, explicitly or when dropped.
  final class Permit: Sendable {
    private let limiter: ConcurrencyLimiter
    private let held = Mutex(true)
    fileprivate init(_ l: ConcurrencyLimiter) { limiter = l }
    func release() {
      if held.withLock({ h in defer { h = false }; return h }) { limiter.release() }
    }
    deinit { release() }
  }
}
