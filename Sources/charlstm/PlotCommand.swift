import ArgumentParser
import CharLSTMKit
import Foundation

/// `charlstm plot LOG...`: loss curves of one or more runs as an SVG figure.
struct PlotCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "plot",
    abstract: "Draw training and validation loss of one or more runs as an SVG figure.",
    discussion: """
      Reads the run logs that 'charlstm train' writes beside each checkpoint \
      (<name>.log.jsonl) and draws two panels: loss against optimizer steps and against \
      training time. Each run gets one colour and a legend entry named after its log file; \
      training loss is smoothed with an exponential moving average (--smoothing) over the \
      faint per-step values, validation loss is drawn as markers. The SVG opens in any browser.

      Examples:
        charlstm plot checkpoints/tinyshakespeare.log.jsonl
        charlstm plot runs/small.log.jsonl runs/large.log.jsonl --out curves.svg
        charlstm plot checkpoints/*.log.jsonl --smoothing 0.98 --title "hidden size"
      """)

  @Argument(help: "Run logs (<checkpoint name>.log.jsonl); a checkpoint path also works and means its log.")
  var logs: [String] = []

  @Option(help: "Where to write the SVG figure (an earlier 'charlstm plot' figure there is replaced; any other file needs --overwrite).")
  var out: String = "curves.svg"

  @Flag(help: "Replace --out even when it is not a figure written by 'charlstm plot'.")
  var overwrite = false

  @Option(help: "EMA weight for the training loss, in [0, 1): 0 = raw per-step values, 0.98 = smoother.")
  var smoothing: Double = 0.9

  @Flag(help: "Leave out the faint raw per-step training loss.")
  var noRaw = false

  @Option(help: "Figure title.")
  var title: String = "Training and validation loss"

  func validate() throws {
    if logs.isEmpty {
      throw ValidationError("give at least one run log, e.g. charlstm plot checkpoints/tinyshakespeare.log.jsonl (training writes one beside each checkpoint)")
    }
    if !(smoothing >= 0 && smoothing < 1) { throw ValidationError("--smoothing \(smoothing) is invalid: expected a number in [0, 1), e.g. 0.9") }
  }

  /// The first line of every figure this command writes: how it knows its own files.
  static let signature = "<!-- charlstm plot -->"

  func run() throws {
    // The output first: nothing is read when the figure could not be written anyway.
    if out.hasSuffix("/") || PathKind(of: out) == .directory {
      throw ValidationError("--out \(out) is a folder; give a file path, e.g. --out \(out.hasSuffix("/") ? out : out + "/")curves.svg")
    }
    if let why = PathKind(of: out).refusal { throw ValidationError("\(out) cannot be written: \(why); choose another --out") }
    // What a figure must never replace, --overwrite or not: the logs it is drawn from (and the
    // checkpoints named for them), any checkpoint, any run log.
    for input in logs.flatMap({ [$0, Self.logPath($0)] }) where sameFile(out, input) {
      throw ValidationError("--out \(out) is \(input), which this figure is drawn from; choose another --out, e.g. --out curves.svg")
    }
    if let kind = RunFiles.isRunLogFile(out) ? "run log" : RunFiles.isSafetensorsFile(out) ? "checkpoint" : nil {
      throw ValidationError("--out \(out) is a \(kind), which a figure never replaces (not even with --overwrite); choose another --out, e.g. --out curves.svg")
    }
    if PathKind(of: out) == .regular && !overwrite && !Self.isOwnFigure(out) {
      throw ValidationError("\(out) already exists and is not a figure written by 'charlstm plot'; replace it with --overwrite or choose another --out")
    }
    var runs: [RunLog] = []
    for path in logs {
      runs.append(try RunLog.read(contentsOf: Self.logPath(path)))
    }
    let svg = Self.signature + "\n" + LossPlot.svg(runs, options: LossPlot.Options(smoothing: smoothing, showRaw: !noRaw, title: title))
    try prepareDirectory(for: out)
    try AtomicFile.write(Array(svg.utf8), to: out)
    let steps = runs.map { $0.steps.last?.step ?? 0 }.max() ?? 0
    Output.note("wrote \(out): \(runs.count) run\(runs.count == 1 ? "" : "s"), up to step \(steps)")
  }
}

extension PlotCommand {
  /// A log to read for `path`: a checkpoint (recognised by its contents, whatever its name)
  /// means the log beside it; anything else is read as a log.
  static func logPath(_ path: String) -> String {
    if path.hasSuffix(".log.jsonl") { return path }
    guard path.hasSuffix(".safetensors") || RunFiles.isCheckpointFile(path) else { return path }
    // A best copy (`name.best.safetensors`) belongs to the run of `name.safetensors`.
    if path.hasSuffix(".best.safetensors") {
      let main = RunLog.path(forCheckpoint: String(path.dropLast(".best.safetensors".count)) + ".safetensors")
      if PathKind(of: main) == .regular { return main }
    }
    return RunLog.path(forCheckpoint: path)
  }

  /// True when `path` starts with the signature of a figure this command wrote.
  static func isOwnFigure(_ path: String) -> Bool {
    guard let handle = FileHandle(forReadingAtPath: path) else { return false }
    defer { try? handle.close() }
    let head = (try? handle.read(upToCount: signature.utf8.count)) ?? Data()
    return head == Data(signature.utf8)
  }
}
