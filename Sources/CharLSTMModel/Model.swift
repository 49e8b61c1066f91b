// The whole network: embedding → L LSTM layers (dropout between) → dropout → head → softmax CE.
// Forward and backward side by side. Shapes legend in Config.swift.

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif
import CharLSTMKernels

/// A character-level LSTM language model with hand-written forward and backward passes.
///
/// Embedding(V, E) → L stacked LSTM layers of width H → Linear(H, V) → softmax, with inverted
/// dropout (probability p = `config.dropout`, training only) between LSTM layers and before the
/// head, and a training window's optional ``Regularization`` (locked dropout, weight drop on
/// W_hh, embedding dropout; see Regularization.swift). All parameters live in the flat
/// ``parameters`` vector laid out as ``slots`` (PyTorch state-dict order and shapes) and their
/// gradients in ``gradients`` with the same layout.
///
/// Buffers for a given (B, T) are allocated on first use and reused, so after the first call
/// with given sizes ``trainWindow(inputs:targets:batch:steps:state:dropoutGenerator:)``,
/// ``evaluateWindow(inputs:targets:batch:steps:state:)`` and ``step(tokens:state:logits:)``
/// allocate nothing. An instance is not thread-safe: use one per thread.
public final class CharModel<S: KernelScalar> {
  /// The shape of the network.
  public let config: ModelConfig
  /// All parameters, flat, laid out as ``slots``.
  public var parameters: [S]
  /// ∂loss/∂parameters, same layout as ``parameters``. Backward passes add into it; reset it
  /// with ``zeroGradients()``.
  public var gradients: [S]
  /// The tensors in state-dict order with shapes and offsets (``ModelConfig/slots``).
  public let slots: [TensorSlot]

  /// Workspaces by (B, T); a few sizes (training, validation, generation) live side by side.
  private var workspaces: [WorkspaceKey: Workspace<S>] = [:]
  /// Scratch for packed W_hh, large enough for both the forward (H×G) and backward (G×H) packs.
  private let packed: UnsafeMutableRawPointer
  /// The wavefront's packed weights per layer (W_hh, and W_ih above layer 0), forward or
  /// backward layout; made on its first window.
  private var stackPacked: [(recurrent: UnsafeMutableRawPointer, input: UnsafeMutableRawPointer?)] = []
  /// Offsets of the tensors the passes use, resolved once.
  private let offsets: Offsets

  private struct WorkspaceKey: Hashable {
    var batch: Int
    var steps: Int
  }

  private struct Offsets {
    var embedding: Int
    var wIh: [Int]
    var wHh: [Int]
    var bIh: [Int]
    var bHh: [Int]
    var headWeight: Int
    var headBias: Int
  }

  /// A freshly initialized model, deterministic for a given generator state.
  ///
  /// Initialization, drawn in state-dict order, row-major within each tensor, all from
  /// `generator` via `nextUnitDouble()` (so Float and Double models get the same values):
  /// - `embedding.weight` ~ N(0, 1) like PyTorch, Box–Muller: for each pair of draws u1, u2,
  ///   r = √(−2 ln(1 − u1)), entries r·cos(2πu2) then r·sin(2πu2).
  /// - every LSTM weight and bias ~ U(−1/√H, 1/√H) like PyTorch (value a·(2u − 1), a = 1/√H);
  ///   then the forget slice (rows H..<2H) of `bias_ih` is set to `forgetBias` (1 by default)
  ///   and that of `bias_hh` to 0, so the effective forget bias starts at `forgetBias`.
  /// - `head.weight`, `head.bias` ~ U(−1/√H, 1/√H) like PyTorch's `nn.Linear(H, V)`.
  /// - Parameters:
  ///   - config: the shape; must pass ``ModelConfig/validate()`` (precondition).
  ///   - generator: advanced by one draw per parameter (embedding rounded up to even).
  ///   - forgetBias: the initial forget-gate bias. 1 (Gers et al.; Jozefowicz et al. 2015) keeps
  ///     the cell's memory open from the start. With dropout and short schedules 0 (close to
  ///     PyTorch's default U(±1/√H)) has measured lower validation loss; see the README.
  public convenience init(config: ModelConfig, generator: inout SeededGenerator, forgetBias: Double = 1) {
    precondition((try? config.validate()) != nil, "invalid ModelConfig \(config)")
    self.init(config: config, parameters: Self.initialParameters(config: config, generator: &generator, forgetBias: forgetBias))
  }

