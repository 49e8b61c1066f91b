#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

// Beam search: the most likely continuation under the model, found with N hypotheses.
// Shapes: h, c [L, N, H] (one row per live hypothesis); logits [N, V].

/// The most likely continuation of a prompt: N hypotheses kept per step, each extended by
/// every character, the N best kept. A hypothesis ends at `length` characters, at a stop text
/// (not part of its text) or at the end-of-text id. Deterministic: no draws.
///
/// Scores are sums of the model's log-probabilities (temperature 1, no cut), every drawn
/// character counted, a stop text's and the end-of-text id's included. The search ends when
/// no live hypothesis can beat the best ended one (scores only fall), so with N at least
/// the number of possible texts it is exhaustive.
public struct BeamSearch {
  /// Hypotheses kept per step.
  public var width: Int
  /// The most characters of a continuation.
  public var length: Int
  /// Texts that end a hypothesis (as ids); they are not part of its text.
  public var stops: [[Int32]]
  /// The id that ends a hypothesis (documents mode), or nil.
  public var endToken: Int32?
  /// fp32 or bf16 weights.
  public var weights: Kernels.Precision

  /// The widest beam accepted.
  public static let maxWidth = 1024
  /// The most characters the search tree holds (`width × length`, 16 bytes each: 160 MB).
  public static let maxCharacters = 10_000_000

  public init(width: Int, length: Int, stops: [[Int32]] = [], endToken: Int32? = nil, weights: Kernels.Precision = .fp32) {
    self.width = width
    self.length = length
    self.stops = stops.filter { !$0.isEmpty }
    self.endToken = endToken
    self.weights = weights
  }

  /// The best continuation found.
  public struct Result: Sendable, Equatable {
    /// Its characters (without the stop text or end-of-text id that ended it).
    public var tokens: [Int32]
    public var finish: FinishReason
    /// Its score: the sum of log-probabilities of every character drawn.
    public var logprob: Double

    public init(tokens: [Int32], finish: FinishReason, logprob: Double) {
      self.tokens = tokens
      self.finish = finish
      self.logprob = logprob
    }
  }

  /// Throws ``SamplingError/outOfRange(_:value:expected:)`` for a width out of range, or
  /// ``SamplingError/beamTooLong(width:length:maxLength:)``.
  public func validate() throws(SamplingError) {
    if width < 1 || width > Self.maxWidth { throw .outOfRange(.beamWidth, value: "\(width)", expected: "an integer from 1 to 1,024") }
    if length < 0 || length > Self.maxCharacters / max(1, width) {
      throw .beamTooLong(width: width, length: length, maxLength: Self.maxCharacters / max(1, width))
    }
  }

  /// A live hypothesis: its last character's node in the search tree and its score.
  private struct Hypothesis {
    var node: Int
    var score: Double
  }

