/// Loss of a model over a whole text, with the recurrent state carried through it.
public enum Evaluation {
  /// The most streams (`batch`) and the longest window (`seqLength`) an evaluation takes.
  public static let maxStreams = 1 << 16
  /// See ``maxStreams``.
  public static let maxSeqLength = 1 << 16

  /// The streams and window length ``meanLoss(model:tokens:batch:seqLength:)`` really uses for
  /// a text of `tokens` ids: at most one stream per `seqLength` predictions, and a window no
  /// longer than a stream.
  public static func effectiveShape(tokens: Int, batch: Int, seqLength: Int) -> (streams: Int, seqLength: Int) {
    let predictions = max(0, tokens - 1)
    let streams = max(1, min(batch, predictions / max(1, seqLength)))
    return (streams, max(1, min(seqLength, predictions / streams)))
  }

  /// Bytes an evaluation needs, roughly: the weights, the carried state, the window's inputs
  /// and targets and its activations (about 12 floats per hidden unit per character per
  /// layer, and the logits), for the shape ``effectiveShape(tokens:batch:seqLength:)`` gives.
  public static func estimatedBytes(model c: ModelConfig, tokens: Int, batch: Int, seqLength: Int) -> Double {
    let (B, T) = effectiveShape(tokens: tokens, batch: batch, seqLength: seqLength)
    let rows = Double(B) * Double(T)
    let L = Double(c.layers), H = Double(c.hiddenSize)
    let activations = rows * (L * 12 * H + 2 * Double(c.vocabSize) + Double(c.embedSize))
    return 4 * (Double(c.parameterCount) + 2 * L * Double(B) * H + activations) + 8 * rows
  }

  /// Checks `batch` and `seqLength` against their ranges and the estimate against this
  /// machine's physical memory.
  /// - Throws: ``TrainingError/outOfRange(_:value:expected:)`` naming the setting
  ///   (``TrainingSetting/evaluationStreams``, ``TrainingSetting/evaluationSeqLength``), or
  ///   ``TrainingError/exceedsMemory(run:needed:available:reduce:)``.
  public static func check(model c: ModelConfig, tokens: Int, batch: Int, seqLength: Int) throws(TrainingError) {
    if batch < 1 || batch > maxStreams { throw .outOfRange(.evaluationStreams, value: "\(batch)", expected: "an integer from 1 to 65536") }
    if seqLength < 1 || seqLength > maxSeqLength { throw .outOfRange(.evaluationSeqLength, value: "\(seqLength)", expected: "an integer from 1 to 65536") }
    let need = estimatedBytes(model: c, tokens: tokens, batch: batch, seqLength: seqLength)
    let have = HostMemory.physicalBytes
    if have > 0 && need > have {
      let (B, T) = effectiveShape(tokens: tokens, batch: batch, seqLength: seqLength)
      throw .exceedsMemory(
        run: "an evaluation of \(B) streams × \(T) steps", needed: need, available: have,
        reduce: [.evaluationStreams, .evaluationSeqLength])
    }
  }

  /// Mean cross-entropy (nats per character) of predicting every next character of `tokens`.
  ///
  /// The text is cut into up to `batch` contiguous streams read in windows of `seqLength`
  /// steps with the state carried; the few characters left over continue the last stream, so
  /// every one of the `tokens.count − 1` predictions is scored exactly once.
  /// A window longer than a stream is cut to the stream, so nothing is allocated beyond the
  /// text; call ``check(model:tokens:batch:seqLength:)`` first for sizes from a user.
  /// - Returns: the mean loss and the number of predictions (0 when `tokens` has < 2 ids).
  public static func meanLoss(
    model: CharModel<Float>, tokens: TokenSlice, batch: Int, seqLength requested: Int
  ) -> (loss: Double, count: Int) {
    let (total, predictions) = lossSum(model: model, tokens: tokens, batch: batch, seqLength: requested, part: 0, of: 1)
    return predictions == 0 ? (0, 0) : (total / Double(predictions), predictions)
  }