  /// The parameters of a fresh model (see ``init(config:generator:forgetBias:)``), flat in
  /// ``ModelConfig/slots`` layout.
  static func initialParameters(config: ModelConfig, generator: inout SeededGenerator, forgetBias: Double) -> [S] {
    var values = [S](repeating: 0, count: config.parameterCount)
    let bound = 1 / Double(config.hiddenSize).squareRoot()
    let H = config.hiddenSize
    for slot in config.slots {
      if slot.name == "embedding.weight" {
        var i = 0
        while i < slot.count {
          let u1 = generator.nextUnitDouble()
          let u2 = generator.nextUnitDouble()
          let r = (-2 * log(1 - u1)).squareRoot()
          values[slot.offset + i] = S(r * cos(2 * Double.pi * u2))
          if i + 1 < slot.count { values[slot.offset + i + 1] = S(r * sin(2 * Double.pi * u2)) }
          i += 2
        }
      } else {
        for i in slot.range { values[i] = S(bound * (2 * generator.nextUnitDouble() - 1)) }
        if slot.name.hasPrefix("lstm.bias_ih") {
          for j in H..<(2 * H) { values[slot.offset + j] = S(forgetBias) }
        } else if slot.name.hasPrefix("lstm.bias_hh") {
          for j in H..<(2 * H) { values[slot.offset + j] = 0 }
        }
      }
    }
    return values
  }

  /// A model with given parameters, e.g. from a checkpoint.
  /// - Parameters:
  ///   - config: the shape; must pass ``ModelConfig/validate()`` (precondition).
  ///   - parameters: flat vector laid out as ``ModelConfig/slots``; its count must equal
  ///     ``ModelConfig/parameterCount`` (precondition).
  public init(config: ModelConfig, parameters: [S]) {
    precondition((try? config.validate()) != nil, "invalid ModelConfig \(config)")
    precondition(
      parameters.count == config.parameterCount,
      "expected \(config.parameterCount) parameters, got \(parameters.count)")
    self.config = config
    self.parameters = parameters
    self.gradients = [S](repeating: 0, count: parameters.count)
    let allSlots = config.slots
    self.slots = allSlots
    let H = config.hiddenSize
    let bytes = max(S.packedByteCount(k: H, n: 4 * H), S.packedByteCount(k: 4 * H, n: H))
    self.packed = UnsafeMutableRawPointer.allocate(byteCount: max(bytes, 1), alignment: 64)
    func offset(_ name: String) -> Int { allSlots.first { $0.name == name }!.offset }
    let L = config.layers
    offsets = Offsets(
      embedding: offset("embedding.weight"),
      wIh: (0..<L).map { offset("lstm.weight_ih_l\($0)") },
      wHh: (0..<L).map { offset("lstm.weight_hh_l\($0)") },
      bIh: (0..<L).map { offset("lstm.bias_ih_l\($0)") },
      bHh: (0..<L).map { offset("lstm.bias_hh_l\($0)") },
      headWeight: offset("head.weight"), headBias: offset("head.bias"))
  }

  deinit {
    packed.deallocate()
    for (r, i) in stackPacked {
      r.deallocate()
      i?.deallocate()
    }
  }

  /// Sets every gradient to zero in place (no allocation).
  public func zeroGradients() {
    // All-zero bytes are +0 for every KernelScalar (IEEE floats). One memset: the generic
    // `update(repeating:)` copied element by element through value witnesses (1.9% of a
    // 2×512 training step in `perf record`).
    gradients.withUnsafeMutableBufferPointer { g in
      if let base = g.baseAddress { _ = memset(base, 0, g.count * MemoryLayout<S>.stride) }
    }
  }

  /// The slot named `name` (a PyTorch state-dict key), if any.
  /// - Parameter name: e.g. `lstm.weight_hh_l0`.
  /// - Returns: the slot, or nil for an unknown name.
  public func slot(named name: String) -> TensorSlot? { slots.first { $0.name == name } }

  // MARK: - Public passes

