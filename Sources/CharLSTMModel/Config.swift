// Configuration, parameter layout and recurrent state of the character-level LSTM.
//
// Shapes legend (the only one for this module; every buffer comment uses these letters):
//   B  batch (independent streams)         T  time steps in a window
//   E  embedding width                     H  hidden width of every LSTM layer
//   V  vocabulary size                     G  = 4H, the gates i, f, g, o in that order
//   L  number of stacked LSTM layers       in = E for layer 0, H for the layers above
// Activations are time-major: row t·B + b of a [T·B, n] buffer is stream b at step t, so the
// [B, n] slice of one step is contiguous. All matrices are row-major.

import CharLSTMKernels

/// Why a configuration or a parameter vector was rejected.
public enum ModelError: Error, Equatable, Sendable, CustomStringConvertible {
  /// A field of ``ModelConfig`` is out of range; the message names it.
  case invalidConfig(String)

  /// The message, without Swift's case syntax.
  public var description: String {
    switch self {
    case .invalidConfig(let s): return s
    }
  }
}

/// The hyper-parameters that fix the network's shape.
///
/// Embedding(V, E) → L stacked LSTM layers of width H → Linear(H, V) → softmax, with inverted
/// dropout of probability ``dropout`` between LSTM layers and before the head (training only).
public struct ModelConfig: Codable, Equatable, Sendable {
  /// V, the number of distinct tokens.
  public var vocabSize: Int
  /// E, the width of a token embedding.
  public var embedSize: Int
  /// H, the hidden (and cell) width of every LSTM layer.
  public var hiddenSize: Int
  /// L, the number of stacked LSTM layers.
  public var layers: Int
  /// Dropout probability p in [0, 1) applied between LSTM layers and before the head (with
  /// ``DropoutKind/locked`` also on the embedded characters; see ``Regularization``).
  public var dropout: Double

  /// Creates a configuration; call ``validate()`` before building a model from untrusted values.
  /// - Parameters:
  ///   - vocabSize: V, the number of tokens.
  ///   - embedSize: E, the embedding width.
  ///   - hiddenSize: H, the LSTM width.
  ///   - layers: L, the number of stacked LSTM layers.
  ///   - dropout: p in [0, 1); 0 (the default) disables dropout.
  public init(vocabSize: Int, embedSize: Int, hiddenSize: Int, layers: Int, dropout: Double = 0) {
    self.vocabSize = vocabSize
    self.embedSize = embedSize
    self.hiddenSize = hiddenSize
    self.layers = layers
    self.dropout = dropout
  }

  /// Checks that every size is ≥ 1 and that `dropout` is in [0, 1).
  /// - Throws: ``ModelError/invalidConfig(_:)`` naming the first offending field.
  public func validate() throws(ModelError) {
    if vocabSize < 1 { throw .invalidConfig("vocabSize must be ≥ 1, got \(vocabSize)") }
    if embedSize < 1 { throw .invalidConfig("embedSize must be ≥ 1, got \(embedSize)") }
    if hiddenSize < 1 { throw .invalidConfig("hiddenSize must be ≥ 1, got \(hiddenSize)") }
    if layers < 1 { throw .invalidConfig("layers must be ≥ 1, got \(layers)") }
    if !(dropout >= 0 && dropout < 1) {
      throw .invalidConfig("dropout must be in [0, 1), got \(dropout)")
    }
  }

