import _CharLSTMKernels

// The kernel interface: every inner loop of the model goes through these few functions.
//
// Shapes legend (used across the project): B batch, T time steps, E embedding width,
// H hidden width, V vocabulary size, G = 4H (gates i, f, g, o in that order).
// All matrices are row-major; `ld*` is the distance in elements between rows.

/// A floating-point type the model can run on.
///
/// `Float` is the production type (fast kernels chosen at run time); `Double` runs the same model
/// code on the plain reference loops, which is what the gradient checks use.
public protocol KernelScalar: BinaryFloatingPoint, Sendable
where Self.RawSignificand: FixedWidthInteger {
  /// `C[m×n] = alpha·op(A)·op(B) + beta·C` with `op(A)` of shape m×k and `op(B)` of shape k×n.
  ///
  /// - Parameters:
  ///   - transA: `op(A) = Aᵀ` (A stored k×m) when true, else `A` (stored m×k).
  ///   - transB: `op(B) = Bᵀ` (B stored n×k) when true, else `B` (stored k×n).
  ///   - beta: 0 overwrites C (its previous contents are ignored, even NaN), 1 accumulates.
  static func gemm(
    transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
    alpha: Self, a: UnsafePointer<Self>, lda: Int,
    b: UnsafePointer<Self>, ldb: Int,
    beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int)

  /// Fused LSTM cell, forward, for one time step of a batch.
  ///
  /// `gates` [B, 4H] holds the pre-activations `W·[h,x] + b` in order i, f, g, o and is
  /// overwritten by the activations `σ(i), σ(f), tanh(g), σ(o)`. Then
  /// `c = f⊙cPrev + i⊙g`, `tanhC = tanh(c)`, `h = o⊙tanhC`.
  /// - Parameters: cPrev, c, tanhC, h: [B, H], contiguous.
  static func lstmCellForward(
    batch: Int, hidden: Int, gates: UnsafeMutablePointer<Self>,
    cPrev: UnsafePointer<Self>, c: UnsafeMutablePointer<Self>,
    tanhC: UnsafeMutablePointer<Self>, h: UnsafeMutablePointer<Self>)

  /// Fused LSTM cell, backward, for one time step of a batch.
  ///
  /// Given the activations `gates` [B, 4H] and `cPrev`, `tanhC` [B, H] saved by the forward pass,
  /// the total gradient `dh` [B, H] reaching `h_t`, and `dc` [B, H] holding ∂L/∂c_t coming from
  /// step t+1, writes `dGates` [B, 4H] = ∂L/∂(pre-activations) and overwrites `dc` with
  /// ∂L/∂c_{t-1}.
  static func lstmCellBackward(
    batch: Int, hidden: Int, gates: UnsafePointer<Self>,
    cPrev: UnsafePointer<Self>, tanhC: UnsafePointer<Self>,
    dh: UnsafePointer<Self>, dc: UnsafeMutablePointer<Self>,
    dGates: UnsafeMutablePointer<Self>)

  /// One forward time step of a layer's recurrence: `gates` [B, 4H] += `hPrev` [B, H] · W_hhᵀ
  /// with `packed` = ``pack(transB:k:n:b:ldb:into:)``(transB: true, k: H, n: 4H, W_hh), then
  /// ``lstmCellForward(batch:hidden:gates:cPrev:c:tanhC:h:)``. The same result as those two
  /// calls (the default implementation); `Float` fuses them per block of hidden units.
  static func lstmStepForward(
    batch: Int, hidden: Int, hPrev: UnsafePointer<Self>, packed: UnsafeRawPointer,
    gates: UnsafeMutablePointer<Self>, cPrev: UnsafePointer<Self>,
    c: UnsafeMutablePointer<Self>, tanhC: UnsafeMutablePointer<Self>,
    h: UnsafeMutablePointer<Self>)

  /// One backward time step of a layer's recurrence: `dh` [B, H] += `dGatesNext` [B, 4H] · W_hh
  /// with `packed` = ``pack(transB:k:n:b:ldb:into:)``(transB: false, k: 4H, n: H, W_hh) (nothing
  /// to add when `dGatesNext` is nil: the window's last step), then
  /// ``lstmCellBackward(batch:hidden:gates:cPrev:tanhC:dh:dc:dGates:)``. The same result as
  /// those calls (the default implementation); `Float` fuses them per block of hidden units.
  static func lstmStepBackward(
    batch: Int, hidden: Int, dGatesNext: UnsafePointer<Self>?, packed: UnsafeRawPointer,
    dh: UnsafeMutablePointer<Self>, gates: UnsafePointer<Self>, cPrev: UnsafePointer<Self>,
    tanhC: UnsafePointer<Self>, dc: UnsafeMutablePointer<Self>,
    dGates: UnsafeMutablePointer<Self>)

  /// True when ``lstmStackForward(batch:steps:hidden:layers:)`` and
  /// ``lstmStackBackward(batch:steps:hidden:layers:)`` run a stack of `layers` layers of
  /// `hidden` units over `batch` streams on this thread's kernels with a pool of `threads`,
  /// and pay off there. The default: false (the model then walks the layers one after the other).
  static func lstmStackRuns(layers: Int, hidden: Int, batch: Int, threads: Int) -> Bool

  /// The recurrences of every layer of a window as a wavefront: layer l runs step t while the
  /// layers above run earlier steps (see ``LSTMStackLayer``). For each layer and step: gates_t
  /// (+)= (layers ≥ 1: bias + x_t·W_ihᵀ) + h_{t−1}·W_hhᵀ, the cell, and `outDropped` rows =
  /// h_t ⊙ `outMask`. The same values, bit for bit, as the layer-by-layer calls it replaces
  /// (``gemm(transA:transB:m:n:k:alpha:a:lda:b:ldb:beta:c:ldc:)`` for a layer's input projection
  /// over the window, ``lstmStepForward(batch:hidden:hPrev:packed:gates:cPrev:c:tanhC:h:)`` per
  /// step). Only where ``lstmStackRuns(layers:hidden:batch:)`` (precondition).
  static func lstmStackForward(
    batch: Int, steps: Int, hidden: Int, layers: UnsafeBufferPointer<LSTMStackLayer<Self>>)

  /// The backward recurrences of every layer as a wavefront, from the top: for each layer,
  /// step T−1 down to 0, dHidden_t += dGates_{t+1}·W_hh (t < T−1) and the cell backward (dc
  /// starts at 0); for layers ≥ 1 the layer below's dHidden_t = (dGates_t·W_ih) ⊙ its `outMask`.
  /// Bit for bit the layer-by-layer calls
  /// (``lstmStepBackward(batch:hidden:dGatesNext:packed:dh:gates:cPrev:tanhC:dc:dGates:)`` per
  /// step, one product per layer for dX). Only where ``lstmStackRuns(layers:hidden:batch:)``.
  static func lstmStackBackward(
    batch: Int, steps: Int, hidden: Int, layers: UnsafeBufferPointer<LSTMStackLayer<Self>>)

  /// Softmax cross-entropy over rows, fused with its gradient.
  ///
  /// `logits` [rows, cols] is overwritten by `scale·(softmax(logits) − onehot(target))`.
  /// The softmax subtracts the row maximum first.
  /// - Returns: Σ over rows of `−log softmax(logits)[target]`, accumulated in Double.
  static func softmaxCrossEntropy(
    rows: Int, cols: Int, logits: UnsafeMutablePointer<Self>,
    targets: UnsafePointer<Int32>, scale: Self) -> Double

  /// `out[j] += Σ_r a[r·lda + j]` for j in 0..<cols: the bias gradient of a batched layer.
  static func accumulateColumnSums(
    rows: Int, cols: Int, a: UnsafePointer<Self>, lda: Int, out: UnsafeMutablePointer<Self>)

  /// Bytes needed to hold a k×n right-hand matrix in this type's packed layout.
  static func packedByteCount(k: Int, n: Int) -> Int

  /// Packs `op(B)` (k×n; `B` stored n×k when `transB`) into `packed`, which holds at least
  /// ``packedByteCount(k:n:)`` bytes. Packing once and multiplying many times is how the
  /// recurrent weights are reused across the T steps of a window.
  static func pack(
    transB: Bool, k: Int, n: Int, b: UnsafePointer<Self>, ldb: Int,
    into packed: UnsafeMutableRawPointer)

  /// `C[m×n] = alpha·A·P + beta·C` where `A` is m×k (row stride lda) and `P` was made by
  /// ``pack(transB:k:n:b:ldb:into:)`` with the same k and n.
  static func gemmPacked(
    m: Int, n: Int, k: Int, alpha: Self, a: UnsafePointer<Self>, lda: Int,
    packed: UnsafeRawPointer, beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int)

  /// Bytes needed to hold a k×n right-hand matrix with its values rounded to bfloat16.
  static func packedBF16ByteCount(k: Int, n: Int) -> Int

  /// Packs `op(B)` like ``pack(transB:k:n:b:ldb:into:)`` but rounds every value to bfloat16
  /// (nearest even): the weight format of bf16 generation, half the bytes per weight.
  static func packBF16(
    transB: Bool, k: Int, n: Int, b: UnsafePointer<Self>, ldb: Int,
    into packed: UnsafeMutableRawPointer)

  /// `C[m×n] = alpha·A·P + beta·C` with `P` made by ``packBF16(transB:k:n:b:ldb:into:)``; A and
  /// the accumulation keep full precision.
  static func gemmPackedBF16(
    m: Int, n: Int, k: Int, alpha: Self, a: UnsafePointer<Self>, lda: Int,
    packed: UnsafeRawPointer, beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int)
}