  /// One training window: forward with dropout (and `regularization`), mean cross-entropy, backward.
  ///
  /// - Parameters:
  ///   - inputs: [T·B] time-major token ids (element t·B + b is stream b at step t).
  ///   - targets: [T·B] the next token for each input, same layout.
  ///   - batch: B.
  ///   - steps: T.
  ///   - state: (h, c) [L, B, H] at the start of the window, replaced by the state at its end.
  ///     Detached: no gradient flows into the incoming state.
  ///   - dropoutGenerator: source of the dropout masks (advanced only when p > 0, by the whole
  ///     batch's T·B·H draws per layer even when this is a shard), and of `regularization`'s
  ///     masks, each drawn once per window in the order given in Regularization.swift.
  ///   - shard: which streams of a larger batch these B are (data parallelism; nil: the whole
  ///     batch). The masks are those the whole batch would draw for these streams, and the
  ///     loss is normalized by the whole batch's B_total·T, so the shards' results sum to the
  ///     whole batch's. Its `count` must equal `batch` (precondition).
  ///   - regularization: the training-only regularizers (default ``Regularization/none``:
  ///     exactly the window without them); probabilities in [0, 1) (precondition).
  /// - Returns: the mean cross-entropy over the B·T predictions (for a shard, this shard's sum
  ///   divided by B_total·T), in nats. The gradient of that value is ACCUMULATED into
  ///   ``gradients``.
  @_specialize(exported: true, where S == Float)
  @_specialize(exported: true, where S == Double)
  public func trainWindow(
    inputs: UnsafeBufferPointer<Int32>, targets: UnsafeBufferPointer<Int32>,
    batch: Int, steps: Int, state: inout LSTMState<S>,
    dropoutGenerator: inout SeededGenerator, shard: StreamShard? = nil,
    regularization: Regularization = .none
  ) -> Double {
    checkWindow(inputs: inputs, targets: targets, batch: batch, steps: steps, state: state)
    let shard = shard ?? .whole(batch)
    precondition(shard.count == batch, "\(shard) does not hold the window's \(batch) streams")
    precondition(
      Regularization.isProbability(regularization.weightDrop)
        && Regularization.isProbability(regularization.embedDropout),
      "weight drop \(regularization.weightDrop) and embedding dropout \(regularization.embedDropout) must be in [0, 1)")
    let ws = workspace(batch: batch, steps: steps)
    ws.prepare(for: regularization, dropout: config.dropout)
    let masks = Masks(config: config, regularization: regularization, training: true)
    let rows = batch * steps
    let normalizer = Double(shard.total * steps)  // B_total·T
    let V = config.vocabSize
    // Wavefront or layer walk, decided once for the window: the backward pass must take the
    // path whose buffers the forward pass filled, even if the process's thread count (which the
    // decision reads) changes in between.
    let stack = stackRuns(batch: batch)
    return parameters.withUnsafeBufferPointer { p in
      gradients.withUnsafeMutableBufferPointer { g in
        state.h.withUnsafeMutableBufferPointer { sh in
          state.c.withUnsafeMutableBufferPointer { sc in
            forward(
              params: p.baseAddress!, inputs: inputs.baseAddress!, ws: ws,
              h: sh.baseAddress!, c: sc.baseAddress!, logits: ws.logits,
              dropoutGenerator: &dropoutGenerator, masks: masks, shard: shard, stack: stack)
            // logits [T·B, V] → ∂(sum CE / B_total·T)/∂logits in place.
            let sum = S.softmaxCrossEntropy(
              rows: rows, cols: V, logits: ws.logits, targets: targets.baseAddress!,
              scale: S(1 / normalizer))
            backward(
              params: p.baseAddress!, grads: g.baseAddress!, inputs: inputs.baseAddress!, ws: ws,
              masks: masks, stack: stack)
            return sum / normalizer
          }
        }
      }
    }
  }

  /// One evaluation window: forward without dropout or gradients.
  ///
  /// - Parameters:
  ///   - inputs: [T·B] time-major token ids (element t·B + b is stream b at step t).
  ///   - targets: [T·B] the next token for each input, same layout.
  ///   - batch: B.
  ///   - steps: T.
  ///   - state: (h, c) [L, B, H], replaced by the state at the end of the window.
  /// - Returns: the SUM (not the mean) of cross-entropy over the B·T predictions, in nats, so
  ///   callers can average over a whole split. ``gradients`` are untouched.
  @_specialize(exported: true, where S == Float)
  @_specialize(exported: true, where S == Double)
  public func evaluateWindow(
    inputs: UnsafeBufferPointer<Int32>, targets: UnsafeBufferPointer<Int32>,
    batch: Int, steps: Int, state: inout LSTMState<S>
  ) -> Double {
    checkWindow(inputs: inputs, targets: targets, batch: batch, steps: steps, state: state)
    let ws = workspace(batch: batch, steps: steps)
    let V = config.vocabSize
    return parameters.withUnsafeBufferPointer { p in
      state.h.withUnsafeMutableBufferPointer { sh in
        state.c.withUnsafeMutableBufferPointer { sc in
          var unused = SeededGenerator(seed: 0)
          forward(
            params: p.baseAddress!, inputs: inputs.baseAddress!, ws: ws,
            h: sh.baseAddress!, c: sc.baseAddress!, logits: ws.logits,
            dropoutGenerator: &unused, masks: .evaluation, stack: stackRuns(batch: batch))
          return S.softmaxCrossEntropy(
            rows: batch * steps, cols: V, logits: ws.logits, targets: targets.baseAddress!,
            scale: 1)
        }
      }
    }
  }

