/// Why training could not start or had to stop. Each ``description`` is one line with the fix.
public enum TrainingError: Error, Equatable, CustomStringConvertible, Sendable {
  /// An option is out of range.
  case invalidOption(name: String, value: String, expected: String)
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
  /// The processes of a distributed run no longer hold the same weights (nothing was saved).
  case processesDrifted(step: Int)

  /// One line saying what went wrong and how to fix it.
  public var description: String {
    switch self {
    case .invalidOption(let name, let value, let expected):
      return "\(name) \(value) is invalid: expected \(expected)"
    case .corpusTooShort(let n, let needed, let b, let t):
      return "the training text has \(n) characters but one window of --batch \(b) × --seq \(t) needs at least \(needed); use a longer corpus or smaller --batch/--seq"
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
    case .corpusChanged(let path, let ckpt):
      return "\(path) is not the corpus \(ckpt) was trained on (its characters differ); pass the original corpus, or start a new run"
    }
  }

  private static func processes(_ n: Int) -> String { n == 1 ? "1 process" : "\(n) processes" }

  /// What to do after a divergence: resume the last good checkpoint, or start again.
  private static func recovery(_ checkpoint: String?) -> String {
    guard let checkpoint else { return "; no checkpoint was written: lower --lr or --clip and start again" }
    return "; the last good checkpoint is \(checkpoint): lower --lr or --clip and resume it"
  }
}