/// One layer of a stack whose recurrences run as a wavefront
/// (``KernelScalar/lstmStackForward(batch:steps:hidden:layers:)``). Blocks of B rows are time
/// steps; G = 4H; `inSize` is H above layer 0.
public struct LSTMStackLayer<S: KernelScalar> {
  /// in: the layer's input width.
  public var inSize: Int
  /// Forward: W_hh packed by ``KernelScalar/pack(transB:k:n:b:ldb:into:)`` as (transB: true,
  /// k: H, n: G); backward: as (transB: false, k: G, n: H).
  public var recurrent: UnsafeRawPointer
  /// Layers ≥ 1 (nil for layer 0): W_ih packed, forward as (transB: true, k: in, n: G),
  /// backward as (transB: false, k: G, n: in).
  public var input: UnsafeRawPointer?
  /// Layers ≥ 1: b_ih + b_hh [G].
  public var biasSum: UnsafePointer<S>?
  /// [T·B, G]: layer 0's arrive holding bias + x·W_ihᵀ; the forward leaves the activations.
  public var gates: UnsafeMutablePointer<S>
  /// [(T+1)·B, H] each: block 0 the carried state, block t+1 step t's.
  public var cells: UnsafeMutablePointer<S>
  public var hidden: UnsafeMutablePointer<S>
  /// tanh(c_t) [T·B, H].
  public var tanhC: UnsafeMutablePointer<S>
  /// Dropout on the layer's output [T·B, H] (nil: none), and where output ⊙ mask goes.
  public var outMask: UnsafePointer<S>?
  public var outDropped: UnsafeMutablePointer<S>?
  /// Backward: ∂L/∂h [T·B, H] (the top layer's given, the others' written), ∂L/∂gates
  /// [T·B, G] (written) and ∂L/∂c scratch [B, H].
  public var dHidden: UnsafeMutablePointer<S>?
  public var dGates: UnsafeMutablePointer<S>?
  public var dc: UnsafeMutablePointer<S>?

