// Embedding lookup: forward gathers rows, backward scatter-adds them. Shapes legend in Config.swift.

import CharLSTMKernels

/// The token embedding `nn.Embedding(V, E)`: row `tokens[r]` of the weight becomes row r.
enum Embedding {
  /// Forward: `out[r, :] = weight[tokens[r], :]` for r in 0..<rows.
  /// - Parameters:
  ///   - tokens: [rows] token ids, each in 0..<V (checked).
  ///   - weight: [V, E] embedding table.
  ///   - out: [rows, E], overwritten.
  static func forward<S: KernelScalar>(
    rows: Int, embed E: Int, vocab V: Int, tokens: UnsafePointer<Int32>,
    weight: UnsafePointer<S>, out: UnsafeMutablePointer<S>
  ) {
    for r in 0..<rows {
      let token = Int(tokens[r])
      precondition(token >= 0 && token < V, "token \(token) out of range 0..<\(V)")
      (out + r * E).update(from: weight + token * E, count: E)
    }
  }

  /// Backward: `dWeight[tokens[r], :] += dOut[r, :]` for every r (repeated tokens add up).
  /// - Parameters:
  ///   - tokens: [rows] the ids used by the forward pass.
  ///   - dOut: [rows, E] ∂L/∂(embedded rows).
  ///   - dWeight: [V, E] gradient of the table, ACCUMULATED into.
  static func backward<S: KernelScalar>(
    rows: Int, embed E: Int, tokens: UnsafePointer<Int32>,
    dOut: UnsafePointer<S>, dWeight: UnsafeMutablePointer<S>
  ) {
    for r in 0..<rows {
      // A one-row column sum is exactly `dWeight[token] += dOut[r]`, done by the kernel.
      S.accumulateColumnSums(
        rows: 1, cols: E, a: dOut + r * E, lda: E, out: dWeight + Int(tokens[r]) * E)
    }
  }
}
