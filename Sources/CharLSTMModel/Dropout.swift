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