  public init(
    inSize: Int, recurrent: UnsafeRawPointer, input: UnsafeRawPointer?, biasSum: UnsafePointer<S>?,
    gates: UnsafeMutablePointer<S>, cells: UnsafeMutablePointer<S>, hidden: UnsafeMutablePointer<S>,
    tanhC: UnsafeMutablePointer<S>, outMask: UnsafePointer<S>?, outDropped: UnsafeMutablePointer<S>?,
    dHidden: UnsafeMutablePointer<S>? = nil, dGates: UnsafeMutablePointer<S>? = nil,
    dc: UnsafeMutablePointer<S>? = nil
  ) {
    self.inSize = inSize
    self.recurrent = recurrent
    self.input = input
    self.biasSum = biasSum
    self.gates = gates
    self.cells = cells
    self.hidden = hidden
    self.tanhC = tanhC
    self.outMask = outMask
    self.outDropped = outDropped
    self.dHidden = dHidden
    self.dGates = dGates
    self.dc = dc
  }
}

extension KernelScalar {
  public static func lstmStackRuns(layers: Int, hidden: Int, batch: Int, threads: Int) -> Bool { false }

  /// ``lstmStackRuns(layers:hidden:batch:threads:)`` for the pool's current thread count.
  public static func lstmStackRuns(layers: Int, hidden: Int, batch: Int) -> Bool {
    lstmStackRuns(layers: layers, hidden: hidden, batch: batch, threads: Kernels.threads)
  }

