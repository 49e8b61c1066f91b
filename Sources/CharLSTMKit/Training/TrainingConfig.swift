/// Which update rule the trainer uses.
public enum OptimizerKind: String, Codable, CaseIterable, Sendable {
  /// Adam (β1 0.9, β2 0.999, ε 1e-8), PyTorch's formulation. The default.
  case adam
  /// RMSprop (α 0.99, ε 1e-8), PyTorch's formulation.
  case rmsprop
  /// SGD with momentum (0.9 by default).
  case sgd
}

/// How the learning rate changes over the run.
public enum ScheduleKind: String, Codable, CaseIterable, Sendable {
  /// The same rate throughout.
  case constant
  /// Multiplied by ``TrainingConfig/decayFactor`` every ``TrainingConfig/decayEvery`` steps.
  case step
  /// Half a cosine from the base rate down to ``TrainingConfig/minLearningRateFraction`` of it.
  case cosine
}

/// Everything that decides how a model is trained (not its shape: see `ModelConfig`).
public struct TrainingConfig: Codable, Equatable, Sendable {
  /// B: independent contiguous streams per step.
  public var batch = 50
  /// T: time steps per window (the truncation length of backpropagation through time).
  public var seqLength = 50
  /// Total optimizer steps of the run (a resumed run continues up to this number).
  public var steps = 2000
  /// Base learning rate.
  public var learningRate = 2e-3
  /// The update rule.
  public var optimizer = OptimizerKind.adam
  /// Momentum for SGD.
  public var momentum = 0.9
  /// Clip the global L2 norm of the gradients to this value (0: no clipping).
  public var clipNorm = 5.0
  /// Also clip each gradient element to [−v, v] (nil: off).
  public var clipValue: Double? = nil
  /// How the learning rate changes over the run.
  public var schedule = ScheduleKind.constant
  /// Steps between decays for the `step` schedule.
  public var decayEvery = 1000
  /// Factor applied at each decay for the `step` schedule.
  public var decayFactor = 0.5
  /// Final rate as a fraction of the base rate for the `cosine` schedule.
  public var minLearningRateFraction = 0.0
  /// Linear warm-up from 0 over this many steps (0: none).
  public var warmupSteps = 0
  /// Fraction of the corpus (its tail) held out for validation.
  public var validationFraction = 0.05
  /// Validate every N steps (0: only at the end).
  public var evalEvery = 200
  /// Write a checkpoint every N steps (0: only at the end and on improvement).
  public var checkpointEvery = 500
  /// Stop after this many validations without improvement (nil: never).
  public var patience: Int? = nil
  /// Print a generated sample every N steps (0: never).
  public var sampleEvery = 0
  /// The one seed for initialization, batching and dropout.
  public var seed: UInt64 = 1
  /// Initial forget-gate bias of every LSTM layer (nil: 1, see `CharModel.init(config:generator:forgetBias:)`).
  /// Only a new run reads it; a checkpoint records it.
  public var forgetBias: Double? = nil

  /// The numerics of the run's matrix products (nil: fp32, as every checkpoint written before
  /// this option). Recorded in the checkpoint and the run log; a resumed run keeps it, so exact
  /// resume holds per precision.
  public var precision: Kernels.Precision? = nil

  /// The kernel path (``Kernels/ISA``'s name, e.g. "avx512bf16") the run's products ran on
  /// (nil: the calling thread's path). A new run records the path it starts on; a resumed run
  /// keeps the recorded one where this CPU has it (so it continues bit for bit), else runs on
  /// this CPU's path and ``Trainer/kernelPathChanged`` says so.
  public var kernelPath: String? = nil

  /// N: processes the batch is split over (data parallelism, ``Trainer/distribute(over:)``;
  /// nil: one). Recorded in the checkpoint: a run resumes with the same N, so it continues bit
  /// for bit (a different N would sum the gradients in a different order).
  public var ranks: Int? = nil

  // Training-only regularization (AWD-LSTM, Merity et al. 2017), each off when nil. Recorded
  // in the checkpoint and the run log; a resumed run keeps them (its masks come from the
  // checkpointed dropout generator, so it still continues bit for bit).

  /// How the model's dropout is laid out (nil: ``DropoutKind/standard``; see ``DropoutKind``).
  public var dropoutKind: DropoutKind? = nil
  /// Weight drop (DropConnect) probability on every layer's W_hh, one mask per window (nil: off).
  public var weightDrop: Double? = nil
  /// Embedding dropout probability: whole characters' rows dropped per window (nil: off).
  public var embedDropout: Double? = nil
  /// Decoupled weight decay λ (AdamW; nil: off): before each update every weight matrix and the
  /// embedding, not the biases, shrink by p ← p − lr·λ·p, with any optimizer (see ``WeightDecay``).
  public var weightDecay: Double? = nil

  /// State reset probability P (nil: off): at the start of every window each stream's carried
  /// state (h and c of every layer) is set to zero with probability P, so the model also learns
  /// to start from an empty context, as nanoGPT's measure (`charlstm eval --windows`) scores it.
  /// The draws are a pure function of the seed, the epoch, the window and the stream (see
  /// ``StateReset``), so a resumed or distributed run makes the same ones.
  public var stateReset: Double? = nil

