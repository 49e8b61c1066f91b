import CharLSTMKit
import Foundation
import Synchronization

/// Whether standard error is a terminal (live, redrawn lines) or a file or pipe (plain lines).
let standardErrorIsTerminal = isatty(2) == 1

/// Columns of the terminal on standard error (80 when unknown).
func terminalColumns() -> Int {
  var size = winsize()
  if ioctl(2, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
  return 80
}

/// Writes to standard error at once.
func writeStandardError(_ s: String) {
  FileHandle.standardError.write(Data(s.utf8))
}

/// Cuts `s` to `width` characters so a redrawn line never wraps.
func fitted(_ s: String, width: Int) -> String {
  s.count <= width ? s : String(s.prefix(max(0, width - 1))) + "…"
}

/// Training progress on standard error.
///
/// On a terminal: one status line (step/total, epoch, loss, validation loss, chars/s, elapsed,
/// ETA) redrawn in place at most ten times a second; notes, validations and samples are printed
/// above it. Otherwise: a plain line every `every` steps and at the last step. `quiet`: nothing.
final class TrainingProgress {
  let quiet: Bool
  let live: Bool
  let every: Int
  private var lineShown = false
  private var lastDraw = -Double.infinity
  private var lastValidation: Double?
  private var last: StepRecord?
  /// Wall clock when this session took its first step, and that step's number.
  private var sessionStart: (time: Double, step: Int)?
  /// Characters and step seconds since the last line, for a steady chars/s figure.
  private var windowChars = 0.0
  private var windowSeconds = 0.0
  private var charsPerSecond = 0.0

  init(quiet: Bool, every: Int, live: Bool = standardErrorIsTerminal, lastValidation: Double?) {
    self.quiet = quiet
    self.every = every
    self.live = live
    self.lastValidation = lastValidation
  }

  private static func now() -> Double { ProcessMetrics.monotonicSeconds() }

  func step(_ r: StepRecord) {
    guard !quiet else { return }
    let now = Self.now()
    if sessionStart == nil { sessionStart = (now - r.milliseconds / 1000, r.step - 1) }
    last = r
    windowChars += r.charsPerSecond * r.milliseconds / 1000
    windowSeconds += r.milliseconds / 1000
    let final = r.step == r.totalSteps
    if live {
      guard final || now - lastDraw >= 0.1 else { return }
      lastDraw = now
      updateRate()
      draw(r)
    } else {
      guard r.step % every == 0 || final else { return }
      updateRate()
      writeStandardError(plainLine(r) + "\n")
    }
  }

  private func updateRate() {
    if windowSeconds > 0 { charsPerSecond = windowChars / windowSeconds }
    windowChars = 0
    windowSeconds = 0
  }

  /// Seconds left at this session's pace (wall clock, so validation and saving count too).
  private func eta(_ r: StepRecord) -> Double? {
    guard let start = sessionStart, r.step > start.step else { return nil }
    let perStep = (Self.now() - start.time) / Double(r.step - start.step)
    return perStep * Double(r.totalSteps - r.step)
  }

  private func plainLine(_ r: StepRecord) -> String {
    let val = lastValidation.map { String(format: " · val %.3f", $0) } ?? ""
    let eta = r.step == r.totalSteps ? "done" : eta(r).map(formatDuration) ?? "–"
    return String(
      format: "step %d/%d · epoch %d · loss %.3f%@ · norm %.2f · lr %.2e · %.0f ms · %@ chars/s · %@ · ETA %@",
      r.step, r.totalSteps, r.epoch, r.loss, val, r.gradientNorm, r.learningRate, r.milliseconds,
      compactCount(charsPerSecond), formatDuration(r.elapsedSeconds), eta).replacingOccurrences(of: "ETA done", with: "done")
  }

  /// The live line: the most useful fields first, dropped from the least useful end to fit.
  func liveLine(_ r: StepRecord, width: Int) -> String {
    let percent = 100 * Double(r.step) / Double(max(1, r.totalSteps))
    let head = String(format: "step %d/%d", r.step, r.totalSteps)
    let barWidth = 16
    let filled = Int((Double(barWidth) * Double(r.step) / Double(max(1, r.totalSteps))).rounded(.down))
    let bar = "[" + String(repeating: "#", count: filled) + String(repeating: "-", count: barWidth - filled) + "]" + String(format: " %3.0f%%", percent)
    var fields: [(priority: Int, text: String)] = [
      (0, head), (5, bar), (4, "epoch \(r.epoch)"), (0, String(format: "loss %.3f", r.loss)),
    ]
    if let v = lastValidation { fields.append((1, String(format: "val %.3f", v))) }
    fields.append((3, "\(compactCount(charsPerSecond)) chars/s"))
    fields.append((2, formatDuration(r.elapsedSeconds)))
    fields.append((1, r.step == r.totalSteps ? "done" : "ETA " + (eta(r).map(formatDuration) ?? "–")))
    var line = fields.map(\.text).joined(separator: " · ")
    for dropped in [5, 4, 3, 2, 1] where line.count >= width {
      fields.removeAll { $0.priority == dropped }
      line = fields.map(\.text).joined(separator: " · ")
    }
    return fitted(line, width: width - 1)
  }

  private func draw(_ r: StepRecord) {
    writeStandardError("\r" + liveLine(r, width: terminalColumns()) + "\u{1B}[K")
    lineShown = true
  }

  /// A permanent line; on a terminal it goes above the live line, which is then redrawn.
  func note(_ s: String) {
    guard !quiet else { return }
    if live && lineShown {
      writeStandardError("\r\u{1B}[K" + s + "\n")
      if let last { draw(last) }
    } else {
      writeStandardError(s + "\n")
    }
  }

  func validation(step: Int, loss: Double, best: Double, improved: Bool, trainedLoss: Double? = nil) {
    lastValidation = loss
    let trained = trainedLoss.map { String(format: " · trained weights %.4f", $0) } ?? ""
    note(String(format: "validation at step %d: %.4f nats/char (%.3f bits/char)%@%@", step, loss, loss / log(2), trained, improved ? " · best so far" : String(format: " · best %.4f", best)))
  }

  /// A generated sample set apart by rules, with control characters made harmless.
  func sample(step: Int, text: String) {
    let clean = String(String.UnicodeScalarView(
      text.replacingOccurrences(of: "\r\n", with: "\n").unicodeScalars.map { s in
        (s.value < 0x20 && s != "\n" && s != "\t") || s.value == 0x7F ? "·" : s
      }))
    let title = "── sample at step \(step) "
    let width = live ? min(terminalColumns(), 72) : 72
    let top = title + String(repeating: "─", count: max(3, width - title.count))
    let bottom = String(repeating: "─", count: max(3, width))
    note(top + "\n" + (clean.hasSuffix("\n") ? String(clean.dropLast()) : clean) + "\n" + bottom)
  }

  /// Leaves the live line as a permanent line (call before anything else is printed).
  func finish() {
    guard live && lineShown else { return }
    writeStandardError("\n")
    lineShown = false
  }
}

/// Progress of a long preprocessing step (reading and tokenizing a corpus).
///
/// Nothing is shown for the first half second. Then, on a terminal, a line redrawn four times a
/// second: what is being done, bytes read of the total, elapsed time; otherwise a plain line
/// every 5 seconds.
final class TaskProgress: Sendable {
  private struct State {
    var done = 0
    var finished = false
    var shown = false
    var lastPlain = 0.0
  }
  private let state = Mutex(State())
  private let label: String
  private let total: Int
  private let live: Bool
  private let start = ProcessMetrics.monotonicSeconds()

  /// Starts showing progress of `label` over `total` bytes (0: unknown) unless `quiet`.
  init(_ label: String, totalBytes total: Int, quiet: Bool, live: Bool = standardErrorIsTerminal) {
    self.label = label
    self.total = total
    self.live = live
    if quiet {
      state.withLock { $0.finished = true }
      return
    }
    let thread = Thread { [self] in
      while true {
        Thread.sleep(forTimeInterval: live ? 0.25 : 0.5)
        if !tick() { return }
      }
    }
    thread.start()
  }

  /// Bytes done so far.
  func update(done: Int) { state.withLock { $0.done = done } }

  /// Draws if it is time; false once finished.
  private func tick() -> Bool {
    state.withLock { s in
      if s.finished { return false }
      let elapsed = ProcessMetrics.monotonicSeconds() - start
      guard elapsed >= 0.5 else { return true }
      let line = "\(label) · " + amount(s.done) + " · " + formatDuration(elapsed)
      if live {
        writeStandardError("\r" + fitted(line, width: terminalColumns() - 1) + "\u{1B}[K")
        s.shown = true
      } else if elapsed - s.lastPlain >= 5 {
        writeStandardError(line + "\n")
        s.lastPlain = elapsed
      }
      return true
    }
  }

  private func amount(_ done: Int) -> String {
    guard total > 0 else { return megabytes(done) }
    if done == 0 { return "\(megabytes(total))" }
    return "\(megabytes(done)) of \(megabytes(total)) (\(Int(100 * Double(done) / Double(total)))%)"
  }

  private func megabytes(_ n: Int) -> String {
    n >= 1 << 20 ? String(format: "%.1f MB", Double(n) / 1_048_576) : String(format: "%.0f kB", Double(n) / 1024)
  }

  /// Stops and clears the live line.
  func finish() {
    state.withLock { s in
      if s.shown && live { writeStandardError("\r\u{1B}[K") }
      s.shown = false
      s.finished = true
    }
  }
}

/// Bytes in the files of a corpus path (0 when it cannot be listed: the loader reports why).
func corpusBytes(_ path: String, include: String?) -> Int {
  guard let files = try? CorpusLoader.files(at: path, include: include) else { return 0 }
  return files.reduce(0) { sum, file in
    sum + ((try? FileManager.default.attributesOfItem(atPath: file)[.size] as? Int) ?? 0)
  }
}