  public static func lstmStackForward(
    batch: Int, steps: Int, hidden: Int, layers: UnsafeBufferPointer<LSTMStackLayer<Self>>
  ) {
    preconditionFailure("no wavefront for \(Self.self): check lstmStackRuns first")
  }

  public static func lstmStackBackward(
    batch: Int, steps: Int, hidden: Int, layers: UnsafeBufferPointer<LSTMStackLayer<Self>>
  ) {
    preconditionFailure("no wavefront for \(Self.self): check lstmStackRuns first")
  }

  public static func lstmStepForward(
    batch B: Int, hidden H: Int, hPrev: UnsafePointer<Self>, packed: UnsafeRawPointer,
    gates: UnsafeMutablePointer<Self>, cPrev: UnsafePointer<Self>,
    c: UnsafeMutablePointer<Self>, tanhC: UnsafeMutablePointer<Self>,
    h: UnsafeMutablePointer<Self>
  ) {
    // gates [B, G] += h_{t−1} [B, H] · W_hhᵀ [H, G]
    gemmPacked(m: B, n: 4 * H, k: H, alpha: 1, a: hPrev, lda: H, packed: packed, beta: 1, c: gates, ldc: 4 * H)
    lstmCellForward(batch: B, hidden: H, gates: gates, cPrev: cPrev, c: c, tanhC: tanhC, h: h)
  }

  public static func lstmStepBackward(
    batch B: Int, hidden H: Int, dGatesNext: UnsafePointer<Self>?, packed: UnsafeRawPointer,
    dh: UnsafeMutablePointer<Self>, gates: UnsafePointer<Self>, cPrev: UnsafePointer<Self>,
    tanhC: UnsafePointer<Self>, dc: UnsafeMutablePointer<Self>,
    dGates: UnsafeMutablePointer<Self>
  ) {
    if let next = dGatesNext {
      // dh_t [B, H] += dGates_{t+1} [B, G] · W_hh [G, H]
      gemmPacked(m: B, n: H, k: 4 * H, alpha: 1, a: next, lda: 4 * H, packed: packed, beta: 1, c: dh, ldc: H)
    }
    lstmCellBackward(batch: B, hidden: H, gates: gates, cPrev: cPrev, tanhC: tanhC, dh: UnsafePointer(dh), dc: dc, dGates: dGates)
  }

  /// Reference packing: `op(B)` stored densely as k×n row-major.
  public static func referencePackedByteCount(k: Int, n: Int) -> Int {
    k * n * MemoryLayout<Self>.stride
  }

