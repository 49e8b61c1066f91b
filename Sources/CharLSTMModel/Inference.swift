// One-step-at-a-time generation with every weight packed once. Shapes legend in Config.swift.

import CharLSTMKernels

/// A snapshot of a model's weights prepared for generation: each step costs one small product
/// per weight matrix and one fused cell per layer, with no packing or allocation per character.
///
/// The snapshot is taken at ``init(model:batch:)``; later changes to the model's parameters are
/// not seen (make a new session after training further).
public final class InferenceSession<S: KernelScalar> {
  public let config: ModelConfig
  /// B, the number of streams stepped together.
  public let batch: Int
  /// How the weights are held: fp32, or bf16 (rounded once, half the bytes read per step; the
  /// activations, cell state and accumulation stay fp32).
  public let weights: Kernels.Precision
  /// Embedding table copy [V, E].
  private let embedding: [S]
  /// Per layer: W_ihᵀ packed (k = in, n = G), W_hhᵀ packed (k = H, n = G), b_ih + b_hh [G].
  private let packedInput: [UnsafeMutableRawPointer]
  private let packedRecurrent: [UnsafeMutableRawPointer]
  private let biasSums: [[S]]
  /// Head: Wᵀ packed (k = H, n = V), bias [V].
  private let packedHead: UnsafeMutableRawPointer
  private let headBias: [S]
  /// Scratch: x [B, max(E, H)], gates [B, G], c and tanh(c) [B, H], h [B, H].
  private var x: [S]
  private var gates: [S]
  private var cNew: [S]
  private var tanhC: [S]
  private var hNew: [S]

  /// Packs `model`'s current weights for stepping `batch` streams, in `weights` precision.
  public init(model: CharModel<S>, batch: Int, weights: Kernels.Precision = .fp32) {
    precondition(batch >= 1, "batch must be ≥ 1")
    let c = model.config
    config = c
    self.batch = batch
    self.weights = weights
    let bf16 = weights == .bf16
    func bytes(_ k: Int, _ n: Int) -> Int { bf16 ? S.packedBF16ByteCount(k: k, n: n) : S.packedByteCount(k: k, n: n) }
    func pack(_ k: Int, _ n: Int, _ b: UnsafePointer<S>, _ ldb: Int, _ into: UnsafeMutableRawPointer) {
      if bf16 { S.packBF16(transB: true, k: k, n: n, b: b, ldb: ldb, into: into) } else { S.pack(transB: true, k: k, n: n, b: b, ldb: ldb, into: into) }
    }
    let H = c.hiddenSize
    let G = 4 * H
    let p = model.parameters
    func slot(_ name: String) -> TensorSlot {
      guard let s = model.slot(named: name) else { preconditionFailure("model has no tensor \(name)") }
      return s
    }
    embedding = Array(p[slot("embedding.weight").range])
    var inputs: [UnsafeMutableRawPointer] = []
    var recurrent: [UnsafeMutableRawPointer] = []
    var sums: [[S]] = []
    p.withUnsafeBufferPointer { w in
      for l in 0..<c.layers {
        let inSize = l == 0 ? c.embedSize : H
        let wi = UnsafeMutableRawPointer.allocate(byteCount: bytes(inSize, G), alignment: 64)
        pack(inSize, G, w.baseAddress! + slot("lstm.weight_ih_l\(l)").offset, inSize, wi)
        let wh = UnsafeMutableRawPointer.allocate(byteCount: bytes(H, G), alignment: 64)
        pack(H, G, w.baseAddress! + slot("lstm.weight_hh_l\(l)").offset, H, wh)
        inputs.append(wi)
        recurrent.append(wh)
        let bi = slot("lstm.bias_ih_l\(l)").offset
        let bh = slot("lstm.bias_hh_l\(l)").offset
        sums.append((0..<G).map { w[bi + $0] + w[bh + $0] })
      }
    }
    packedInput = inputs
    packedRecurrent = recurrent
    biasSums = sums
    let V = c.vocabSize
    let head = UnsafeMutableRawPointer.allocate(byteCount: bytes(H, V), alignment: 64)
    p.withUnsafeBufferPointer { w in
      pack(H, V, w.baseAddress! + slot("head.weight").offset, H, head)
    }
    packedHead = head
    headBias = Array(p[slot("head.bias").range])
    x = [S](repeating: 0, count: batch * max(c.embedSize, H))
    gates = [S](repeating: 0, count: batch * G)
    cNew = [S](repeating: 0, count: batch * H)
    tanhC = cNew
    hNew = cNew
  }

  deinit {
    for p in packedInput { p.deallocate() }
    for p in packedRecurrent { p.deallocate() }
    packedHead.deallocate()
  }