  /// Logits of a whole window without dropout (evaluation mode), e.g. for inspection or tests.
  ///
  /// - Parameters:
  ///   - inputs: [T·B] time-major token ids.
  ///   - batch: B.
  ///   - steps: T.
  ///   - state: carried in and replaced by the final state, as in ``evaluateWindow(inputs:targets:batch:steps:state:)``.
  ///   - logits: [T·B, V] (before softmax), overwritten.
  @_specialize(exported: true, where S == Float)
  @_specialize(exported: true, where S == Double)
  public func windowLogits(
    inputs: UnsafeBufferPointer<Int32>, batch: Int, steps: Int, state: inout LSTMState<S>,
    logits: UnsafeMutableBufferPointer<S>
  ) {
    checkWindow(inputs: inputs, targets: inputs, batch: batch, steps: steps, state: state)
    precondition(logits.count >= batch * steps * config.vocabSize, "logits buffer too small")
    let ws = workspace(batch: batch, steps: steps)
    parameters.withUnsafeBufferPointer { p in
      state.h.withUnsafeMutableBufferPointer { sh in
        state.c.withUnsafeMutableBufferPointer { sc in
          var unused = SeededGenerator(seed: 0)
          forward(
            params: p.baseAddress!, inputs: inputs.baseAddress!, ws: ws,
            h: sh.baseAddress!, c: sc.baseAddress!, logits: logits.baseAddress!,
            dropoutGenerator: &unused, masks: .evaluation, stack: stackRuns(batch: batch))
        }
      }
    }
  }

  /// One generation step for B streams (no dropout, no gradients).
  ///
  /// - Parameters:
  ///   - tokens: [B] the current token of each stream.
  ///   - state: (h, c) [L, B, H], advanced by one step.
  ///   - logits: [B, V] scores before softmax, overwritten.
  @_specialize(exported: true, where S == Float)
  @_specialize(exported: true, where S == Double)
  public func step(
    tokens: UnsafeBufferPointer<Int32>, state: inout LSTMState<S>,
    logits: UnsafeMutableBufferPointer<S>
  ) {
    windowLogits(inputs: tokens, batch: tokens.count, steps: 1, state: &state, logits: logits)
  }

  // MARK: - Passes over the layers

  private func checkWindow(
    inputs: UnsafeBufferPointer<Int32>, targets: UnsafeBufferPointer<Int32>,
    batch: Int, steps: Int, state: LSTMState<S>
  ) {
    precondition(batch >= 1 && steps >= 1, "batch and steps must be ≥ 1")
    precondition(inputs.count == batch * steps, "inputs must hold T·B = \(batch * steps) ids")
    precondition(targets.count == batch * steps, "targets must hold T·B = \(batch * steps) ids")
    for y in targets {
      precondition(y >= 0 && Int(y) < config.vocabSize, "target \(y) out of range 0..<\(config.vocabSize)")
    }
    precondition(
      state.layers == config.layers && state.batch == batch
        && state.hidden == config.hiddenSize,
      "state shape [\(state.layers), \(state.batch), \(state.hidden)] does not match "
        + "[\(config.layers), \(batch), \(config.hiddenSize)]")
  }

  private func workspace(batch: Int, steps: Int) -> Workspace<S> {
    let key = WorkspaceKey(batch: batch, steps: steps)
    if let ws = workspaces[key] { return ws }
    if workspaces.count >= 4 { workspaces.removeAll() }
    let ws = Workspace<S>(config: config, batch: batch, steps: steps)
    workspaces[key] = ws
    return ws
  }

  /// Which masks a window applies: in evaluation none at all.
  private struct Masks {
    /// ``ModelConfig/dropout``'s p after every layer (0: no dropout sites).
    var dropout: Double
    /// Locked masks (one per stream, shared by all steps), also on layer 0's input.
    var locked: Bool
    /// Weight drop p on every W_hh (0: off).
    var weightDrop: Double
    /// Embedding dropout p (0: off).
    var embedDropout: Double

    static var evaluation: Masks { Masks(dropout: 0, locked: false, weightDrop: 0, embedDropout: 0) }