  public static func referencePack(
    transB: Bool, k: Int, n: Int, b: UnsafePointer<Self>, ldb: Int,
    into packed: UnsafeMutableRawPointer
  ) {
    let p = packed.assumingMemoryBound(to: Self.self)
    for r in 0..<k {
      for j in 0..<n { p[r * n + j] = transB ? b[j * ldb + r] : b[r * ldb + j] }
    }
  }

  public static func referenceGemmPacked(
    m: Int, n: Int, k: Int, alpha: Self, a: UnsafePointer<Self>, lda: Int,
    packed: UnsafeRawPointer, beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int
  ) {
    Reference.gemm(
      transA: false, transB: false, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda,
      b: packed.assumingMemoryBound(to: Self.self), ldb: n, beta: beta, c: c, ldc: ldc)
  }
}

extension Double: KernelScalar {
  public static func gemm(
    transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
    alpha: Double, a: UnsafePointer<Double>, lda: Int,
    b: UnsafePointer<Double>, ldb: Int,
    beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int
  ) {
    Reference.gemm(
      transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b,
      ldb: ldb, beta: beta, c: c, ldc: ldc)
  }

  public static func lstmCellForward(
    batch: Int, hidden: Int, gates: UnsafeMutablePointer<Double>,
    cPrev: UnsafePointer<Double>, c: UnsafeMutablePointer<Double>,
    tanhC: UnsafeMutablePointer<Double>, h: UnsafeMutablePointer<Double>
  ) {
    Reference.lstmCellForward(
      batch: batch, hidden: hidden, gates: gates, cPrev: cPrev, c: c, tanhC: tanhC, h: h)
  }

  public static func lstmCellBackward(
    batch: Int, hidden: Int, gates: UnsafePointer<Double>,
    cPrev: UnsafePointer<Double>, tanhC: UnsafePointer<Double>,
    dh: UnsafePointer<Double>, dc: UnsafeMutablePointer<Double>,
    dGates: UnsafeMutablePointer<Double>
  ) {
    Reference.lstmCellBackward(
      batch: batch, hidden: hidden, gates: gates, cPrev: cPrev, tanhC: tanhC, dh: dh, dc: dc,
      dGates: dGates)
  }

  public static func softmaxCrossEntropy(
    rows: Int, cols: Int, logits: UnsafeMutablePointer<Double>,
    targets: UnsafePointer<Int32>, scale: Double
  ) -> Double {
    Reference.softmaxCrossEntropy(
      rows: rows, cols: cols, logits: logits, targets: targets, scale: scale)
  }

  public static func accumulateColumnSums(
    rows: Int, cols: Int, a: UnsafePointer<Double>, lda: Int, out: UnsafeMutablePointer<Double>
  ) {
    Reference.accumulateColumnSums(rows: rows, cols: cols, a: a, lda: lda, out: out)
  }

  public static func packedByteCount(k: Int, n: Int) -> Int {
    referencePackedByteCount(k: k, n: n)
  }

  public static func pack(
    transB: Bool, k: Int, n: Int, b: UnsafePointer<Double>, ldb: Int,
    into packed: UnsafeMutableRawPointer
  ) {
    referencePack(transB: transB, k: k, n: n, b: b, ldb: ldb, into: packed)
  }

  public static func gemmPacked(
    m: Int, n: Int, k: Int, alpha: Double, a: UnsafePointer<Double>, lda: Int,
    packed: UnsafeRawPointer, beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int
  ) {
    referenceGemmPacked(
      m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, packed: packed, beta: beta, c: c, ldc: ldc)
  }

  public static func packedBF16ByteCount(k: Int, n: Int) -> Int { referencePackedByteCount(k: k, n: n) }

  /// Reference: the values rounded to bfloat16 (through Float), stored densely as Double.
  public static func packBF16(
    transB: Bool, k: Int, n: Int, b: UnsafePointer<Double>, ldb: Int,
    into packed: UnsafeMutableRawPointer
  ) {
    referencePack(transB: transB, k: k, n: n, b: b, ldb: ldb, into: packed)
    let p = packed.assumingMemoryBound(to: Double.self)
    for i in 0..<(k * n) { p[i] = Double(Kernels.roundedToBF16(Float(p[i]))) }
  }