  /// One step of every stream: the same result as ``CharModel/step(tokens:state:logits:)``.
  /// - Parameters:
  ///   - tokens: [B] the current token of each stream.
  ///   - state: (h, c) [L, B, H], advanced by one step.
  ///   - logits: [B, V] scores before softmax, overwritten.
  public func step(tokens: UnsafeBufferPointer<Int32>, state: inout LSTMState<S>, logits: UnsafeMutableBufferPointer<S>) {
    precondition(tokens.count == batch, "tokens must hold B = \(batch) ids")
    precondition(state.batch == batch && state.layers == config.layers && state.hidden == config.hiddenSize, "state shape does not match the session")
    state.h.withUnsafeMutableBufferPointer { sh in
      state.c.withUnsafeMutableBufferPointer { sc in
        step(rows: batch, tokens: tokens.baseAddress!, h: sh.baseAddress!, c: sc.baseAddress!, stride: batch, logits: logits)
      }
    }
  }

  /// One step of the first `rows` streams of a state laid out for `stride` streams: what a
  /// batch whose streams come and go uses (the server, prompt files). Each stream's result
  /// depends on its own token and state only, not on `rows` or on its row.
  /// - Parameters:
  ///   - rows: m ≤ B streams stepped (rows 0..<m).
  ///   - tokens: [m] the current token of each stream.
  ///   - h, c: [L, stride, H] the carried state; rows 0..<m of each layer are advanced.
  ///   - stride: streams per layer in `h` and `c` (≥ m).
  ///   - logits: [m, V] scores before softmax, overwritten.
  public func step(
    rows m: Int, tokens: UnsafePointer<Int32>, h sh: UnsafeMutablePointer<S>, c sc: UnsafeMutablePointer<S>,
    stride: Int, logits: UnsafeMutableBufferPointer<S>
  ) {
    let E = config.embedSize
    let H = config.hiddenSize
    let G = 4 * H
    let V = config.vocabSize
    precondition(m >= 0 && m <= batch && stride >= m, "rows \(m) must be within the session's batch \(batch) and the state's stride \(stride)")
    precondition(logits.count >= m * V, "logits must hold m·V = \(m * V) values")
    if m == 0 { return }
    x.withUnsafeMutableBufferPointer { x in
      gates.withUnsafeMutableBufferPointer { g in
        cNew.withUnsafeMutableBufferPointer { cn in
          tanhC.withUnsafeMutableBufferPointer { tc in
            hNew.withUnsafeMutableBufferPointer { hn in
              // x [m, E] ← embedding rows of the tokens.
              embedding.withUnsafeBufferPointer { emb in
                for b in 0..<m {
                  let t = Int(tokens[b])
                  precondition(t >= 0 && t < V, "token \(t) outside the vocabulary [0, \(V))")
                  (x.baseAddress! + b * E).update(from: emb.baseAddress! + t * E, count: E)
                }
              }
              for l in 0..<config.layers {
                let inSize = l == 0 ? E : H
                let hPrev = sh + l * stride * H
                let cPrev = sc + l * stride * H
                // gates [m, G] ← (b_ih + b_hh) + x·W_ihᵀ + h_{t−1}·W_hhᵀ
                biasSums[l].withUnsafeBufferPointer { bias in
                  for b in 0..<m { (g.baseAddress! + b * G).update(from: bias.baseAddress!, count: G) }
                }
                product(m: m, n: G, k: inSize, a: x.baseAddress!, packed: packedInput[l], c: g.baseAddress!)
                product(m: m, n: G, k: H, a: hPrev, packed: packedRecurrent[l], c: g.baseAddress!)
                S.lstmCellForward(batch: m, hidden: H, gates: g.baseAddress!, cPrev: cPrev, c: cn.baseAddress!, tanhC: tc.baseAddress!, h: hn.baseAddress!)
                cPrev.update(from: cn.baseAddress!, count: m * H)
                hPrev.update(from: hn.baseAddress!, count: m * H)
                // The next layer reads this layer's new h.
                x.baseAddress!.update(from: hn.baseAddress!, count: m * H)
              }
              // logits [m, V] ← head bias + h_top · W_headᵀ
              headBias.withUnsafeBufferPointer { bias in
                for b in 0..<m { (logits.baseAddress! + b * V).update(from: bias.baseAddress!, count: V) }
              }
              product(m: m, n: V, k: H, a: hn.baseAddress!, packed: packedHead, c: logits.baseAddress!)
            }
          }
        }
      }
    }
  }

  /// C [m, n] += A [m, k] · P, with P in the session's weight format.
  @inline(__always)
  private func product(m: Int, n: Int, k: Int, a: UnsafePointer<S>, packed: UnsafeRawPointer, c: UnsafeMutablePointer<S>) {
    if weights == .bf16 {
      S.gemmPackedBF16(m: m, n: n, k: k, alpha: 1, a: a, lda: k, packed: packed, beta: 1, c: c, ldc: n)
    } else {
      S.gemmPacked(m: m, n: n, k: k, alpha: 1, a: a, lda: k, packed: packed, beta: 1, c: c, ldc: n)
    }
  }
}
