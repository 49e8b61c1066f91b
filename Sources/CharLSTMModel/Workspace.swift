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

  // Buffers of the ``Regularization`` of a training window, allocated on the first window that
  // uses each (see ``prepare(for:)``), so windows without them cost nothing.
  /// Embedding dropout: mask m [V].
  private(set) var embedMask: UnsafeMutablePointer<S>?
  /// Locked dropout of layer 0's input: mask [T·B, E] (rows repeated over T).
  private(set) var inputMask: UnsafeMutablePointer<S>?
  /// Locked dropout of layer 0's input: the dropped-out X_0 [T·B, E].
  private(set) var droppedInput: UnsafeMutablePointer<S>?
  /// Weight drop, per layer k: mask M_k [G, H].
  private(set) var weightMasks: [UnsafeMutablePointer<S>] = []
  /// Weight drop, per layer k: W̃_k = W_hh ⊙ M_k [G, H], used by the forward and backward passes.
  private(set) var droppedWeights: [UnsafeMutablePointer<S>] = []
  /// Weight drop: ∂L/∂W̃ of the layer being walked back [G, H].
  private(set) var dDroppedWeight: UnsafeMutablePointer<S>?

  // Buffers of the wavefront over the layers (``KernelScalar/lstmStackRuns(layers:hidden:batch:)``),
  // whose backward has every layer in flight at once; allocated by ``prepareStack()``.
  /// Per layer k: b_ih + b_hh [G].
  private(set) var stackBiasSums: [UnsafeMutablePointer<S>] = []
  /// Per layer k: ∂L/∂gates [T·B, G] (layer 0's is ``dGates``).
  private(set) var stackDGates: [UnsafeMutablePointer<S>] = []
  /// Per layer k < L−1: ∂L/∂h [T·B, H] (the top layer's is the head's, ``dActA``).
  private(set) var stackDHidden: [UnsafeMutablePointer<S>] = []
  /// Per layer k: ∂L/∂c [B, H] (layer 0's is ``dc``).
  private(set) var stackDc: [UnsafeMutablePointer<S>] = []

  private let sizes: (V: Int, E: Int, H: Int, L: Int)
  private var allocations: [UnsafeMutablePointer<S>] = []

  /// Allocates (and zero-fills) every buffer for `config` with B = `batch`, T = `steps`.
  init(config: ModelConfig, batch B: Int, steps T: Int) {
    batch = B
    steps = T
    let (V, E, H, L) = (config.vocabSize, config.embedSize, config.hiddenSize, config.layers)
    sizes = (V, E, H, L)
    let G = 4 * H
    let rows = T * B
    var allocs: [UnsafeMutablePointer<S>] = []
    func make(_ count: Int) -> UnsafeMutablePointer<S> {
      let p = Self.allocateZeroed(count)
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

  /// Allocates (zero-filled) the buffers `regularization` needs that are not there yet; with
  /// ``Regularization/none``, or once they exist, it allocates nothing.
  /// - Parameter dropout: ``ModelConfig/dropout``, which locked dropout of the input needs.
  func prepare(for regularization: Regularization, dropout: Double) {
    let (V, E, H, L) = sizes
    let rows = steps * batch
    func make(_ count: Int) -> UnsafeMutablePointer<S> {
      let p = Self.allocateZeroed(count)
      allocations.append(p)
      return p
    }
    if regularization.embedDropout > 0 && embedMask == nil { embedMask = make(V) }
    if regularization.dropoutKind == .locked && dropout > 0 && inputMask == nil {
      inputMask = make(rows * E)
      droppedInput = make(rows * E)
    }
    if regularization.weightDrop > 0 && weightMasks.isEmpty {
      weightMasks = (0..<L).map { _ in make(4 * H * H) }
      droppedWeights = (0..<L).map { _ in make(4 * H * H) }
      dDroppedWeight = make(4 * H * H)
    }
  }

  /// Allocates (zero-filled) the wavefront's buffers if they are not there yet.
  func prepareStack() {
    guard stackBiasSums.isEmpty else { return }
    let (_, _, H, L) = sizes
    let rows = steps * batch
    func make(_ count: Int) -> UnsafeMutablePointer<S> {
      let p = Self.allocateZeroed(count)
      allocations.append(p)
      return p
    }
    stackBiasSums = (0..<L).map { _ in make(4 * H) }
    stackDGates = [dGates] + (1..<L).map { _ in make(rows * 4 * H) }
    stackDHidden = (0..<(L - 1)).map { _ in make(rows * H) } + [dActA]
    stackDc = [dc] + (1..<L).map { _ in make(batch * H) }
  }

  /// `count` zeros (at least one) on a 64-byte boundary. Cache-line-aligned rows matter where two
  /// threads write neighbouring columns of the same rows (the fused recurrent step hands each
  /// thread blocks of 32 hidden units: 128 bytes, two whole lines when the buffer is aligned,
  /// three lines shared with the next block when it is not, as `malloc`'s 16-byte alignment
  /// left them).
  static func allocateZeroed(_ count: Int) -> UnsafeMutablePointer<S> {
    let n = max(count, 1)
    let raw = UnsafeMutableRawPointer.allocate(byteCount: n * MemoryLayout<S>.stride, alignment: 64)
    let p = raw.bindMemory(to: S.self, capacity: n)
    p.initialize(repeating: 0, count: n)
    return p
  }

  deinit {
    for p in allocations { UnsafeMutableRawPointer(p).deallocate() }
  }
}