  public static func gemmPackedBF16(
    m: Int, n: Int, k: Int, alpha: Double, a: UnsafePointer<Double>, lda: Int,
    packed: UnsafeRawPointer, beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int
  ) {
    referenceGemmPacked(
      m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, packed: packed, beta: beta, c: c, ldc: ldc)
  }
}

// Float: the production type, on the C kernels of `_CharLSTMKernels` (run-time ISA dispatch,
// worker pool). See `Kernels` for threads and ISA selection.
extension Float: KernelScalar {
  public static func gemm(
    transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
    alpha: Float, a: UnsafePointer<Float>, lda: Int,
    b: UnsafePointer<Float>, ldb: Int,
    beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
  ) {
    clk_sgemm(
      transA ? 1 : 0, transB ? 1 : 0, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
  }

  public static func lstmCellForward(
    batch: Int, hidden: Int, gates: UnsafeMutablePointer<Float>,
    cPrev: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>,
    tanhC: UnsafeMutablePointer<Float>, h: UnsafeMutablePointer<Float>
  ) {
    clk_lstm_cell_forward(batch, hidden, gates, cPrev, c, tanhC, h)
  }

  public static func lstmCellBackward(
    batch: Int, hidden: Int, gates: UnsafePointer<Float>,
    cPrev: UnsafePointer<Float>, tanhC: UnsafePointer<Float>,
    dh: UnsafePointer<Float>, dc: UnsafeMutablePointer<Float>,
    dGates: UnsafeMutablePointer<Float>
  ) {
    clk_lstm_cell_backward(batch, hidden, gates, cPrev, tanhC, dh, dc, dGates)
  }

  public static func lstmStepForward(
    batch: Int, hidden: Int, hPrev: UnsafePointer<Float>, packed: UnsafeRawPointer,
    gates: UnsafeMutablePointer<Float>, cPrev: UnsafePointer<Float>,
    c: UnsafeMutablePointer<Float>, tanhC: UnsafeMutablePointer<Float>,
    h: UnsafeMutablePointer<Float>
  ) {
    let status = clk_lstm_step_forward(batch, hidden, hPrev, packed, gates, cPrev, c, tanhC, h)
    precondition(status == 0, "lstmStepForward: packed matrix was not made by pack(k: \(hidden), n: \(4 * hidden))")
  }

  public static func lstmStepBackward(
    batch: Int, hidden: Int, dGatesNext: UnsafePointer<Float>?, packed: UnsafeRawPointer,
    dh: UnsafeMutablePointer<Float>, gates: UnsafePointer<Float>, cPrev: UnsafePointer<Float>,
    tanhC: UnsafePointer<Float>, dc: UnsafeMutablePointer<Float>,
    dGates: UnsafeMutablePointer<Float>
  ) {
    let status = clk_lstm_step_backward(batch, hidden, dGatesNext, packed, dh, gates, cPrev, tanhC, dc, dGates)
    precondition(status == 0, "lstmStepBackward: packed matrix was not made by pack(k: \(4 * hidden), n: \(hidden))")
  }

  /// The wavefront runs where this thread's kernels have it (fp32 products, H a multiple of 64,
  /// 2 to 64 layers), there are threads to share it, and a step's product is small:
  /// B·4H·H ≤ 2^24 multiply-adds. Splitting such a product between two cores gained nothing on
  /// the Intel VM (2×128: 3.28 ms for a layer's 50 forward steps on one thread, 3.25 on two;
  /// cores exchange the step's h), while two layers' steps on two cores at once ran the
  /// recurrences of a 2×128 window 1.3–1.4× faster than the layer-by-layer walk on 2 threads;
  /// for 2×512 the two were level, and the per-step split keeps the L2 footprint of one
  /// layer's weights at a time.
  public static func lstmStackRuns(layers: Int, hidden: Int, batch: Int, threads: Int) -> Bool {
    threads >= 2 && batch * 4 * hidden * hidden <= 1 << 24
      && clk_lstm_stack_supported(layers, hidden) != 0
  }

  public static func lstmStackForward(
    batch: Int, steps: Int, hidden: Int, layers: UnsafeBufferPointer<LSTMStackLayer<Float>>
  ) {
    let status = withCLayers(layers) { clk_lstm_stack_forward(layers.count, batch, steps, hidden, $0) }
    precondition(status == 0, "lstmStackForward: not supported here or a packed matrix does not match")
  }

  public static func lstmStackBackward(
    batch: Int, steps: Int, hidden: Int, layers: UnsafeBufferPointer<LSTMStackLayer<Float>>
  ) {
    let status = withCLayers(layers) { clk_lstm_stack_backward(layers.count, batch, steps, hidden, $0) }
    precondition(status == 0, "lstmStackBackward: not supported here or a packed matrix does not match")
  }

  /// The C layout of `layers`, on the stack, for the duration of `body`.
  private static func withCLayers(
    _ layers: UnsafeBufferPointer<LSTMStackLayer<Float>>, _ body: (UnsafeMutablePointer<clk_lstm_layer>) -> Int32
  ) -> Int32 {
    withUnsafeTemporaryAllocation(of: clk_lstm_layer.self, capacity: max(layers.count, 1)) { c in
      for (i, y) in layers.enumerated() {
        c[i] = clk_lstm_layer(
          in: y.inSize, recurrent: y.recurrent, input: y.input, biasSum: y.biasSum, gates: y.gates,
          cells: y.cells, hidden: y.hidden, tanhC: y.tanhC, outMask: y.outMask,
          outDropped: y.outDropped, dHidden: y.dHidden, dGates: y.dGates, dc: y.dc)
      }
      return body(c.baseAddress!)
    }
  }

  public static func softmaxCrossEntropy(
    rows: Int, cols: Int, logits: UnsafeMutablePointer<Float>,
    targets: UnsafePointer<Int32>, scale: Float
  ) -> Double {
    clk_softmax_xent(rows, cols, logits, targets, scale)
  }

  public static func accumulateColumnSums(
    rows: Int, cols: Int, a: UnsafePointer<Float>, lda: Int, out: UnsafeMutablePointer<Float>
  ) {
    clk_col_sums_acc(rows, cols, a, lda, out)
  }

  public static func packedByteCount(k: Int, n: Int) -> Int {
    Int(clk_packed_bytes(k, n))
  }

  public static func pack(
    transB: Bool, k: Int, n: Int, b: UnsafePointer<Float>, ldb: Int,
    into packed: UnsafeMutableRawPointer
  ) {
    clk_pack_b(transB ? 1 : 0, k, n, b, ldb, packed)
  }

  public static func gemmPacked(
    m: Int, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int,
    packed: UnsafeRawPointer, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
  ) {
    let status = clk_sgemm_packed(m, n, k, alpha, a, lda, packed, beta, c, ldc)
    precondition(status == 0, "gemmPacked: packed matrix was not made by pack(k: \(k), n: \(n))")
  }

  public static func packedBF16ByteCount(k: Int, n: Int) -> Int {
    Int(clk_packed_bf16_bytes(k, n))
  }

  public static func packBF16(
    transB: Bool, k: Int, n: Int, b: UnsafePointer<Float>, ldb: Int,
    into packed: UnsafeMutableRawPointer
  ) {
    clk_pack_b_bf16(transB ? 1 : 0, k, n, b, ldb, packed)
  }

  public static func gemmPackedBF16(
    m: Int, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int,
    packed: UnsafeRawPointer, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
  ) {
    let status = clk_sgemm_packed_bf16(m, n, k, alpha, a, lda, packed, beta, c, ldc)
    precondition(status == 0, "gemmPackedBF16: packed matrix was not made by packBF16(k: \(k), n: \(n))")
  }
}
