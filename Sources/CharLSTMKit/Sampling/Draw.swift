#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Draws the next character from one row of logits: softmax(logits / T), restricted by top-k
/// and top-p, renormalized. Holds the scratch of one vocabulary; no allocation per draw.
struct Drawer {
  /// Scratch: indices sorted by decreasing logit [V], unnormalized probabilities [V].
  private var order: [Int32]
  private var probs: [Double]

  init(vocabularySize V: Int) {
    order = [Int32](repeating: 0, count: V)
    probs = [Double](repeating: 0, count: V)
  }

  /// One draw and its log-probability under the distribution actually sampled from (after
  /// temperature, top-k and top-p). Greedy draws (temperature ≈ 0) report the log-probability
  /// of the chosen character under the model's own distribution (temperature 1), as a point
  /// mass would always report 0.
  ///
  /// With `alternatives` n > 0, `top` is set to the n most likely characters of that same
  /// distribution (fewer when fewer can be drawn), most likely first, ties by id; greedy
  /// draws report them under the model's own distribution, as their log-probability.
  mutating func draw(
    _ logits: UnsafeBufferPointer<Float>, _ o: SamplingOptions, _ rng: inout SeededGenerator,
    alternatives n: Int = 0, into top: inout [Alternative]
  ) -> (id: Int32, logprob: Double) {
    let V = logits.count
    if o.isGreedy {
      var best = 0
      for j in 1..<V where logits[j] > logits[best] { best = j }
      if n > 0 {
        let lse = Self.logSumExp(logits)
        top = Self.largest(n, of: V) { Double(logits[$0]) }.map { Alternative(id: Int32($0), logprob: Double(logits[$0]) - lse) }
      }
      return (Int32(best), Self.logSoftmax(logits, at: best))
    }
    var kept = V
    let restricted = (o.topK > 0 && o.topK < V) || o.topP < 1
    if restricted {
      for j in 0..<V { order[j] = Int32(j) }
      order.sort { logits[Int($0)] != logits[Int($1)] ? logits[Int($0)] > logits[Int($1)] : $0 < $1 }
      if o.topK > 0 { kept = min(kept, o.topK) }
    }
    // Softmax over the kept candidates, subtracting the maximum first.
    let invT = 1 / o.temperature
    var mx = -Double.infinity
    for r in 0..<kept { mx = max(mx, Double(logits[restricted ? Int(order[r]) : r])) }
    var total = 0.0
    for r in 0..<kept {
      let p = exp((Double(logits[restricted ? Int(order[r]) : r]) - mx) * invT)
      probs[r] = p
      total += p
    }
    if o.topP < 1 {
      // Smallest prefix (by decreasing probability) whose mass reaches P.
      var mass = 0.0
      for r in 0..<kept {
        mass += probs[r]
        if mass >= o.topP * total {
          kept = r + 1
          total = mass
          break
        }
      }
    }
    if n > 0 {
      // The kept candidates: rows 0..<kept of `probs` (in `order` when restricted, else by id).
      top = Self.largest(min(n, kept), of: kept) { probs[$0] }.map {
        Alternative(id: Int32(restricted ? Int(order[$0]) : $0), logprob: log(probs[$0] / total))
      }
    }
    var u = rng.nextUnitDouble() * total
    var pick = kept - 1
    for r in 0..<kept {
      u -= probs[r]
      if u < 0 {
        pick = r
        break
      }
    }
    return (Int32(restricted ? Int(order[pick]) : pick), log(probs[pick] / total))
  }

  /// The indices of the `n` largest values among 0..<count, largest first, ties by index
  /// (n is small: one pass per pick).
  static func largest(_ n: Int, of count: Int, _ value: (Int) -> Double) -> [Int] {
    var picked: [Int] = []
    picked.reserveCapacity(min(n, count))
    for _ in 0..<min(n, count) {
      var best = -1
      for j in 0..<count where !picked.contains(j) {
        if best < 0 || value(j) > value(best) { best = j }
      }
      picked.append(best)
    }
    return picked
  }

  /// log Σ exp(logits) at temperature 1.
  static func logSumExp(_ logits: UnsafeBufferPointer<Float>) -> Double {
    var mx = -Double.infinity
    for v in logits { mx = max(mx, Double(v)) }
    var total = 0.0
    for v in logits { total += exp(Double(v) - mx) }
    return mx + log(total)
  }

  /// log softmax(logits)[j] at temperature 1.
  static func logSoftmax(_ logits: UnsafeBufferPointer<Float>, at j: Int) -> Double {
    var mx = -Double.infinity
    for v in logits { mx = max(mx, Double(v)) }
    var total = 0.0
    for v in logits { total += exp(Double(v) - mx) }
    return Double(logits[j]) - mx - log(total)
  }
}