  /// Decay D of an exponential moving average of the weights (nil: off; see ``WeightAverage``).
  /// Training is unchanged; validation, the best-checkpoint choice and the checkpoints' model
  /// tensors use the average, and the checkpoints also hold the trained weights so a resumed
  /// run continues bit for bit. Recorded in the checkpoint; a resumed run keeps it.
  public var emaDecay: Double? = nil

  /// The model-side regularizers of a training window (every one off when unset).
  public var regularization: Regularization {
    Regularization(dropoutKind: dropoutKind ?? .standard, weightDrop: weightDrop ?? 0, embedDropout: embedDropout ?? 0)
  }

  /// The defaults: B 50 × T 50, 2000 steps, Adam at 2e-3, clip 5, validate every 200 steps.
  public init() {}

  /// Throws ``TrainingError/outOfRange(_:value:expected:)`` naming the first setting out of
  /// range (``TrainingError/tooManyProcesses(processes:batch:)`` for more ranks than streams).
  public func validate() throws(TrainingError) {
    func bad(_ setting: TrainingSetting, _ value: Any, _ expected: String) -> TrainingError {
      .outOfRange(setting, value: "\(value)", expected: expected)
    }
    if batch < 1 || batch > 1 << 16 { throw bad(.batch, batch, "an integer from 1 to 65536") }
    if seqLength < 1 || seqLength > 1 << 16 { throw bad(.seqLength, seqLength, "an integer from 1 to 65536") }
    if batch * seqLength > 1 << 24 { throw bad(.charactersPerStep, batch * seqLength, "at most 16,777,216 characters per step") }
    if steps < 1 || steps > 1 << 40 { throw bad(.steps, steps, "an integer ≥ 1") }
    if !(learningRate > 0 && learningRate.isFinite) { throw bad(.learningRate, learningRate, "a number > 0, e.g. 2e-3") }
    if !(momentum >= 0 && momentum < 1) { throw bad(.momentum, momentum, "a number in [0, 1)") }
    if !(clipNorm >= 0 && clipNorm.isFinite) { throw bad(.clipNorm, clipNorm, "a number ≥ 0 (0 turns clipping off)") }
    if let v = clipValue, !(v > 0 && v.isFinite) { throw bad(.clipValue, v, "a number > 0") }
    if let p = patience, p > 1 << 30 { throw bad(.patience, p, "a smaller integer") }
    if decayEvery < 1 { throw bad(.decayEvery, decayEvery, "an integer ≥ 1") }
    if !(decayFactor > 0 && decayFactor <= 1) { throw bad(.decayFactor, decayFactor, "a number in (0, 1]") }
    if !(minLearningRateFraction >= 0 && minLearningRateFraction <= 1) { throw bad(.minLearningRateFraction, minLearningRateFraction, "a number in [0, 1]") }
    if warmupSteps < 0 { throw bad(.warmupSteps, warmupSteps, "an integer ≥ 0") }
    if !(validationFraction >= 0 && validationFraction < 1) { throw bad(.validationFraction, validationFraction, "a number in [0, 1)") }
    if evalEvery < 0 { throw bad(.evalEvery, evalEvery, "an integer ≥ 0") }
    if checkpointEvery < 0 { throw bad(.checkpointEvery, checkpointEvery, "an integer ≥ 0") }
    if let p = patience, p < 1 { throw bad(.patience, p, "an integer ≥ 1") }
    if sampleEvery < 0 { throw bad(.sampleEvery, sampleEvery, "an integer ≥ 0") }
    if let r = ranks, r < 1 || r > batch { throw .tooManyProcesses(processes: r, batch: batch) }
    if let b = forgetBias, !(b.isFinite && abs(b) <= 10) { throw bad(.forgetBias, b, "a number from -10 to 10, e.g. 1 (the default) or 0") }
    if let p = weightDrop, !Regularization.isProbability(p) { throw bad(.weightDrop, p, "a probability in [0, 1), e.g. 0.2 (0 turns it off)") }
    if let p = embedDropout, !Regularization.isProbability(p) { throw bad(.embedDropout, p, "a probability in [0, 1), e.g. 0.1 (0 turns it off)") }
    if let p = stateReset, !(p >= 0 && p <= 1) { throw bad(.stateReset, p, "a probability in [0, 1], e.g. 0.1 (0 turns it off)") }
    if let d = emaDecay, !(d >= 0 && d < 1) { throw bad(.emaDecay, d, "a number in [0, 1), e.g. 0.999 (0 turns it off)") }
    if let w = weightDecay, !(w >= 0 && w.isFinite) { throw bad(.weightDecay, w, "a finite number ≥ 0, e.g. 0.01 (0 turns it off)") }
  }

  /// The learning rate at (1-based) optimizer step `step`.
  public func learningRate(atStep step: Int) -> Double {
    var lr = learningRate
    switch schedule {
    case .constant: break
    case .step:
      lr *= pow(decayFactor, Double((step - 1) / decayEvery))
    case .cosine:
      let span = max(1, steps - warmupSteps)
      let progress = min(1, max(0, Double(step - 1 - warmupSteps) / Double(span)))
      let floor = minLearningRateFraction
      lr *= floor + (1 - floor) * 0.5 * (1 + cos(Double.pi * progress))
    }
    if warmupSteps > 0 && step <= warmupSteps {
      lr *= Double(step) / Double(warmupSteps)
    }
    return lr
  }
}

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif
