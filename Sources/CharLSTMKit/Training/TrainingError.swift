import CharLSTMModel
import CharLSTMText

/// A value of a training run that can be out of range, named in the library's words (a command
/// line maps each to its flag).
public enum TrainingSetting: String, CaseIterable, Sendable {
  case batch = "batch size"
  case seqLength = "sequence length"
  case charactersPerStep = "batch size × sequence length"
  case steps = "step count"
  case learningRate = "learning rate"
  case momentum
  case clipNorm = "clip norm"
  case clipValue = "clip value"
  case patience
  case decayEvery = "decay interval"
  case decayFactor = "decay factor"
  case minLearningRateFraction = "minimum learning-rate fraction"
  case warmupSteps = "warm-up step count"
  case validationFraction = "validation fraction"
  case evalEvery = "validation interval"
  case checkpointEvery = "checkpoint interval"
  case sampleEvery = "sample interval"
  case forgetBias = "forget-gate bias"
  /// ``TrainingConfig/weightDrop``: a probability.
  case weightDrop = "weight drop"
  /// ``TrainingConfig/embedDropout``: a probability.
  case embedDropout = "embedding dropout"
  /// ``TrainingConfig/weightDecay``: λ ≥ 0.
  case weightDecay = "weight decay"
  /// ``TrainingConfig/stateReset``: a probability in [0, 1].
  case stateReset = "state reset probability"
  /// ``TrainingConfig/emaDecay``: a number in [0, 1).
  case emaDecay = "weight average decay"
  case dropout
  case embedSize = "embedding size"
  case hiddenSize = "hidden size"
  case layers = "layer count"
  case vocabularySize = "vocabulary size"
  /// Streams an evaluation reads side by side (``Evaluation``).
  case evaluationStreams = "evaluation stream count"
  /// Time steps per window of an evaluation.
  case evaluationSeqLength = "evaluation window length"
}

extension TrainingSetting: CustomStringConvertible {
  public var description: String { rawValue }
}

/// Why training could not start or had to stop. Each ``description`` is one line with the fix,
/// in terms of values (``TrainingSetting``), not of any command line's flags.
public enum TrainingError: Error, Equatable, CustomStringConvertible, Sendable {
  /// A setting is out of range: `value` as given, `expected` the values accepted.
  case outOfRange(TrainingSetting, value: String, expected: String)
  /// The model's shape is invalid.
  case invalidModel(ModelError)
  /// A run of this size needs more than this machine's physical memory (both in bytes);
  /// lowering any of `reduce` helps.
  case exceedsMemory(run: String, needed: Double, available: Double, reduce: [TrainingSetting])
  /// The model's vocabulary is not the tokenizer's.
  case vocabularyMismatch(model: Int, tokenizer: Int)
  /// More processes than streams: each process needs at least one stream of the batch.
  case tooManyProcesses(processes: Int, batch: Int)
  /// The checkpoint to resume holds weights only (no optimizer, state or position).
  case notResumable(checkpoint: String?)
  /// A resumed run would train to fewer steps than the checkpoint has done already.
  case stepsBelowCheckpoint(steps: Int, checkpointStep: Int)
  /// A resumed run would use other numerics than its checkpoint's.
  case precisionChanged(checkpoint: String, now: String)
  /// A resumed run would read the data in another layout (B streams × T steps) than its
  /// checkpoint's: the carried state and the position hold for that layout only.
  case layoutChanged(checkpointBatch: Int, checkpointSeqLength: Int, batch: Int, seqLength: Int)
  /// The corpus cannot be used (e.g. read with other text options than the model's).
  case corpus(TextError)
  /// The training part of the corpus is too short for one window of B streams × T steps.
  case corpusTooShort(characters: Int, needed: Int, batch: Int, seqLength: Int)
  /// The loss or the gradient norm stopped being a finite number.
  case diverged(step: Int, loss: Double, norm: Double, checkpoint: String?)
  /// An update left a non-finite value (NaN or ±inf) in a parameter or optimizer moment
  /// (`tensor`, e.g. `lstm.weight_hh_l0` or `optimizer.second.head.weight`); nothing was saved
  /// from it.
  case nonFiniteUpdate(step: Int, tensor: String, checkpoint: String?)
  /// Validation gave a non-finite loss; nothing was saved from it.
  case nonFiniteValidation(step: Int, loss: Double, checkpoint: String?)
  /// The corpus given on resume is not the one the checkpoint was trained on.
  case corpusChanged(path: String, checkpoint: String)
  /// A run trained over `checkpoint` processes would continue over `now` (see ``TrainingConfig/ranks``).
  case ranksChanged(checkpoint: Int, now: Int)
  /// A resumed run would average its weights (``TrainingConfig/emaDecay``) differently from its
  /// checkpoint: `checkpoint` and `now` are the decays, nil for none.
  case averagingChanged(checkpoint: Double?, now: Double?)
  /// The processes of a distributed run no longer hold the same weights (nothing was saved).
  case processesDrifted(step: Int)

