// Many texts generated as rows of one batch: texts join and leave between steps.
// Shapes: h, c [L, capacity, H]; logits [capacity, V]; m = active rows.

/// Why a text ended.
public enum FinishReason: String, Sendable, Codable, Equatable {
  /// `length`: the character limit; `stop`: a stop text was produced (it is not part of the
  /// text); `end`: the model produced the end-of-text symbol (documents mode).
  case length, stop, end
}

/// One text to generate: its prompt, its draws and what ends it.
public struct TextRequest: Sendable {
  /// Ids that prime the model; at least one (``Sampler/defaultStartToken`` for an empty prompt).
  public var prompt: [Int32]
  /// Temperature, top-k, top-p, `length` (the most characters) and `seed`; `count` and
  /// `precision` belong to the batch and are not read.
  public var options: SamplingOptions
  /// Which text of `options.seed` this is: text k draws from
  /// `SeededGenerator(seed:stream: k)`, so a text is the same alone, as one of `--count`
  /// texts, or beside other requests in a batch.
  public var stream: Int
  /// Texts (as ids) that end the text when produced; they are not part of it.
  public var stops: [[Int32]]
  /// The end-of-text id that ends the text when drawn (documents mode), or nil.
  public var endToken: Int32?
  /// How many of the most likely characters to report with each drawn one (0 to
  /// ``maxAlternatives``): OpenAI's `logprobs: N`.
  public var alternatives: Int
  /// The most ``alternatives`` a request may ask for.
  public static let maxAlternatives = 20

  public init(prompt: [Int32], options: SamplingOptions, stream: Int = 0, stops: [[Int32]] = [], endToken: Int32? = nil, alternatives: Int = 0) {
    precondition(!prompt.isEmpty, "a request needs at least one prompt id")
    precondition((0...Self.maxAlternatives).contains(alternatives), "alternatives must be 0 to \(Self.maxAlternatives)")
    self.prompt = prompt
    self.options = options
    self.stream = stream
    self.stops = stops
    self.endToken = endToken
    self.alternatives = alternatives
  }
}

/// One of the most likely characters of a draw's distribution.
public struct Alternative: Sendable, Equatable {
  public var id: Int32
  /// Its log-probability under the distribution the character was drawn from.
  public var logprob: Double

  public init(id: Int32, logprob: Double) {
    self.id = id
    self.logprob = logprob
  }
}

/// What happens to a text during a step.
public enum TextEvent: Sendable, Equatable {
  /// A final character of the text and its log-probability under the distribution it was
  /// drawn from, with the request's ``TextRequest/alternatives`` most likely characters of
  /// that distribution (most likely first; empty when none were asked for). Characters that
  /// may begin a stop text are reported once they cannot.
  case token(Int32, logprob: Double, alternatives: [Alternative])
  /// The text ended; `logprob` sums every character drawn, the stop text's and the
  /// end-of-text symbol's included; `characters` counts the text's characters (those reported).
  case finished(FinishReason, characters: Int, logprob: Double)
}

/// Generates many texts at once as rows of one batch: each step advances every active text by
/// one character with one product per weight matrix, whatever their prompts, options or
/// progress. Texts join with ``add(_:)`` and leave when they end or are cancelled, between steps.
///
/// Each text's characters depend only on its own request: the same request gives the same
/// text alone or among others (its row's arithmetic does not depend on the other rows).
/// Not thread-safe: one thread adds, cancels and steps.
public final class TextBatch {
  /// The most texts stepped together.
  public let capacity: Int
  public let config: ModelConfig
  private let session: InferenceSession<Float>
  private var h: [Float]
  private var c: [Float]
  private var logits: [Float]
  private var tokens: [Int32]
  private var drawer: Drawer
  private var rows: [Row] = []
  /// Texts that ended before any step (length 0), reported at the next step.
  private var endedEarly: [Int] = []
  private var nextID = 0

  /// One text in progress.
  private struct Row {
    let id: Int
    let request: TextRequest
    var rng: SeededGenerator
    var stops: StopMatcher
    /// Prompt ids fed so far.
    var fed = 0
    /// Characters drawn so far.
    var drawn = 0
    /// Characters reported so far.
    var reported = 0
    var logprob = 0.0
    /// The id fed at the next step.
    var input: Int32
  }

  /// A batch for up to `capacity` texts of `model`, with its weights held in `weights` precision.
  public init(model: CharModel<Float>, capacity: Int, weights: Kernels.Precision = .fp32) {
    precondition(capacity >= 1, "capacity must be ≥ 1")
    self.capacity = capacity
    config = model.config
    session = InferenceSession(model: model, batch: capacity, weights: weights)
    let n = config.layers * capacity * config.hiddenSize
    h = [Float](repeating: 0, count: n)
    c = h
    logits = [Float](repeating: 0, count: capacity * config.vocabSize)
    tokens = [Int32](repeating: 0, count: capacity)
    drawer = Drawer(vocabularySize: config.vocabSize)
  }

