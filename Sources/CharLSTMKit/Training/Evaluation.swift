/// Loss of a model over a whole text, with the recurrent state carried through it.
public enum Evaluation {
  /// Mean cross-entropy (nats per character) of predicting every next character of `tokens`.
  ///
  /// The text is cut into up to `batch` contiguous streams read in windows of `seqLength`
  /// steps with the state carried; the few characters left over continue the last stream, so
  /// every one of the `tokens.count − 1` predictions is scored exactly once.
  /// - Returns: the mean loss and the number of predictions (0 when `tokens` has < 2 ids).
  public static func meanLoss(
    model: CharModel<Float>, tokens: ArraySlice<Int32>, batch: Int, seqLength: Int
  ) -> (loss: Double, count: Int) {
    let predictions = tokens.count - 1
    guard predictions >= 1 else { return (0, 0) }
    let base = tokens.startIndex
    let streams = max(1, min(batch, predictions / max(1, seqLength)))
    let n = predictions / streams  // predictions per stream
    var state = LSTMState<Float>.zeros(for: model.config, batch: streams)
    var inputs = [Int32](repeating: 0, count: streams * seqLength)
    var targets = inputs
    var total = 0.0
    var start = 0
    while start < n {
      let steps = min(seqLength, n - start)
      for t in 0..<steps {
        for b in 0..<streams {
          let i = base + b * n + start + t
          inputs[t * streams + b] = tokens[i]
          targets[t * streams + b] = tokens[i + 1]
        }
      }
      total += inputs.withUnsafeBufferPointer { x in
        targets.withUnsafeBufferPointer { y in
          model.evaluateWindow(
            inputs: UnsafeBufferPointer(rebasing: x[..<(steps * streams)]),
            targets: UnsafeBufferPointer(rebasing: y[..<(steps * streams)]),
            batch: streams, steps: steps, state: &state)
        }
      }
      start += steps
    }
    let rest = predictions - streams * n
    if rest > 0 {
      // The tail continues the last stream: take its state and read on with one stream.
      var tail = LSTMState<Float>.zeros(for: model.config, batch: 1)
      let H = model.config.hiddenSize
      for l in 0..<model.config.layers {
        for j in 0..<H {
          tail.h[l * H + j] = state.h[(l * streams + streams - 1) * H + j]
          tail.c[l * H + j] = state.c[(l * streams + streams - 1) * H + j]
        }
      }
      let x = Array(tokens[(base + streams * n)..<(base + predictions)])
      let y = Array(tokens[(base + streams * n + 1)...])
      total += x.withUnsafeBufferPointer { xp in
        y.withUnsafeBufferPointer { yp in
          model.evaluateWindow(inputs: xp, targets: yp, batch: 1, steps: rest, state: &tail)
        }
      }
    }
    return (total / Double(predictions), predictions)
  }
}
