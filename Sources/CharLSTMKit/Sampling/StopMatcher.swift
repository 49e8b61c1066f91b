/// Ends a text at the first of its stop sequences and holds back the characters that might
/// begin one, so that a stop text is never shown, even when a text is streamed.
///
/// Stops are matched character by character (grapheme ids), as the model produces them: the
/// stop "\n\n" ends a text at two line breaks. A stop of characters outside the model's
/// vocabulary cannot occur (callers warn about it and leave it out).
struct StopMatcher: Sendable {
  /// The stop sequences, none empty.
  let stops: [[Int32]]
  /// Drawn characters not yet released (with their log-probabilities and alternatives): the
  /// longest tail of the text that is a proper prefix of some stop.
  private(set) var held: [Drawn] = []

  init(stops: [[Int32]]) {
    self.stops = stops.filter { !$0.isEmpty }
  }

  /// What a new character does to the text.
  enum Outcome {
    /// These characters are final (possibly none while a stop may be forming).
    case release([Drawn])
    /// A stop was completed: these characters before it are final and the text ends.
    case stop([Drawn])
  }

  /// Adds the next drawn character.
  mutating func push(_ d: Drawn) -> Outcome {
    if stops.isEmpty { return .release([d]) }
    held.append(d)
    // A completed stop: some stop is a suffix of the held tail.
    for s in stops where s.count <= held.count {
      if zip(held.suffix(s.count), s).allSatisfy({ $0.id == $1 }) {
        let before = Array(held.prefix(held.count - s.count))
        held.removeAll()
        return .stop(before)
      }
    }
    // Keep the longest suffix that is a proper prefix of some stop; release what is before it.
    var keep = 0
    for n in stride(from: held.count, through: 1, by: -1) {
      let tail = held.suffix(n)
      if stops.contains(where: { $0.count > n && zip(tail, $0).allSatisfy { $0.id == $1 } }) {
        keep = n
        break
      }
    }
    let released = Array(held.prefix(held.count - keep))
    held.removeFirst(held.count - keep)
    return .release(released)
  }

  /// The text ended otherwise (length, end of text): what was held back is final.
  mutating func flush() -> [Drawn] {
    defer { held.removeAll() }
    return held
  }
}

/// A drawn character: its id, its log-probability and the most likely characters of the
/// distribution it was drawn from (empty unless asked for).
struct Drawn: Sendable {
  var id: Int32
  var logprob: Double
  var alternatives: [Alternative] = []
}