  /// Every parameter tensor in PyTorch state-dict order with its shape and flat offset:
  /// `embedding.weight` [V,E]; per layer k: `lstm.weight_ih_l{k}` [G,in], `lstm.weight_hh_l{k}`
  /// [G,H], `lstm.bias_ih_l{k}` [G], `lstm.bias_hh_l{k}` [G]; `head.weight` [V,H], `head.bias` [V].
  ///
  /// These are exactly the layouts of `nn.Embedding`, `nn.LSTM` and `nn.Linear`, so a flat
  /// vector cut along these slots loads into PyTorch unchanged.
  public var slots: [TensorSlot] {
    let (V, E, H, G) = (vocabSize, embedSize, hiddenSize, 4 * hiddenSize)
    var result: [TensorSlot] = []
    var offset = 0
    func add(_ name: String, _ shape: [Int]) {
      let slot = TensorSlot(name: name, shape: shape, offset: offset)
      result.append(slot)
      offset += slot.count
    }
    add("embedding.weight", [V, E])
    for k in 0..<layers {
      add("lstm.weight_ih_l\(k)", [G, k == 0 ? E : H])
      add("lstm.weight_hh_l\(k)", [G, H])
      add("lstm.bias_ih_l\(k)", [G])
      add("lstm.bias_hh_l\(k)", [G])
    }
    add("head.weight", [V, H])
    add("head.bias", [V])
    return result
  }

  /// The total number of scalars in the flat parameter vector (sum of all slot counts).
  public var parameterCount: Int {
    let (V, E, H, G) = (vocabSize, embedSize, hiddenSize, 4 * hiddenSize)
    let lstm = G * E + (layers - 1) * G * H + layers * (G * H + 2 * G)
    return V * E + lstm + V * H + V
  }
}

/// One named tensor inside the flat parameter (or gradient) vector.
public struct TensorSlot: Sendable, Equatable {
  /// The PyTorch state-dict key, e.g. `lstm.weight_hh_l1`.
  public let name: String
  /// Row-major shape, e.g. [4H, H].
  public let shape: [Int]
  /// Index of the first element in the flat vector.
  public let offset: Int
  /// Number of elements (product of `shape`).
  public var count: Int { shape.reduce(1, *) }
  /// The index range `offset ..< offset + count`.
  public var range: Range<Int> { offset..<(offset + count) }

  /// Creates a slot.
  /// - Parameters:
  ///   - name: the state-dict key.
  ///   - shape: the row-major shape.
  ///   - offset: the index of the first element in the flat vector.
  public init(name: String, shape: [Int], offset: Int) {
    self.name = name
    self.shape = shape
    self.offset = offset
  }
}

/// The recurrent state (h, c) of every layer for B streams, carried from window to window.
///
/// Layouts: `h` and `c` are [L, B, H] (element (k·B + b)·H + j), the same as PyTorch's `(h_n, c_n)`.
/// Passing a state into a window never lets gradients flow back into it (truncated BPTT).
public struct LSTMState<S: KernelScalar>: Equatable, Sendable {
  /// Hidden outputs h [L, B, H].
  public var h: [S]
  /// Cell states c [L, B, H].
  public var c: [S]
  /// L.
  public let layers: Int
  /// B.
  public let batch: Int
  /// H.
  public let hidden: Int

  /// An all-zero state.
  /// - Parameters:
  ///   - layers: L.
  ///   - batch: B.
  ///   - hidden: H.
  public init(layers: Int, batch: Int, hidden: Int) {
    self.layers = layers
    self.batch = batch
    self.hidden = hidden
    h = [S](repeating: 0, count: layers * batch * hidden)
    c = h
  }

  /// An all-zero state shaped for `config` with `batch` streams.
  /// - Parameters:
  ///   - config: gives L and H.
  ///   - batch: B.
  /// - Returns: h, c of shape [L, B, H] filled with zeros.
  public static func zeros(for config: ModelConfig, batch: Int) -> LSTMState {
    LSTMState(layers: config.layers, batch: batch, hidden: config.hiddenSize)
  }

  /// Sets h and c to zero in place (no allocation), e.g. at a document boundary.
  public mutating func reset() {
    for i in h.indices { h[i] = 0 }
    for i in c.indices { c[i] = 0 }
  }

  /// Sets stream `b`'s h and c to zero in every layer, leaving the other streams as they are.
  public mutating func reset(stream b: Int) {
    precondition(b >= 0 && b < batch, "stream \(b) of \(batch)")
    for l in 0..<layers {
      let start = (l * batch + b) * hidden
      for i in start..<start + hidden {
        h[i] = 0
        c[i] = 0
      }
    }
  }
}