  /// Texts in progress.
  public var active: Int { rows.count + endedEarly.count }
  /// Whether ``add(_:)`` can take another text.
  public var hasRoom: Bool { rows.count < capacity }

  /// Starts a text from a zero state; returns its id, used in the events and by ``cancel(_:)``.
  /// - Precondition: ``hasRoom``, and the request's ids are in the vocabulary.
  @discardableResult
  public func add(_ request: TextRequest) -> Int {
    precondition(hasRoom, "the batch is full (\(capacity) texts)")
    let V = Int32(config.vocabSize)
    precondition(request.prompt.allSatisfy { $0 >= 0 && $0 < V }, "prompt ids outside the vocabulary [0, \(V))")
    let id = nextID
    nextID += 1
    if request.options.length == 0 {
      endedEarly.append(id)
      return id
    }
    let m = rows.count
    let H = config.hiddenSize
    for l in 0..<config.layers {
      let at = (l * capacity + m) * H
      for j in 0..<H {
        h[at + j] = 0
        c[at + j] = 0
      }
    }
    rows.append(
      Row(
        id: id, request: request, rng: SeededGenerator(seed: request.options.seed, stream: request.stream),
        stops: StopMatcher(stops: request.stops), input: request.prompt[0]))
    return id
  }

  /// Ends a text at once, with no further event (a client that went away).
  public func cancel(_ id: Int) {
    if let k = endedEarly.firstIndex(of: id) { endedEarly.remove(at: k) }
    if let r = rows.firstIndex(where: { $0.id == id }) { remove(row: r) }
  }

  /// Advances every text by one model step and reports what happened, text by text in row
  /// order: ``TextEvent/token(_:logprob:alternatives:)`` for each final character, then
  /// ``TextEvent/finished(_:characters:logprob:)`` once. A text still reading its prompt
  /// reports nothing. Throwing from `emit` stops the step; the batch stays consistent only
  /// for the texts already handled, so callers should then discard it.
  public func step(_ emit: (Int, TextEvent) throws -> Void) rethrows {
    for id in endedEarly { try emit(id, .finished(.length, characters: 0, logprob: 0)) }
    endedEarly.removeAll()
    let m = rows.count
    if m == 0 { return }
    for b in 0..<m { tokens[b] = rows[b].input }
    tokens.withUnsafeBufferPointer { t in
      h.withUnsafeMutableBufferPointer { hp in
        c.withUnsafeMutableBufferPointer { cp in
          logits.withUnsafeMutableBufferPointer { l in
            session.step(rows: m, tokens: t.baseAddress!, h: hp.baseAddress!, c: cp.baseAddress!, stride: capacity, logits: l)
          }
        }
      }
    }
    let V = config.vocabSize
    var ended: [Int] = []
    for b in 0..<m {
      let prompt = rows[b].request.prompt
      if rows[b].fed + 1 < prompt.count {
        // Still priming: the next prompt id is the next input; these logits are not used.
        rows[b].fed += 1
        rows[b].input = prompt[rows[b].fed]
        continue
      }
      rows[b].fed = prompt.count
      var top: [Alternative] = []
      let (id, lp) = logits.withUnsafeBufferPointer { l in
        drawer.draw(
          UnsafeBufferPointer(rebasing: l[(b * V)..<((b + 1) * V)]), rows[b].request.options, &rows[b].rng,
          alternatives: rows[b].request.alternatives, into: &top)
      }
      rows[b].drawn += 1
      rows[b].logprob += lp
      rows[b].input = id
      var finish: FinishReason?
      var final: [Drawn]
      if id == rows[b].request.endToken {
        final = rows[b].stops.flush()
        finish = .end
      } else {
        switch rows[b].stops.push(Drawn(id: id, logprob: lp, alternatives: top)) {
        case .release(let r): final = r
        case .stop(let r):
          final = r
          finish = .stop
        }
        if finish == nil && rows[b].drawn >= rows[b].request.options.length {
          final += rows[b].stops.flush()
          finish = .length
        }
      }
      for t in final { try emit(rows[b].id, .token(t.id, logprob: t.logprob, alternatives: t.alternatives)) }
      rows[b].reported += final.count
      if let f = finish {
        try emit(rows[b].id, .finished(f, characters: rows[b].reported, logprob: rows[b].logprob))
        ended.append(b)
      }
    }
    for b in ended.reversed() { remove(row: b) }
  }

  /// Steps until every text has ended (texts added from `emit` included).
  public func run(_ emit: (Int, TextEvent) throws -> Void) rethrows {
    while active > 0 { try step(emit) }
  }

  /// Removes row `r`, moving the last row (and its state) into its place.
  private func remove(row r: Int) {
    let last = rows.count - 1
    if r != last {
      let H = config.hiddenSize
      for l in 0..<config.layers {
        let dst = (l * capacity + r) * H
        let src = (l * capacity + last) * H
        for j in 0..<H {
          h[dst + j] = h[src + j]
          c[dst + j] = c[src + j]
        }
      }
      rows[r] = rows[last]
    }
    rows.removeLast()
  }
}