    init(dropout: Double, locked: Bool, weightDrop: Double, embedDropout: Double) {
      self.dropout = dropout
      self.locked = locked
      self.weightDrop = weightDrop
      self.embedDropout = embedDropout
    }

    init(config: ModelConfig, regularization r: Regularization, training: Bool) {
      guard training else {
        self = .evaluation
        return
      }
      self.init(
        dropout: config.dropout, locked: config.dropout > 0 && r.dropoutKind == .locked,
        weightDrop: r.weightDrop, embedDropout: r.embedDropout)
    }
  }

  /// Layer k's parameters; with weight drop, W_hh is the window's W̃_k = W_hh ⊙ M_k.
  private func layerWeights(_ p: UnsafePointer<S>, _ k: Int, _ ws: Workspace<S>, _ masks: Masks) -> LSTMLayer.Weights<S> {
    LSTMLayer.Weights(
      wIh: p + offsets.wIh[k], wHh: masks.weightDrop > 0 ? UnsafePointer(ws.droppedWeights[k]) : p + offsets.wHh[k],
      bIh: p + offsets.bIh[k], bHh: p + offsets.bHh[k])
  }

  /// The output of layer k as seen by the next consumer: [T·B, H] (dropped out in training).
  private func layerOutput(_ ws: Workspace<S>, _ k: Int, _ masks: Masks) -> UnsafeMutablePointer<S> {
    masks.dropout > 0 ? ws.dropped[k] : ws.layers[k].hidden + ws.batch * config.hiddenSize
  }

  /// The input of layer k: [T·B, in] (for layer 0 the embedded characters, dropped out when locked).
  private func layerInput(_ ws: Workspace<S>, _ k: Int, _ masks: Masks) -> UnsafeMutablePointer<S> {
    k > 0 ? layerOutput(ws, k - 1, masks) : masks.locked ? ws.droppedInput! : ws.embedded
  }

  /// Forward: embedding → layers (dropout after each in training) → head logits.
  /// - Parameters:
  ///   - params: the flat parameters.
  ///   - inputs: [T·B] token ids.
  ///   - ws: the workspace for (B, T).
  ///   - h, c: [L, B, H] the carried state, replaced by the final state.
  ///   - logits: [T·B, V], overwritten.
  ///   - masks: which masks to draw and apply (``Masks/evaluation``: none).
  ///   - shard: the streams of a larger batch these are, for the dropout masks (nil: all).
  private func forward(
    params p: UnsafePointer<S>, inputs: UnsafePointer<Int32>, ws: Workspace<S>,
    h: UnsafeMutablePointer<S>, c: UnsafeMutablePointer<S>, logits: UnsafeMutablePointer<S>,
    dropoutGenerator: inout SeededGenerator, masks: Masks, shard: StreamShard? = nil, stack: Bool
  ) {
    let (B, T) = (ws.batch, ws.steps)
    let (V, E, H, L) = (config.vocabSize, config.embedSize, config.hiddenSize, config.layers)
    let G = 4 * H
    let rows = T * B
    let streams = shard ?? .whole(B)
    // X_0 [T·B, E]
    Embedding.forward(
      rows: rows, embed: E, vocab: V, tokens: inputs, weight: p + offsets.embedding,
      out: ws.embedded)
    if masks.embedDropout > 0 {
      // X_0 [T·B, E] rows ⊙ m[token], m [V] one entry per character for the whole window.
      EmbeddingDropout.drawMask(vocab: V, p: masks.embedDropout, generator: &dropoutGenerator, mask: ws.embedMask!)
      EmbeddingDropout.forward(rows: rows, embed: E, tokens: inputs, mask: ws.embedMask!, x: ws.embedded)
    }
    if masks.locked {
      // Layer 0's input [T·B, E] ⊙ one mask row [E] per stream.
      Dropout.drawLockedMask(
        steps: T, shard: streams, width: E, p: masks.dropout, generator: &dropoutGenerator,
        mask: ws.inputMask!)
      Dropout.forward(count: rows * E, input: ws.embedded, mask: ws.inputMask!, output: ws.droppedInput!)
    }
    var x = UnsafePointer(layerInput(ws, 0, masks))  // [T·B, in]
    if stack {
      stackForward(
        params: p, input: x, ws: ws, h: h, c: c, dropoutGenerator: &dropoutGenerator, masks: masks,
        streams: streams)
      x = UnsafePointer(layerOutput(ws, L - 1, masks))
    } else {
      for k in 0..<L {
        let act = ws.layers[k]
        if masks.weightDrop > 0 {
          // W̃_k [G, H] = W_hh ⊙ M_k, once per window, before LSTMLayer.forward packs it.
          WeightDrop.forward(
            count: G * H, p: masks.weightDrop, weight: p + offsets.wHh[k], generator: &dropoutGenerator,
            mask: ws.weightMasks[k], dropped: ws.droppedWeights[k])
        }
        LSTMLayer.forward(
          batch: B, steps: T, inSize: k == 0 ? E : H, hidden: H, weights: layerWeights(p, k, ws, masks),
          input: x, h0: h + k * B * H, c0: c + k * B * H, act: act, biasSum: ws.biasSum,
          packed: packed)
        // Final state of layer k: block T of h and c.
        (h + k * B * H).update(from: act.hidden + T * B * H, count: B * H)
        (c + k * B * H).update(from: act.cells + T * B * H, count: B * H)
        if masks.dropout > 0 {
          if masks.locked {
            Dropout.drawLockedMask(
              steps: T, shard: streams, width: H, p: masks.dropout, generator: &dropoutGenerator,
              mask: ws.masks[k])
          } else {
            Dropout.drawMask(
              steps: T, shard: streams, width: H, p: masks.dropout, generator: &dropoutGenerator,
              mask: ws.masks[k])
          }
          Dropout.forward(
            count: rows * H, input: act.hidden + B * H, mask: ws.masks[k], output: ws.dropped[k])
        }
        x = UnsafePointer(layerOutput(ws, k, masks))
      }
    }
    Head.forward(
      rows: rows, hidden: H, vocab: V, input: x, weight: p + offsets.headWeight,
      bias: p + offsets.headBias, logits: logits)
  }

