// What a Trainer needs to split its batch over processes: the carried state of a shard's
// streams, the whole batch's state gathered from every shard, and a fingerprint of the run.
import Foundation

extension LSTMState where S == Float {
  /// The state of streams `range` only: [L, B, H] → [L, range.count, H].
  func streams(_ range: Range<Int>) -> LSTMState<Float> {
    var part = LSTMState<Float>(layers: layers, batch: range.count, hidden: hidden)
    for l in 0..<layers {
      let from = (l * batch + range.lowerBound) * hidden
      let to = l * range.count * hidden
      let n = range.count * hidden
      part.h.replaceSubrange(to..<(to + n), with: h[from..<(from + n)])
      part.c.replaceSubrange(to..<(to + n), with: c[from..<(from + n)])
    }
    return part
  }

  /// The whole batch's state [L, B, H] from every process's shard [L, B_shard, H] (a collective
  /// operation). Each process fills its streams into a state of −0.0 and the states are summed:
  /// −0.0 is the exact identity of IEEE addition (x + −0.0 = x for every x, ±0 included), so
  /// the gathered values are bit for bit the shards' values.
  static func gathered(_ part: LSTMState<Float>, shard: StreamShard, over collective: any Collective) throws -> LSTMState<Float> {
    if shard.count == shard.total { return part }
    var whole = LSTMState<Float>(layers: part.layers, batch: shard.total, hidden: part.hidden)
    let H = part.hidden
    for i in whole.h.indices {
      whole.h[i] = -0.0
      whole.c[i] = -0.0
    }
    for l in 0..<part.layers {
      let to = (l * shard.total + shard.range.lowerBound) * H
      let from = l * shard.count * H
      let n = shard.count * H
      whole.h.replaceSubrange(to..<(to + n), with: part.h[from..<(from + n)])
      whole.c.replaceSubrange(to..<(to + n), with: part.c[from..<(from + n)])
    }
    try whole.h.withUnsafeMutableBufferPointer { try collective.sum($0) }
    try whole.c.withUnsafeMutableBufferPointer { try collective.sum($0) }
    return whole
  }
}

extension Trainer {
  /// A 64-bit hash of everything that decides what this process will train: the model's
  /// shape and weights, the training configuration, the run's position and random state, the
  /// optimizer's step, the tokenizer's vocabulary and the corpus fingerprint. Ranks of one
  /// distributed run must agree on it before the first step.
  /// - Complexity: O(parameters), one pass over the weights.
  public var fingerprint: UInt64 {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    func json<T: Encodable>(_ v: T) -> String { (try? encoder.encode(v)).map { String(decoding: $0, as: UTF8.self) } ?? "?" }
    var h = FNV1a()
    h.add(json(model.config))
    h.add(json(config))
    h.add(json(state))
    h.add(json(corpus))
    h.add("optimizer \(optimizer.kind.rawValue) \(optimizer.step)")
    h.add(tokenizer.vocabulary.symbols.joined(separator: "\u{1}"))
    model.parameters.withUnsafeBytes { h.add($0) }
    return h.value
  }
}

extension Trainer {
  /// Checks that every process holds the same weights (before each save): they take the same
  /// steps from the same summed gradients, so any difference is a broken transport or a rank
  /// that is not running the same program. A collective operation.
  /// - Throws: ``TrainingError/processesDrifted(step:)``.
  func checkProcessesAgree() throws {
    guard collective.size > 1 else { return }
    var h = FNV1a()
    model.parameters.withUnsafeBytes { h.add($0) }
    let highest = try collective.maximum(of: h.value)
    let lowest = ~(try collective.maximum(of: ~h.value))
    if highest != lowest { throw TrainingError.processesDrifted(step: state.step) }
  }
}