  /// Part `part` of `parts` of ``meanLoss(model:tokens:batch:seqLength:)``'s sum, for an
  /// evaluation split over processes: this part scores streams [part·S/parts, (part+1)·S/parts)
  /// of the S streams the whole evaluation uses (the part holding the last stream also scores
  /// the tail that continues it), so the parts' sums add up to the whole sum.
  /// - Returns: this part's sum of cross-entropy (nats) and the number of predictions of the
  ///   WHOLE evaluation (`tokens.count − 1`, or 0 when `tokens` has < 2 ids).
  public static func lossSum(
    model: CharModel<Float>, tokens: TokenSlice, batch: Int, seqLength requested: Int, part: Int, of parts: Int
  ) -> (sum: Double, count: Int) {
    precondition(requested >= 1, "evaluation needs seqLength ≥ 1, got \(requested)")
    precondition(parts >= 1 && part >= 0 && part < parts, "part \(part) of \(parts)")
    let predictions = tokens.count - 1
    guard predictions >= 1 else { return (0, 0) }
    let base = tokens.startIndex
    let (all, seqLength) = effectiveShape(tokens: tokens.count, batch: batch, seqLength: requested)
    let n = predictions / all  // predictions per stream
    let mine = (part * all / parts)..<((part + 1) * all / parts)  // may be empty
    let streams = mine.count
    var total = 0.0
    var state = LSTMState<Float>.zeros(for: model.config, batch: max(1, streams))
    if streams > 0 {
      var inputs = [Int32](repeating: 0, count: streams * seqLength)
      var targets = inputs
      var start = 0
      while start < n {
        let steps = min(seqLength, n - start)
        for t in 0..<steps {
          for j in 0..<streams {
            let i = base + (mine.lowerBound + j) * n + start + t
            inputs[t * streams + j] = tokens[i]
            targets[t * streams + j] = tokens[i + 1]
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
    }
    let rest = predictions - all * n
    if rest > 0 && mine.upperBound == all {
      // The tail continues the last stream: take its state and read on with one stream.
      var tail = LSTMState<Float>.zeros(for: model.config, batch: 1)
      let H = model.config.hiddenSize
      for l in 0..<model.config.layers {
        for j in 0..<H {
          tail.h[l * H + j] = state.h[(l * streams + streams - 1) * H + j]
          tail.c[l * H + j] = state.c[(l * streams + streams - 1) * H + j]
        }
      }
      let x = Array(tokens[(base + all * n)..<(base + predictions)])
      let y = Array(tokens[(base + all * n + 1)...])
      total += x.withUnsafeBufferPointer { xp in
        y.withUnsafeBufferPointer { yp in
          model.evaluateWindow(inputs: xp, targets: yp, batch: 1, steps: rest, state: &tail)
        }
      }
    }
    return (total, predictions)
  }

  /// nanoGPT's measure (karpathy/nanoGPT `train.py`, `estimate_loss`): the mean cross-entropy
  /// over `samples` windows of `window` characters at random places in `tokens`, each scored
  /// from a zero state, every position of a window counted (its first predictions have little
  /// context, so this is higher than the carried-state ``meanLoss(model:tokens:batch:seqLength:)``).
  ///
  /// Window starts are drawn uniformly from [0, count − window − 1] by a ``SeededGenerator`` of
  /// `seed`, so the figure is reproducible; windows are scored `batch` at a time, each read in
  /// pieces of at most `seqLength` steps with the state carried from piece to piece, so memory
  /// is that of a `batch` × `seqLength` evaluation whatever the window (the result does not
  /// depend on `batch` or `seqLength`, up to the order of a Double sum).
  /// - Returns: the mean loss over `samples × window` predictions, or nil when the text is not
  ///   longer than one window.
  public static func windowedLoss(
    model: CharModel<Float>, tokens: TokenSlice, window: Int, samples: Int, seed: UInt64, batch: Int = 100,
    seqLength: Int = 100
  ) -> Double? {
    precondition(
      window >= 1 && samples >= 1 && batch >= 1 && seqLength >= 1,
      "windowed evaluation needs window, samples, batch and seqLength ≥ 1")
    guard tokens.count > window + 1 else { return nil }
    var g = SeededGenerator(seed: seed)
    let span = UInt64(tokens.count - window - 1)
    let starts = (0..<samples).map { _ in tokens.startIndex + Int(g.next() % (span + 1)) }
    var total = 0.0
    let piece = min(seqLength, window)
    var inputs = [Int32](repeating: 0, count: min(batch, samples) * piece)
    var targets = inputs
    var done = 0
    while done < samples {
      let B = min(batch, samples - done)
      var state = LSTMState<Float>.zeros(for: model.config, batch: B)
      var t0 = 0
      while t0 < window {
        let T = min(piece, window - t0)
        for t in 0..<T {
          for b in 0..<B {
            let i = starts[done + b] + t0 + t
            inputs[t * B + b] = tokens[i]
            targets[t * B + b] = tokens[i + 1]
          }
        }
        total += inputs.withUnsafeBufferPointer { x in
          targets.withUnsafeBufferPointer { y in
            model.evaluateWindow(
              inputs: UnsafeBufferPointer(rebasing: x[..<(T * B)]), targets: UnsafeBufferPointer(rebasing: y[..<(T * B)]),
              batch: B, steps: T, state: &state)
          }
        }
        t0 += T
      }
      done += B
    }
    return total / (Double(samples) * Double(window))
  }
}
