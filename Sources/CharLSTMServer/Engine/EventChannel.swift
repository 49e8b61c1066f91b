import CharLSTMKit
import Synchronization

/// What the generation thread tells a request handler.
enum GenerationEvent: Sendable, Equatable {
  /// Choice `choice` has a final character `id` with its log-probability and the most likely
  /// characters of its distribution (as many as the request's `logprobs` asks).
  case token(choice: Int, id: Int32, logprob: Double, alternatives: [Alternative])
  /// Choice `choice` ended, with `characters` characters.
  case finished(choice: Int, reason: FinishReason, characters: Int)
  /// The generation was stopped for every choice (time limit, shutdown).
  case failed(ServeError)
}

/// Carries events from the generation thread to one request handler. The generation thread
/// appends a step's events at once and wakes the handler, which takes everything that arrived
/// since it last looked: a slow client gets several characters per write instead of a backlog
/// of single-character wake-ups.
final class EventChannel: Sendable {
  private struct State {
    var events: [GenerationEvent] = []
    var closed = false
  }
  private let state = Mutex(State())
  private let wakeups: AsyncStream<Void>
  private let wake: AsyncStream<Void>.Continuation

  init() {
    (wakeups, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
  }

  /// Appends `events` (from the generation thread); `close` marks the last of them.
  func post(_ events: [GenerationEvent], close: Bool) {
    state.withLock {
      $0.events += events
      if close { $0.closed = true }
    }
    wake.yield()
    if close { wake.finish() }
  }

  /// Everything posted since the last call, and whether no more will come.
  func take() -> (events: [GenerationEvent], closed: Bool) {
    state.withLock { s in
      defer { s.events.removeAll() }
      return (s.events, s.closed)
    }
  }

  /// Calls `body` with each batch of events as it arrives, until the last one (returns true)
  /// or until the task is cancelled (returns false). `body` throwing ends the loop.
  func forEach(_ body: ([GenerationEvent]) async throws -> Void) async rethrows -> Bool {
    for await _ in wakeups {
      let (events, closed) = take()
      if !events.isEmpty { try await body(events) }
      if closed { return true }
    }
    let (events, closed) = take()
    if !events.isEmpty { try await body(events) }
    return closed
  }
}
