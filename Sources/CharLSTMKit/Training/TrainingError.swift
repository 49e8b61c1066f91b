/// Why training could not start or had to stop. Each ``description`` is one line with the fix.
public enum TrainingError: Error, Equatable, CustomStringConvertible, Sendable {
  /// An option is out of range.
  case invalidOption(name: String, value: String, expected: String)
  /// The training part of the corpus is too short for one window of B streams × T steps.
  case corpusTooShort(characters: Int, needed: Int, batch: Int, seqLength: Int)
  /// The loss or the gradient norm stopped being a finite number.
  case diverged(step: Int, loss: Double, norm: Double, checkpoint: String?)
  /// An option that would change the model or the data was given with `--resume`.
  case changedOnResume(option: String, checkpoint: String, value: String)
  /// The corpus given on resume is not the one the checkpoint was trained on.
  case corpusChanged(path: String, checkpoint: String)

  /// One line saying what went wrong and how to fix it.
  public var description: String {
    switch self {
    case .invalidOption(let name, let value, let expected):
      return "\(name) \(value) is invalid: expected \(expected)"
    case .corpusTooShort(let n, let needed, let b, let t):
      return "the training text has \(n) characters but one window of --batch \(b) × --seq \(t) needs at least \(needed); use a longer corpus or smaller --batch/--seq"
    case .diverged(let step, let loss, let norm, let ckpt):
      let keep = ckpt.map { "; the last good checkpoint is \($0)" } ?? ""
      return "training diverged at step \(step) (loss \(loss), gradient norm \(norm))\(keep); lower --lr or --clip and resume"
    case .changedOnResume(let option, let ckpt, let value):
      return "\(option) cannot change when resuming \(ckpt) (it was trained with \(value)); drop \(option) or start a new run with --out"
    case .corpusChanged(let path, let ckpt):
      return "\(path) is not the corpus \(ckpt) was trained on (its characters differ); pass the original corpus, or start a new run"
    }
  }
}