  /// Backward from ∂L/∂logits (in `ws.logits`) down to the embedding; ACCUMULATES into `grads`.
  private func backward(
    params p: UnsafePointer<S>, grads g: UnsafeMutablePointer<S>, inputs: UnsafePointer<Int32>,
    ws: Workspace<S>, masks: Masks, stack: Bool
  ) {
    let (B, T) = (ws.batch, ws.steps)
    let (V, E, H, L) = (config.vocabSize, config.embedSize, config.hiddenSize, config.layers)
    let G = 4 * H
    let rows = T * B
    var dOut = ws.dActA  // ∂L/∂(output of the current layer) [T·B, H]
    var dIn = ws.dActB  // ∂L/∂(input of the current layer) [T·B, in]
    Head.backward(
      rows: rows, hidden: H, vocab: V, dLogits: ws.logits,
      input: layerOutput(ws, L - 1, masks), weight: p + offsets.headWeight,
      dWeight: g + offsets.headWeight, dBias: g + offsets.headBias, dInput: dOut)
    if stack {
      stackBackward(params: p, grads: g, ws: ws, masks: masks, dTop: dOut, dInput: dIn)
      swap(&dOut, &dIn)
    } else {
      for k in stride(from: L - 1, through: 0, by: -1) {
        if masks.dropout > 0 { Dropout.backward(count: rows * H, mask: ws.masks[k], grad: dOut) }
        // With weight drop the layer's dW_hh goes to ∂L/∂W̃ [G, H] (zeroed), then through M_k.
        let dWhh = masks.weightDrop > 0 ? ws.dDroppedWeight! : g + offsets.wHh[k]
        if masks.weightDrop > 0 { dWhh.update(repeating: 0, count: G * H) }
        LSTMLayer.backward(
          batch: B, steps: T, inSize: k == 0 ? E : H, hidden: H, weights: layerWeights(p, k, ws, masks),
          grads: LSTMLayer.Gradients(
            wIh: g + offsets.wIh[k], wHh: dWhh, bIh: g + offsets.bIh[k], bHh: g + offsets.bHh[k]),
          input: layerInput(ws, k, masks), act: ws.layers[k], dHidden: dOut, dGates: ws.dGates,
          dc: ws.dc, packed: packed, dInput: dIn)
        if masks.weightDrop > 0 {
          WeightDrop.backward(count: G * H, mask: ws.weightMasks[k], dDropped: dWhh, dWeight: g + offsets.wHh[k])
        }
        swap(&dOut, &dIn)
      }
    }
    // After the last swap dOut holds ∂L/∂(layer 0's input) [T·B, E], back to ∂L/∂X_0 …
    if masks.locked { Dropout.backward(count: rows * E, mask: ws.inputMask!, grad: dOut) }
    // … and to ∂L/∂(looked-up rows).
    if masks.embedDropout > 0 {
      EmbeddingDropout.backward(rows: rows, embed: E, tokens: inputs, mask: ws.embedMask!, grad: dOut)
    }
    Embedding.backward(
      rows: rows, embed: E, tokens: inputs, dOut: dOut, dWeight: g + offsets.embedding)
  }

