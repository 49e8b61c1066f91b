// Activation and scratch buffers for one (B, T), allocated once and reused. Shapes legend in Config.swift.

import CharLSTMKernels

/// Every buffer a window of T steps over B streams needs, forward and backward.
///
/// Raw allocations (not arrays) so that the passes can hand out many pointers at once without
/// Swift exclusivity conflicts and without any allocation after construction.
final class Workspace<S: KernelScalar> {
  /// B.
  let batch: Int
  /// T.
  let steps: Int
  /// Embedded inputs X_0 [T·B, E].
  let embedded: UnsafeMutablePointer<S>
  /// Per layer k: what the forward pass saves (see ``LSTMLayer/Activations``).
  let layers: [LSTMLayer.Activations<S>]
  /// Per dropout site k (after layer k, k = L−1 being before the head): mask [T·B, H].
  let masks: [UnsafeMutablePointer<S>]
  /// Per dropout site k: the dropped-out output of layer k [T·B, H].
  let dropped: [UnsafeMutablePointer<S>]
  /// Logits, then ∂L/∂logits [T·B, V].
  let logits: UnsafeMutablePointer<S>
  /// Scratch b_ih + b_hh [G].
  let biasSum: UnsafeMutablePointer<S>
  /// ∂L/∂gates of the layer being walked back [T·B, G].
  let dGates: UnsafeMutablePointer<S>
  /// ∂L/∂c carried backward through time [B, H].
  let dc: UnsafeMutablePointer<S>
  /// Ping-pong activation gradients [T·B, max(E, H)] each.
  let dActA: UnsafeMutablePointer<S>
  /// See ``dActA``.
  let dActB: UnsafeMutablePointer<S>

  private var allocations: [UnsafeMutablePointer<S>] = []

  /// Allocates (and zero-fills) every buffer for `config` with B = `batch`, T = `steps`.
  init(config: ModelConfig, batch B: Int, steps T: Int) {
    batch = B
    steps = T
    let (V, E, H, L) = (config.vocabSize, config.embedSize, config.hiddenSize, config.layers)
    let G = 4 * H
    let rows = T * B
    var allocs: [UnsafeMutablePointer<S>] = []
    func make(_ count: Int) -> UnsafeMutablePointer<S> {
      let p = UnsafeMutablePointer<S>.allocate(capacity: max(count, 1))
      p.initialize(repeating: 0, count: max(count, 1))
      allocs.append(p)
      return p
    }
    embedded = make(rows * E)
    layers = (0..<L).map { _ in
      LSTMLayer.Activations(
        gates: make(rows * G), cells: make((T + 1) * B * H), tanhC: make(rows * H),
        hidden: make((T + 1) * B * H))
    }
    let hasDropout = config.dropout > 0
    masks = hasDropout ? (0..<L).map { _ in make(rows * H) } : []
    dropped = hasDropout ? (0..<L).map { _ in make(rows * H) } : []
    logits = make(rows * V)
    biasSum = make(G)
    dGates = make(rows * G)
    dc = make(B * H)
    dActA = make(rows * max(E, H))
    dActB = make(rows * max(E, H))
    allocations = allocs
  }

  deinit {
    for p in allocations { p.deallocate() }
  }
}
