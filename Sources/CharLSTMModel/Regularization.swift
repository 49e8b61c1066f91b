// Training-only regularizers of AWD-LSTM (Merity et al. 2017) beyond `ModelConfig.dropout`:
// weight drop on W_hh, locked (variational) dropout, embedding dropout. Forward and backward of
// each side by side; the masks are drawn once per window. Shapes legend in Config.swift.
//
// Every mask is inverted dropout (kept entries scaled 1/(1−p), dropped ones 0) and comes from
// the window's dropout generator, in this order (each only when its p > 0):
//   1. embedding dropout: one draw per vocabulary id               [V]
//   2. locked dropout of layer 0's input (the embedded characters): [B_total, E]
//   3. per layer k = 0 … L−1: the weight-drop mask of W_hh          [G, H]
//      then, after the layer, its output's dropout mask: locked     [B_total, H]
//                                                      or standard  [T·B_total, H]
// so a resumed run, whose generator state is in its checkpoint, draws the same masks.

import CharLSTMKernels

/// How ``ModelConfig/dropout`` is laid out over a window.
public enum DropoutKind: String, Codable, CaseIterable, Sendable {
  /// A fresh mask for every time step and stream, after each LSTM layer (the default).
  case standard
  /// Variational ("locked") dropout, AWD-LSTM's `LockedDropout`: one mask per stream per
  /// window, shared by all T steps, on each layer's input and output: the embedded characters
  /// (layer 0's input), between layers, and before the head.
  case locked
}

/// The training-only regularizers of a window besides ``ModelConfig/dropout``'s probability.
///
/// Evaluation and generation never apply them: only
/// ``CharModel/trainWindow(inputs:targets:batch:steps:state:dropoutGenerator:shard:regularization:)``
/// takes one. ``none`` (every field off) is what a window without them computes, bit for bit.
public struct Regularization: Equatable, Sendable {
  /// How ``ModelConfig/dropout`` is applied (its probability stays the model's).
  public var dropoutKind: DropoutKind
  /// Weight drop (DropConnect) probability in [0, 1) on every layer's W_hh: one mask [G, H] per
  /// layer per window, AWD-LSTM's `WeightDrop`. 0: off.
  public var weightDrop: Double
  /// Embedding dropout probability in [0, 1): a dropped character id's embedding row is zero
  /// for the whole window, the others are scaled 1/(1−p) (AWD-LSTM's `embedded_dropout`). 0: off.
  public var embedDropout: Double

  /// Every regularizer off: standard dropout, no weight drop, no embedding dropout.
  public static let none = Regularization()

  /// Regularizers with the given strengths.
  /// - Parameters:
  ///   - dropoutKind: standard (the default) or locked.
  ///   - weightDrop: p in [0, 1) on W_hh (checked by the model: precondition).
  ///   - embedDropout: p in [0, 1) on whole embedding rows (precondition).
  public init(dropoutKind: DropoutKind = .standard, weightDrop: Double = 0, embedDropout: Double = 0) {
    self.dropoutKind = dropoutKind
    self.weightDrop = weightDrop
    self.embedDropout = embedDropout
  }

  /// Whether `p` is a drop probability the masks can use: in [0, 1) (NaN is not).
  public static func isProbability(_ p: Double) -> Bool { p >= 0 && p < 1 }
}

/// Weight drop (DropConnect, Wan et al. 2013) of W_hh: `W̃ = W ⊙ M`, M drawn once per window.
///
/// The forward pass packs W̃ once for the whole window (never per step); the backward pass
/// uses W̃ for ∂L/∂h and turns ∂L/∂W̃ into ∂L/∂W = ∂L/∂W̃ ⊙ M.
enum WeightDrop {
  /// Forward: draws M [G, H] (one ``Dropout/drawMask(count:p:generator:mask:)``, G·H draws)
  /// and writes `dropped` [G, H] = W ⊙ M.
  static func forward<S: KernelScalar>(
    count: Int, p: Double, weight: UnsafePointer<S>, generator: inout SeededGenerator,
    mask: UnsafeMutablePointer<S>, dropped: UnsafeMutablePointer<S>
  ) {
    Dropout.drawMask(count: count, p: p, generator: &generator, mask: mask)
    Dropout.forward(count: count, input: weight, mask: mask, output: dropped)
  }

  /// Backward: `dWeight[i] += dDropped[i] · mask[i]` (∂L/∂W ACCUMULATED from ∂L/∂W̃ [G, H]).
  static func backward<S: KernelScalar>(
    count: Int, mask: UnsafePointer<S>, dDropped: UnsafePointer<S>, dWeight: UnsafeMutablePointer<S>
  ) {
    for i in 0..<count { dWeight[i] += dDropped[i] * mask[i] }
  }
}

/// Embedding dropout: row r of X_0 is `weight[tokens[r]] · m[tokens[r]]` with one mask entry per
/// vocabulary id for the whole window, which is a lookup in the table `weight ⊙ m` (AWD-LSTM
/// masks the table itself; scaling the looked-up rows is the same product).
enum EmbeddingDropout {
  /// Draws m [V]: `1/(1−p)` (kept) or 0 (dropped), one `nextUnitDouble()` per id.
  static func drawMask<S: KernelScalar>(
    vocab V: Int, p: Double, generator: inout SeededGenerator, mask: UnsafeMutablePointer<S>
  ) {
    Dropout.drawMask(count: V, p: p, generator: &generator, mask: mask)
  }

  /// Forward, in place: `x[r, :] *= m[tokens[r]]` for the looked-up rows x [rows, E].
  static func forward<S: KernelScalar>(
    rows: Int, embed E: Int, tokens: UnsafePointer<Int32>, mask: UnsafePointer<S>,
    x: UnsafeMutablePointer<S>
  ) {
    for r in 0..<rows {
      let m = mask[Int(tokens[r])]
      for j in 0..<E { x[r * E + j] *= m }
    }
  }

  /// Backward, in place: `dx[r, :] *= m[tokens[r]]` turns ∂L/∂X_0 [rows, E] into ∂L/∂(looked-up
  /// rows), ready for ``Embedding/backward(rows:embed:tokens:dOut:dWeight:)``.
  static func backward<S: KernelScalar>(
    rows: Int, embed E: Int, tokens: UnsafePointer<Int32>, mask: UnsafePointer<S>,
    grad: UnsafeMutablePointer<S>
  ) {
    forward(rows: rows, embed: E, tokens: tokens, mask: mask, x: grad)
  }
}