  // MARK: - The layers as a wavefront

  /// The layers' forward as a wavefront (``KernelScalar/lstmStackForward(batch:steps:hidden:layers:)``):
  /// the same values as the layer-by-layer walk in ``forward(params:inputs:ws:h:c:logits:dropoutGenerator:masks:shard:stack:)``,
  /// whose mask draws it makes in the same order (per layer its W_hh mask, then its output's).
  private func stackForward(
    params p: UnsafePointer<S>, input x: UnsafePointer<S>, ws: Workspace<S>,
    h: UnsafeMutablePointer<S>, c: UnsafeMutablePointer<S>,
    dropoutGenerator: inout SeededGenerator, masks: Masks, streams: StreamShard
  ) {
    let (B, T) = (ws.batch, ws.steps)
    let (E, H, L) = (config.embedSize, config.hiddenSize, config.layers)
    let G = 4 * H
    ws.prepareStack()
    preparePackedStack()
    for k in 0..<L {
      if masks.weightDrop > 0 {
        // W̃_k [G, H] = W_hh ⊙ M_k, once per window, before it is packed.
        WeightDrop.forward(
          count: G * H, p: masks.weightDrop, weight: p + offsets.wHh[k], generator: &dropoutGenerator,
          mask: ws.weightMasks[k], dropped: ws.droppedWeights[k])
      }
      if masks.dropout > 0 {
        if masks.locked {
          Dropout.drawLockedMask(
            steps: T, shard: streams, width: H, p: masks.dropout, generator: &dropoutGenerator,
            mask: ws.masks[k])
        } else {
          Dropout.drawMask(
            steps: T, shard: streams, width: H, p: masks.dropout, generator: &dropoutGenerator,
            mask: ws.masks[k])
        }
      }
    }
    // Layer 0's input projection over the whole window: gates_0 [T·B, G] = bias + X_0·W_ihᵀ.
    LSTMLayer.inputProjection(
      batch: B, steps: T, inSize: E, hidden: H, weights: layerWeights(p, 0, ws, masks), input: x,
      gates: ws.layers[0].gates, biasSum: ws.stackBiasSums[0])
    withUnsafeTemporaryAllocation(of: LSTMStackLayer<S>.self, capacity: L) { layers in
      for k in 0..<L {
        let w = layerWeights(p, k, ws, masks)
        let act = ws.layers[k]
        // W̃_hhᵀ [H, G], and above layer 0 W_ihᵀ [H, G] and b_ih + b_hh [G].
        S.pack(transB: true, k: H, n: G, b: w.wHh, ldb: H, into: stackPacked[k].recurrent)
        if k > 0 {
          S.pack(transB: true, k: H, n: G, b: w.wIh, ldb: H, into: stackPacked[k].input!)
          ws.stackBiasSums[k].update(from: w.bIh, count: G)
          S.accumulateColumnSums(rows: 1, cols: G, a: w.bHh, lda: G, out: ws.stackBiasSums[k])
        }
        // Block 0 of h and c is the carried state.
        act.hidden.update(from: h + k * B * H, count: B * H)
        act.cells.update(from: c + k * B * H, count: B * H)
        layers.initializeElement(
          at: k,
          to: LSTMStackLayer(
            inSize: k == 0 ? E : H, recurrent: stackPacked[k].recurrent,
            input: k > 0 ? UnsafeRawPointer(stackPacked[k].input!) : nil,
            biasSum: k > 0 ? UnsafePointer(ws.stackBiasSums[k]) : nil, gates: act.gates,
            cells: act.cells, hidden: act.hidden, tanhC: act.tanhC,
            outMask: masks.dropout > 0 ? UnsafePointer(ws.masks[k]) : nil,
            outDropped: masks.dropout > 0 ? ws.dropped[k] : nil))
      }
      S.lstmStackForward(batch: B, steps: T, hidden: H, layers: UnsafeBufferPointer(layers))
    }
    for k in 0..<L {
      // Final state of layer k: block T of h and c.
      (h + k * B * H).update(from: ws.layers[k].hidden + T * B * H, count: B * H)
      (c + k * B * H).update(from: ws.layers[k].cells + T * B * H, count: B * H)
    }
  }

