// Inverted dropout with a stored mask: forward and backward side by side. Shapes legend in Config.swift.

import CharLSTMKernels

/// Inverted dropout of probability p: `y = x ⊙ m` with `m = 1/(1−p)` w.p. 1−p, else 0.
///
/// The mask is drawn once per window in training (row-major, one `nextUnitDouble()` per element,
/// element kept iff the draw is ≥ p) and kept for the backward pass, which is `dx = dy ⊙ m`.
/// With p = 0 or in evaluation dropout is the identity and draws nothing.
enum Dropout {
  /// Draws a mask into `mask` [count]: each entry is `1/(1−p)` (kept) or 0 (dropped).
  /// - Parameters:
  ///   - p: drop probability in [0, 1).
  ///   - generator: the source of the draws, advanced by exactly `count` values.
  static func drawMask<S: KernelScalar>(
    count: Int, p: Double, generator: inout SeededGenerator, mask: UnsafeMutablePointer<S>
  ) {
    let keep = S(1 / (1 - p))
    for i in 0..<count { mask[i] = generator.nextUnitDouble() >= p ? keep : 0 }
  }

  /// Draws the mask [T·B_shard, H] of a shard's streams exactly as the whole batch's mask
  /// [T·B, H] would be drawn (time-major, stream, unit), keeping only the shard's entries, so a
  /// process training streams `shard.range` uses the masks a single process would for them.
  /// - Parameters:
  ///   - steps: T.
  ///   - shard: which streams of the global batch B = `shard.total` the mask is for.
  ///   - width: H.
  ///   - generator: advanced by exactly T·B·H values, whatever the shard.
  static func drawMask<S: KernelScalar>(
    steps: Int, shard: StreamShard, width: Int, p: Double, generator: inout SeededGenerator,
    mask: UnsafeMutablePointer<S>
  ) {
    if shard.count == shard.total {
      drawMask(count: steps * shard.total * width, p: p, generator: &generator, mask: mask)
      return
    }
    let keep = S(1 / (1 - p))
    let (lo, hi, local) = (shard.range.lowerBound, shard.range.upperBound, shard.count)
    for t in 0..<steps {
      for _ in 0..<(lo * width) { _ = generator.next() }
      let row = mask + t * local * width
      for i in 0..<(local * width) { row[i] = generator.nextUnitDouble() >= p ? keep : 0 }
      for _ in 0..<((shard.total - hi) * width) { _ = generator.next() }
    }
  }

  /// Draws a locked (variational) mask: one row per stream of the whole batch [B, width]
  /// (stream-major, one draw per entry), the same for every time step, written out as the
  /// time-major [T·B_shard, width] mask that ``forward(count:input:mask:output:)`` and
  /// ``backward(count:mask:grad:)`` use (row t·B_shard + j is stream `shard.range` j's row).
  /// - Parameters:
  ///   - steps: T (rows repeated, not redrawn).
  ///   - shard: which streams of the global batch B = `shard.total` the mask is for.
  ///   - width: the features per row (E or H).
  ///   - generator: advanced by exactly B·width values, whatever T and the shard.
  static func drawLockedMask<S: KernelScalar>(
    steps: Int, shard: StreamShard, width: Int, p: Double, generator: inout SeededGenerator,
    mask: UnsafeMutablePointer<S>
  ) {
    let keep = S(1 / (1 - p))
    let (lo, hi, local) = (shard.range.lowerBound, shard.range.upperBound, shard.count)
    for _ in 0..<(lo * width) { _ = generator.next() }
    for i in 0..<(local * width) { mask[i] = generator.nextUnitDouble() >= p ? keep : 0 }
    for _ in 0..<((shard.total - hi) * width) { _ = generator.next() }
    // Rows of step 0 [B_shard, width], copied to steps 1 … T−1.
    for t in 1..<max(steps, 1) { (mask + t * local * width).update(from: mask, count: local * width) }
  }

  /// Forward: `output[i] = input[i] · mask[i]`.
  /// - Parameters: input, mask, output: [count] (output may not alias input).
  static func forward<S: KernelScalar>(
    count: Int, input: UnsafePointer<S>, mask: UnsafePointer<S>, output: UnsafeMutablePointer<S>
  ) {
    for i in 0..<count { output[i] = input[i] * mask[i] }
  }

  /// Backward, in place: `grad[i] *= mask[i]` turns ∂L/∂output into ∂L/∂input.
  /// - Parameters: mask: [count] the forward mask. grad: [count], overwritten.
  static func backward<S: KernelScalar>(
    count: Int, mask: UnsafePointer<S>, grad: UnsafeMutablePointer<S>
  ) {
    for i in 0..<count { grad[i] *= mask[i] }
  }
}
