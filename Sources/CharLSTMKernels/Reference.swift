// Plain reference loops: the definition every fast kernel is tested against, and the path the
// Double model (gradient checks) runs on. Shapes legend in KernelScalar.swift.

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Naive, obviously-correct implementations of the kernel interface.
public enum Reference {
  /// `C[m×n] = alpha·op(A)·op(B) + beta·C`; see ``KernelScalar/gemm(transA:transB:m:n:k:alpha:a:lda:b:ldb:beta:c:ldc:)``.
  public static func gemm<S: BinaryFloatingPoint>(
    transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
    alpha: S, a: UnsafePointer<S>, lda: Int,
    b: UnsafePointer<S>, ldb: Int,
    beta: S, c: UnsafeMutablePointer<S>, ldc: Int
  ) {
    for i in 0..<m {
      for j in 0..<n {
        var acc: S = 0
        for p in 0..<k {
          let av = transA ? a[p * lda + i] : a[i * lda + p]
          let bv = transB ? b[j * ldb + p] : b[p * ldb + j]
          acc += av * bv
        }
        let old = beta == 0 ? 0 : beta * c[i * ldc + j]
        c[i * ldc + j] = alpha * acc + old
      }
    }
  }

  @inline(__always) static func sigmoid<S: BinaryFloatingPoint>(_ x: S) -> S {
    S(1.0 / (1.0 + exp(-Double(x))))
  }

  @inline(__always) static func tanhS<S: BinaryFloatingPoint>(_ x: S) -> S {
    S(tanh(Double(x)))
  }

  /// The LSTM cell forward; see ``KernelScalar/lstmCellForward(batch:hidden:gates:cPrev:c:tanhC:h:)``.
  public static func lstmCellForward<S: BinaryFloatingPoint>(
    batch: Int, hidden H: Int, gates: UnsafeMutablePointer<S>,
    cPrev: UnsafePointer<S>, c: UnsafeMutablePointer<S>,
    tanhC: UnsafeMutablePointer<S>, h: UnsafeMutablePointer<S>
  ) {
    for b in 0..<batch {
      let z = gates + b * 4 * H
      for j in 0..<H {
        let i = sigmoid(z[j])
        let f = sigmoid(z[H + j])
        let g = tanhS(z[2 * H + j])
        let o = sigmoid(z[3 * H + j])
        z[j] = i
        z[H + j] = f
        z[2 * H + j] = g
        z[3 * H + j] = o
        let cv = f * cPrev[b * H + j] + i * g
        let tc = tanhS(cv)
        c[b * H + j] = cv
        tanhC[b * H + j] = tc
        h[b * H + j] = o * tc
      }
    }
  }

  /// The LSTM cell backward; see ``KernelScalar/lstmCellBackward(batch:hidden:gates:cPrev:tanhC:dh:dc:dGates:)``.
  public static func lstmCellBackward<S: BinaryFloatingPoint>(
    batch: Int, hidden H: Int, gates: UnsafePointer<S>,
    cPrev: UnsafePointer<S>, tanhC: UnsafePointer<S>,
    dh: UnsafePointer<S>, dc: UnsafeMutablePointer<S>,
    dGates: UnsafeMutablePointer<S>
  ) {
    for b in 0..<batch {
      let z = gates + b * 4 * H
      let dz = dGates + b * 4 * H
      for j in 0..<H {
        let k = b * H + j
        let i = z[j]
        let f = z[H + j]
        let g = z[2 * H + j]
        let o = z[3 * H + j]
        let tc = tanhC[k]
        let dhv = dh[k]
        let dcTotal = dc[k] + dhv * o * (1 - tc * tc)
        dz[j] = dcTotal * g * i * (1 - i)
        dz[H + j] = dcTotal * cPrev[k] * f * (1 - f)
        dz[2 * H + j] = dcTotal * i * (1 - g * g)
        dz[3 * H + j] = dhv * tc * o * (1 - o)
        dc[k] = dcTotal * f
      }
    }
  }

  /// Softmax cross-entropy with its gradient; see ``KernelScalar/softmaxCrossEntropy(rows:cols:logits:targets:scale:)``.
  public static func softmaxCrossEntropy<S: BinaryFloatingPoint>(
    rows: Int, cols: Int, logits: UnsafeMutablePointer<S>,
    targets: UnsafePointer<Int32>, scale: S
  ) -> Double {
    var total = 0.0
    for r in 0..<rows {
      let row = logits + r * cols
      var mx = -Double.infinity
      for j in 0..<cols { mx = max(mx, Double(row[j])) }
      var sum = 0.0
      for j in 0..<cols { sum += exp(Double(row[j]) - mx) }
      let t = Int(targets[r])
      total += -(Double(row[t]) - mx - log(sum))
      for j in 0..<cols {
        let p = exp(Double(row[j]) - mx) / sum
        row[j] = scale * S(p - (j == t ? 1 : 0))
      }
    }
    return total
  }

  /// Column sums, accumulated; see ``KernelScalar/accumulateColumnSums(rows:cols:a:lda:out:)``.
  public static func accumulateColumnSums<S: BinaryFloatingPoint>(
    rows: Int, cols: Int, a: UnsafePointer<S>, lda: Int, out: UnsafeMutablePointer<S>
  ) {
    for r in 0..<rows {
      for j in 0..<cols { out[j] += a[r * lda + j] }
    }
  }
}