  /// The layers' backward as a wavefront (``KernelScalar/lstmStackBackward(batch:steps:hidden:layers:)``),
  /// then each layer's parameter gradients and layer 0's input gradient: the same values as the
  /// layer-by-layer walk in ``backward(params:grads:inputs:ws:masks:stack:)``.
  /// - Parameters:
  ///   - dTop: ∂L/∂(top layer's output, before its dropout) [T·B, H], from the head.
  ///   - dInput: written with ∂L/∂(layer 0's input) [T·B, E].
  private func stackBackward(
    params p: UnsafePointer<S>, grads g: UnsafeMutablePointer<S>, ws: Workspace<S>, masks: Masks,
    dTop: UnsafeMutablePointer<S>, dInput: UnsafeMutablePointer<S>
  ) {
    let (B, T) = (ws.batch, ws.steps)
    let (E, H, L) = (config.embedSize, config.hiddenSize, config.layers)
    let G = 4 * H
    let rows = T * B
    if masks.dropout > 0 { Dropout.backward(count: rows * H, mask: ws.masks[L - 1], grad: dTop) }
    withUnsafeTemporaryAllocation(of: LSTMStackLayer<S>.self, capacity: L) { layers in
      for k in 0..<L {
        let w = layerWeights(p, k, ws, masks)
        let act = ws.layers[k]
        // W̃_hh [G, H], and above layer 0 W_ih [G, H] (for dX).
        S.pack(transB: false, k: G, n: H, b: w.wHh, ldb: H, into: stackPacked[k].recurrent)
        if k > 0 { S.pack(transB: false, k: G, n: H, b: w.wIh, ldb: H, into: stackPacked[k].input!) }
        layers.initializeElement(
          at: k,
          to: LSTMStackLayer(
            inSize: k == 0 ? E : H, recurrent: stackPacked[k].recurrent,
            input: k > 0 ? UnsafeRawPointer(stackPacked[k].input!) : nil, biasSum: nil,
            gates: act.gates, cells: act.cells, hidden: act.hidden, tanhC: act.tanhC,
            outMask: masks.dropout > 0 ? UnsafePointer(ws.masks[k]) : nil, outDropped: nil,
            dHidden: k == L - 1 ? dTop : ws.stackDHidden[k], dGates: ws.stackDGates[k],
            dc: ws.stackDc[k]))
      }
      S.lstmStackBackward(batch: B, steps: T, hidden: H, layers: UnsafeBufferPointer(layers))
    }
    for k in stride(from: L - 1, through: 0, by: -1) {
      // With weight drop the layer's dW_hh goes to ∂L/∂W̃ [G, H] (zeroed), then through M_k.
      let dWhh = masks.weightDrop > 0 ? ws.dDroppedWeight! : g + offsets.wHh[k]
      if masks.weightDrop > 0 { dWhh.update(repeating: 0, count: G * H) }
      LSTMLayer.parameterGradients(
        batch: B, steps: T, inSize: k == 0 ? E : H, hidden: H,
        grads: LSTMLayer.Gradients(
          wIh: g + offsets.wIh[k], wHh: dWhh, bIh: g + offsets.bIh[k], bHh: g + offsets.bHh[k]),
        input: layerInput(ws, k, masks), act: ws.layers[k], dGates: ws.stackDGates[k])
      if masks.weightDrop > 0 {
        WeightDrop.backward(count: G * H, mask: ws.weightMasks[k], dDropped: dWhh, dWeight: g + offsets.wHh[k])
      }
    }
    // dX_0 [T·B, E] = dGates_0 · W_ih_0
    LSTMLayer.inputGradient(
      batch: B, steps: T, inSize: E, hidden: H, weights: layerWeights(p, 0, ws, masks),
      dGates: ws.stackDGates[0], dInput: dInput)
  }

  /// Whether a window of `batch` streams runs its layers as a wavefront
  /// (``KernelScalar/lstmStackRuns(layers:hidden:batch:)``: it reads the thread count, so a
  /// window asks once and hands the answer to both passes).
  private func stackRuns(batch: Int) -> Bool {
    S.lstmStackRuns(layers: config.layers, hidden: config.hiddenSize, batch: batch)
  }

  /// Allocates the wavefront's per-layer packed weights if they are not there yet.
  private func preparePackedStack() {
    guard stackPacked.isEmpty else { return }
    let H = config.hiddenSize
    let bytes = max(S.packedByteCount(k: H, n: 4 * H), S.packedByteCount(k: 4 * H, n: H))
    stackPacked = (0..<config.layers).map { k in
      (UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64),
       k > 0 ? UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64) : nil)
    }
  }
}