  /// Searches for the most likely continuation of `prompt` (at least one id) under `model`.
  public func run(model: CharModel<Float>, prompt: [Int32]) -> Result {
    precondition(!prompt.isEmpty, "beam search needs at least one prompt id")
    precondition(width >= 1 && length >= 0, "beam search needs width ≥ 1 and length ≥ 0")
    if length == 0 { return Result(tokens: [], finish: .length, logprob: 0) }
    let c = model.config
    let (L, H, V, N) = (c.layers, c.hiddenSize, c.vocabSize, width)
    let session = InferenceSession(model: model, batch: N, weights: weights)
    var h = [Float](repeating: 0, count: L * N * H)
    var cs = h
    var nextH = h
    var nextC = h
    var logits = [Float](repeating: 0, count: N * V)
    var inputs = [Int32](repeating: 0, count: N)
    func step(_ m: Int) {
      inputs.withUnsafeBufferPointer { t in
        h.withUnsafeMutableBufferPointer { hp in
          cs.withUnsafeMutableBufferPointer { cp in
            logits.withUnsafeMutableBufferPointer { l in
              session.step(rows: m, tokens: t.baseAddress!, h: hp.baseAddress!, c: cp.baseAddress!, stride: N, logits: l)
            }
          }
        }
      }
    }
    // Prime one row with the prompt; its last id's logits start the search.
    for id in prompt {
      inputs[0] = id
      step(1)
    }
    // The search tree: each node is one character and its parent's node (−1: the prompt), so a
    // step costs O(N·V) whatever the length; texts are read back only when one ends.
    var nodes: [(parent: Int, id: Int32)] = []
    func text(_ node: Int) -> [Int32] {
      var out: [Int32] = []
      var n = node
      while n >= 0 {
        out.append(nodes[n].id)
        n = nodes[n].parent
      }
      return out.reversed()
    }
    /// Whether `stop` ends the text of `node` followed by `id`.
    func ends(_ node: Int, _ id: Int32, with stop: [Int32]) -> Bool {
      guard stop.last == id else { return false }
      var n = node
      for k in stride(from: stop.count - 2, through: 0, by: -1) {
        guard n >= 0, nodes[n].id == stop[k] else { return false }
        n = nodes[n].parent
      }
      return true
    }
    var live = [Hypothesis(node: -1, score: 0)]
    var best: Result?
    var logp = [Double](repeating: 0, count: V)
    for t in 1...length {
      // Every extension of every live hypothesis, scored; the N best that go on are kept.
      var candidates: [(score: Double, parent: Int, id: Int32)] = []
      candidates.reserveCapacity(live.count * V)
      for (b, hyp) in live.enumerated() {
        logits.withUnsafeBufferPointer { l in
          let row = UnsafeBufferPointer(rebasing: l[(b * V)..<((b + 1) * V)])
          var mx = -Double.infinity
          for v in row { mx = max(mx, Double(v)) }
          var total = 0.0
          for v in row { total += exp(Double(v) - mx) }
          let logZ = mx + log(total)
          for j in 0..<V { logp[j] = Double(row[j]) - logZ }
        }
        for j in 0..<V { candidates.append((hyp.score + logp[j], b, Int32(j))) }
      }
      // Highest score first; ties by parent, then id, so the search is deterministic.
      candidates.sort { $0.score != $1.score ? $0.score > $1.score : ($0.parent != $1.parent ? $0.parent < $1.parent : $0.id < $1.id) }
      var next: [Hypothesis] = []
      var parents: [Int] = []
      for cand in candidates {
        if let b = best, cand.score <= b.logprob { break }  // sorted: nothing after can win
        let parentNode = live[cand.parent].node
        var ended: (FinishReason, () -> [Int32])?
        if cand.id == endToken {
          ended = (.end, { text(parentNode) })
        } else if let s = stops.first(where: { ends(parentNode, cand.id, with: $0) }) {
          ended = (.stop, { Array((text(parentNode) + [cand.id]).dropLast(s.count)) })
        } else if t == length {
          ended = (.length, { text(parentNode) + [cand.id] })
        }
        if let (f, tokens) = ended {
          // Candidates come best first, so the first ended one beats every later one.
          best = Result(tokens: tokens(), finish: f, logprob: cand.score)
          continue
        }
        if next.count < N {
          nodes.append((parentNode, cand.id))
          next.append(Hypothesis(node: nodes.count - 1, score: cand.score))
          parents.append(cand.parent)
        }
      }
      // No live hypothesis can beat the best ended one: scores only fall.
      if let b = best, next.allSatisfy({ $0.score <= b.logprob }) { break }
      if next.isEmpty { break }
      // Rows follow their parents: copy each parent's state into the new row.
      for l in 0..<L {
        for (r, p) in parents.enumerated() {
          let dst = (l * N + r) * H, src = (l * N + p) * H
          for j in 0..<H {
            nextH[dst + j] = h[src + j]
            nextC[dst + j] = cs[src + j]
          }
        }
      }
      swap(&h, &nextH)
      swap(&cs, &nextC)
      live = next
      for (r, hyp) in live.enumerated() { inputs[r] = nodes[hyp.node].id }
      step(live.count)
    }
    return best ?? Result(tokens: [], finish: .length, logprob: 0)
  }
}
