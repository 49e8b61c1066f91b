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
  mutating func draw(_ logits: UnsafeBufferPointer<Float>, _ o: SamplingOptions, _ rng: inout SeededGenerator) -> (id: Int32, logprob: Double) {
    let V = logits.count
    if o.isGreedy {
      var best = 0
      for j in 1..<V where logits[j] > logits[best] { best = j }
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

  /// log softmax(logits)[j] at temperature 1.
  static func logSoftmax(_ logits: UnsafeBufferPointer<Float>, at j: Int) -> Double {
    var mx = -Double.infinity
    for v in logits { mx = max(mx, Double(v)) }
    var total = 0.0
    for v in logits { total += exp(Double(v) - mx) }
    return Double(logits[j]) - mx - log(total)
  }
}