  /// One line saying what went wrong and how to fix it.
  public var description: String {
    switch self {
    case .outOfRange(let setting, let value, let expected):
      return "\(setting) \(value) is out of range: expected \(expected)"
    case .invalidModel(let e):
      return "invalid model: \(e)"
    case .exceedsMemory(let run, let need, let have, let reduce):
      return "\(run) does not fit in memory (needs about \(HostMemory.gigabytes(need)) GB, this machine has \(HostMemory.gigabytes(have)) GB); use a smaller \(Self.list(reduce.map(\.rawValue)))"
    case .vocabularyMismatch(let m, let t):
      return "the model has a vocabulary of \(m) symbols but the tokenizer \(t); give the tokenizer the model was made for"
    case .tooManyProcesses(let n, let b):
      return "batch size \(b) is out of range: expected at least one stream per process (\(Self.processes(n)))"
    case .notResumable(let path):
      return "\(path.map { "\($0) holds" } ?? "the checkpoint holds") weights only, not a training run; resume a checkpoint written during training, or start a new run"
    case .stepsBelowCheckpoint(let steps, let done):
      return "step count \(steps) is below the checkpoint's step \(done): the step count is the total to train to, not steps to add; give a larger number"
    case .precisionChanged(let then, let now):
      return "precision \(now) differs from the checkpoint's \(then) (a resumed run keeps its numerics, so it continues bit for bit); resume in \(then)"
    case .layoutChanged(let b0, let t0, let b, let t):
      return "batch size \(b) × sequence length \(t) differs from the checkpoint's \(b0) × \(t0) (a resumed run keeps its data layout, so it continues bit for bit); resume with \(b0) × \(t0), or start a new run"
    case .corpus(let e):
      return e.description
    case .corpusTooShort(let n, let needed, let b, let t):
      return "the training text has \(n) characters but one window of batch size \(b) × sequence length \(t) needs at least \(needed); use a longer corpus or a smaller batch size or sequence length"
    case .diverged(let step, let loss, let norm, let ckpt):
      return "training diverged at step \(step) (loss \(loss), gradient norm \(norm))\(Self.recovery(ckpt))"
    case .nonFiniteUpdate(let step, let tensor, let ckpt):
      return "training diverged at step \(step): the update made \(tensor) non-finite (NaN or ±inf)\(Self.recovery(ckpt))"
    case .nonFiniteValidation(let step, let loss, let ckpt):
      return "training diverged at step \(step): the validation loss is \(loss)\(Self.recovery(ckpt))"
    case .ranksChanged(let then, let now):
      return "the run was trained over \(Self.processes(then)) and would continue over \(Self.processes(now)); continue it over \(Self.processes(then)) (a different number sums the gradients in a different order, so it would not continue bit for bit)"
    case .processesDrifted(let step):
      return "at step \(step) the processes of the run no longer hold the same weights (the transport corrupted a sum, or they run different builds); nothing was saved: resume the last checkpoint with the same build on every machine"
    case .averagingChanged(let then, let now):
      func name(_ d: Double?) -> String { d.map { "a weight average of decay \($0)" } ?? "no weight average" }
      return "the run was trained with \(name(then)) and would continue with \(name(now)) (the average is part of the run, so it continues bit for bit); resume with \(name(then)), or start a new run"
    case .corpusChanged(let path, let ckpt):
      return "\(path) is not the corpus \(ckpt) was trained on (its characters differ); pass the original corpus, or start a new run"
    }
  }

  static func processes(_ n: Int) -> String { n == 1 ? "1 process" : "\(n) processes" }

  /// "a", "a or b", "a, b or c".
  static func list(_ items: [String]) -> String {
    items.count <= 1 ? items.joined() : items.dropLast().joined(separator: ", ") + " or " + items.last!
  }

  /// What to do after a divergence: resume the last good checkpoint, or start again.
  private static func recovery(_ checkpoint: String?) -> String {
    guard let checkpoint else { return "; no checkpoint was written: lower the learning rate or the clip norm and start again" }
    return "; the last good checkpoint is \(checkpoint): lower the learning rate or the clip norm and resume it"
  }
}
