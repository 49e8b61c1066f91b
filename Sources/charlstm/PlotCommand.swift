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

  @Option(help: "Where to write the SVG figure.")
  var out: String = "curves.svg"

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

  func run() throws {
    var runs: [RunLog] = []
    for path in logs {
      let logPath = path.hasSuffix(".safetensors") ? RunLog.path(forCheckpoint: path) : path
      runs.append(try RunLog.read(contentsOf: logPath))
    }
    let svg = LossPlot.svg(runs, options: LossPlot.Options(smoothing: smoothing, showRaw: !noRaw, title: title))
    try prepareDirectory(for: out)
    guard FileManager.default.createFile(atPath: out, contents: Data(svg.utf8)) else {
      throw ValidationError("cannot write \(out) (\(String(cString: strerror(errno)))); choose another --out")
    }
    let steps = runs.map { $0.steps.last?.step ?? 0 }.max() ?? 0
    Output.note("wrote \(out): \(runs.count) run\(runs.count == 1 ? "" : "s"), up to step \(steps)")
  }
}
