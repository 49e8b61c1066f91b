import Foundation
import SafeTensors

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// A training run's history as JSON lines, written beside its checkpoint.
///
/// The log of `runs/shakespeare.safetensors` is `runs/shakespeare.log.jsonl`. Each line is one
/// JSON object with a `"type"`:
///
/// - `"start"` / `"resume"`: the model, training configuration and corpus (with `"documents"`
///   for a corpus read as documents; `"from"`: the checkpoint resumed; `"init_from"`: for a
///   fine-tuned run, the parent's path, step, weights hash, vocabulary size and the characters added);
/// - `"step"`: `loss` (nats/char), `lr`, `grad_norm` (before clipping), `chars_per_s`, `ms`, `epoch`
///   (and `reduce_ms`, the time summing over processes, for a distributed run);
/// - `"validation"`: `loss`, `bpc`, `best`, `improved`;
/// - `"checkpoint"`: `path`, `best`;
/// - `"end"`: `reason` (`completed`, `early-stopped`, `interrupted`).
///
/// Every line also has `step`, `elapsed` (training seconds over all sessions of the run) and
/// `time` (wall clock, ISO 8601 UTC). A resumed run appends to the same file, so one file holds
/// the whole history; see ``RunLogWriter/init(path:resumingAt:)``.
public struct RunLog: Sendable {
  /// One optimizer step.
  public struct StepPoint: Sendable, Equatable {
    /// The optimizer step (1-based).
    public var step: Int
    /// Training seconds since the run started (all sessions).
    public var elapsedSeconds: Double
    /// Mean cross-entropy of the step's window, nats per character.
    public var loss: Double
    /// Learning rate used for the step (nil if the line did not record it).
    public var learningRate: Double?
    /// Global gradient norm before clipping (nil if not recorded).
    public var gradientNorm: Double?
    /// Training throughput of the step (nil if not recorded).
    public var charsPerSecond: Double?

    /// A step point; the optional figures default to unrecorded.
    public init(step: Int, elapsedSeconds: Double, loss: Double, learningRate: Double? = nil, gradientNorm: Double? = nil, charsPerSecond: Double? = nil) {
      self.step = step
      self.elapsedSeconds = elapsedSeconds
      self.loss = loss
      self.learningRate = learningRate
      self.gradientNorm = gradientNorm
      self.charsPerSecond = charsPerSecond
    }
  }

  /// One validation pass.
  public struct ValidationPoint: Sendable, Equatable {
    /// The step the validation ran after.
    public var step: Int
    /// Training seconds since the run started (all sessions).
    public var elapsedSeconds: Double
    /// Mean cross-entropy over the validation split, nats per character.
    public var loss: Double

    /// A validation point.
    public init(step: Int, elapsedSeconds: Double, loss: Double) {
      self.step = step
      self.elapsedSeconds = elapsedSeconds
      self.loss = loss
    }
  }

  /// The file the log was read from (empty for a log built in memory).
  public var path: String
  /// A short name for legends: the file name without `.log.jsonl`.
  public var name: String
  /// Training steps in step order, one per step (a repeated step keeps its last line).
  public var steps: [StepPoint]
  /// Validation passes in step order, one per step.
  public var validations: [ValidationPoint]
  /// Sessions recorded: 1 for a run never resumed.
  public var sessions: Int

  /// A log built in memory (for plotting figures from elsewhere).
  public init(name: String, steps: [StepPoint], validations: [ValidationPoint], path: String = "", sessions: Int = 1) {
    self.path = path
    self.name = name
    self.steps = steps
    self.validations = validations
    self.sessions = sessions
  }

  /// The log path for a checkpoint: `name.safetensors` → `name.log.jsonl` (any other name:
  /// `name.log.jsonl` appended).
  public static func path(forCheckpoint checkpoint: String) -> String {
    (checkpoint.hasSuffix(".safetensors") ? String(checkpoint.dropLast(12)) : checkpoint) + ".log.jsonl"
  }

  /// A run's name from its log path: the file name without `.log.jsonl` (or `.jsonl`).
  public static func name(forPath path: String) -> String {
    var name = path.split(separator: "/", omittingEmptySubsequences: true).last.map(String.init) ?? path
    for suffix in [".log.jsonl", ".jsonl"] where name.hasSuffix(suffix) && name.count > suffix.count {
      name = String(name.dropLast(suffix.count))
      break
    }
    return name
  }

  /// The largest `step` a log line may hold (the largest `--steps` a run may have).
  public static let maxStep = 1 << 40
  /// The largest `elapsed` a log line may hold, in seconds (about 31,700 years).
  public static let maxElapsedSeconds = 1e12

  /// Reads a log written by ``RunLogWriter``.
  ///
  /// An unfinished last line (a crash while writing it) is ignored; any other line that is not
  /// a JSON object with a `type` is an error naming the file and line, and so is a step or
  /// validation line whose `step` is not an integer in 0 ... ``maxStep``, whose `loss` is not
  /// finite, or whose `elapsed` is not in 0 ... ``maxElapsedSeconds``.
  /// - Throws: ``RunLogError``: missing or unreadable file, malformed line, or no training steps.
  public static func read(contentsOf path: String) throws(RunLogError) -> RunLog {
    let data: Data
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { throw .notFound(path: path) }
    guard !isDir.boolValue else { throw .unreadable(path: path, reason: "it is a folder, not a log file") }
    do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
      throw .unreadable(path: path, reason: (error as NSError).localizedDescription)
    }
    var stepsByNumber: [Int: StepPoint] = [:]
    var validationsByNumber: [Int: ValidationPoint] = [:]
    var sessions = 0
    let lines = RunLogLines(data)
    for (index, line) in lines.complete.enumerated() where !line.isEmpty {
      let number = index + 1
      guard let object = try? JSONSerialization.jsonObject(with: line) as? [String: Any] else {
        if line.first != UInt8(ascii: "{") && number == 1 {
          throw .invalid(path: path, line: number, detail: "not a JSON object; is this a charlstm run log (*.log.jsonl)?")
        }
        throw .invalid(path: path, line: number, detail: "not a JSON object")
      }
      guard let type = object["type"] as? String else {
        throw .invalid(path: path, line: number, detail: "no \"type\" field; is this a charlstm run log (*.log.jsonl)?")
      }
      func number_(_ key: String) -> Double? { (object[key] as? NSNumber).map { $0.doubleValue } }
      switch type {
      case "start", "resume": sessions += 1
      case "step", "validation":
        if object["loss"] is NSNull { continue }  // a non-finite loss, written as null
        guard let stepValue = number_("step"), let loss = number_("loss") else {
          throw .invalid(path: path, line: number, detail: "a \(type) line needs numbers \"step\" and \"loss\"")
        }
        // Values are checked before any conversion: a hand-edited or corrupted line must not
        // trap (Double → Int) or wreck the figure's axes.
        guard stepValue >= 0, stepValue <= Double(Self.maxStep), stepValue.rounded() == stepValue else {
          throw .invalid(path: path, line: number, detail: "\"step\" \(stepValue) is out of range: expected an integer from 0 to 1,099,511,627,776")
        }
        let step = Int(stepValue)
        guard loss.isFinite else {
          throw .invalid(path: path, line: number, detail: "\"loss\" \(loss) is not a finite number")
        }
        let elapsed = number_("elapsed") ?? 0
        guard elapsed >= 0, elapsed <= Self.maxElapsedSeconds else {
          throw .invalid(path: path, line: number, detail: "\"elapsed\" \(elapsed) is out of range: expected seconds from 0 to 1e12")
        }
        if type == "step" {
          stepsByNumber[step] = StepPoint(
            step: step, elapsedSeconds: elapsed, loss: loss, learningRate: number_("lr"),
            gradientNorm: number_("grad_norm"), charsPerSecond: number_("chars_per_s"))
        } else {
          validationsByNumber[step] = ValidationPoint(step: step, elapsedSeconds: elapsed, loss: loss)
        }
      default: continue  // checkpoint, end and types added later
      }
    }
    guard !stepsByNumber.isEmpty || !validationsByNumber.isEmpty else { throw .empty(path: path) }
    return RunLog(
      name: name(forPath: path), steps: stepsByNumber.values.sorted { $0.step < $1.step },
      validations: validationsByNumber.values.sorted { $0.step < $1.step }, path: path, sessions: max(1, sessions))
  }
}

/// Why a run log could not be read. Each ``description`` is one line naming the file.
public enum RunLogError: Error, Equatable, CustomStringConvertible, Sendable {
  /// No file at this path.
  case notFound(path: String)
  /// The file exists but cannot be read (or cannot be written, for the writer).
  case unreadable(path: String, reason: String)
  /// A line is not a run-log record.
  case invalid(path: String, line: Int, detail: String)
  /// The log holds no training step and no validation (a run that never took a step).
  case empty(path: String)

  /// One line naming the file (and line) and what to do.
  public var description: String {
    switch self {
    case .notFound(let p):
      return "\(p): no such file; run logs are written beside each checkpoint as NAME.log.jsonl"
    case .unreadable(let p, let reason):
      return "\(p): cannot be read or written (\(reason))"
    case .invalid(let p, let line, let detail):
      return "\(p) line \(line): \(detail)"
    case .empty(let p):
      return "\(p) has no training steps yet; train for at least one step, then plot"
    }
  }
}

/// Splits file bytes into complete lines (each ended by a line break) and the unfinished rest.
struct RunLogLines {
  var complete: [Data] = []
  /// Bytes after the last line break (an unfinished line), possibly empty.
  var rest = Data()
  /// Byte offset just past each complete line's break.
  var ends: [Int] = []

  init(_ data: Data) {
    var start = data.startIndex
    while let nl = data[start...].firstIndex(of: 0x0A) {
      complete.append(data[start..<nl])
      ends.append(nl + 1 - data.startIndex)
      start = nl + 1
    }
    rest = data[start...]
  }
}

/// Appends a run's history to its JSON-lines log, one flushed line per record.
///
/// Each line goes out in one `write(2)` on a file opened for appending, so a crash leaves at most
/// one unfinished last line, which ``RunLog/read(contentsOf:)`` ignores and a resume removes.
///
/// ```swift
/// let log = try RunLogWriter(path: RunLog.path(forCheckpoint: path), resumingAt: nil)
/// log.start(trainer: trainer, resumedFrom: nil)
/// let reason = try trainer.run { event in log.record(event) }
/// log.end(reason: reason, trainer: trainer)
/// ```
public final class RunLogWriter {
  /// The log file.
  public let path: String
  private let fd: Int32
  /// Training seconds at the last step seen (validation and checkpoint lines carry it).
  private var elapsed = 0.0
  /// Step of the last line written.
  private var step = 0

  /// Opens the log of a new run (any old file is emptied: a new run is a new history), or of a
  /// resumed one (`resumingAt`: the checkpoint's step).
  ///
  /// On resume, lines for steps after `resumingAt` (written after the last checkpoint, before a
  /// crash) and an unfinished last line are removed first, so the history stays continuous
  /// with each step once. With `copyingFrom` (a resume into a different checkpoint path), the
  /// history starts as a copy of that log's lines up to `resumingAt`.
  /// - Throws: ``RunLogError/unreadable(path:reason:)`` when the file cannot be written.
  public init(path: String, resumingAt resumeStep: Int?, copyingFrom source: String? = nil, elapsedSeconds: Double = 0) throws(RunLogError) {
    self.path = path
    self.elapsed = elapsedSeconds
    self.step = resumeStep ?? 0
    if let why = PathKind(of: path).refusal { throw .unreadable(path: path, reason: why) }
    if let resumeStep {
      try Self.keepHistory(from: source ?? path, into: path, upToStep: resumeStep)
      fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0o644)
    } else {
      fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0o644)
    }
    guard fd >= 0 else { throw .unreadable(path: path, reason: String(cString: strerror(errno))) }
    var st = stat()
    guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
      close(fd)
      throw .unreadable(path: path, reason: "not a regular file")
    }
  }

  deinit { close(fd) }

  /// Rewrites `destination` (atomically) with the complete lines of `source` whose step is at
  /// most `maxStep`; does nothing when `source` is missing or already has nothing to drop.
  static func keepHistory(from source: String, into destination: String, upToStep maxStep: Int) throws(RunLogError) {
    guard let data = FileManager.default.contents(atPath: source) else { return }
    let lines = RunLogLines(data)
    var kept = Data()
    var dropped = !lines.rest.isEmpty
    for line in lines.complete {
      let object = try? JSONSerialization.jsonObject(with: line) as? [String: Any]
      if let object, ((object["step"] as? NSNumber)?.intValue ?? 0) <= maxStep {
        kept.append(line)
        kept.append(0x0A)
      } else {
        dropped = true
      }
    }
    guard dropped || source != destination else { return }
    do { try AtomicFile.write([UInt8](kept), to: destination) } catch {
      throw .unreadable(path: destination, reason: error.description)
    }
  }

  /// The `"start"` (new run) or `"resume"` line: the model, training configuration and corpus.
  public func start(trainer: Trainer, resumedFrom checkpoint: String?, extra: [String: String] = [:]) {
    elapsed = trainer.state.elapsedSeconds
    step = trainer.state.step
    var fields: [(String, String)] = []
    if let checkpoint { fields.append(("from", Self.quoted(checkpoint))) }
    if let path = trainer.checkpointPath { fields.append(("checkpoint", Self.quoted(path))) }
    fields.append(("model", Self.encoded(trainer.model.config)))
    fields.append(("training", Self.encoded(trainer.config)))
    if let corpus = trainer.corpus { fields.append(("corpus", Self.encoded(corpus))) }
    if let origin = trainer.origin { fields.append(("init_from", Self.encoded(origin))) }
    for (k, v) in extra.sorted(by: { $0.key < $1.key }) { fields.append((k, Self.quoted(v))) }
    write(type: checkpoint == nil ? "start" : "resume", fields)
  }

  /// Records one training event (steps, validations, checkpoints; samples are not logged).
  public func record(_ event: TrainingEvent) {
    switch event {
    case .step(let r):
      elapsed = r.elapsedSeconds
      step = r.step
      write(type: "step", [
        ("epoch", "\(r.epoch)"), ("loss", Self.number(r.loss)), ("lr", Self.number(r.learningRate)),
        ("grad_norm", Self.number(r.gradientNorm)), ("chars_per_s", Self.number(r.charsPerSecond.rounded())),
        ("ms", Self.number((r.milliseconds * 1000).rounded() / 1000)),
      ] + (r.reduceMilliseconds > 0 ? [("reduce_ms", Self.number((r.reduceMilliseconds * 1000).rounded() / 1000))] : []))
    case .validation(let s, let loss, let best, let improved):
      step = s
      write(type: "validation", [
        ("loss", Self.number(loss)), ("bpc", Self.number(loss / M_LN2)), ("best", Self.number(best)),
        ("improved", improved ? "true" : "false"),
      ])
    case .checkpoint(let path, let s, let best):
      step = s
      write(type: "checkpoint", [("path", Self.quoted(path)), ("best", best ? "true" : "false")])
    case .sample:
      break
    }
  }

  /// The `"end"` line: why the session stopped.
  public func end(reason: StopReason, trainer: Trainer) {
    elapsed = trainer.state.elapsedSeconds
    step = trainer.state.step
    write(type: "end", [("reason", Self.quoted(reason.rawValue))])
  }

  private func write(type: String, _ fields: [(String, String)]) {
    var line = "{\"type\":\"\(type)\",\"step\":\(step)"
    for (k, v) in fields { line += ",\"\(k)\":\(v)" }
    line += ",\"elapsed\":\(Self.number((elapsed * 1000).rounded() / 1000)),\"time\":\"\(Self.timestamp())\"}\n"
    var bytes = Array(line.utf8)
    bytes.withUnsafeMutableBytes { buf in
      var done = 0
      while done < buf.count {
        #if canImport(Glibc)
          let n = Glibc.write(fd, buf.baseAddress! + done, buf.count - done)
        #else
          let n = Darwin.write(fd, buf.baseAddress! + done, buf.count - done)
        #endif
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { return }  // disk full: the log is best effort, training goes on
        done += n
      }
    }
  }

  /// A JSON number (non-finite values, which JSON cannot hold, become null).
  static func number(_ x: Double) -> String {
    guard x.isFinite else { return "null" }
    if x == x.rounded(), abs(x) < 1e15 { return String(Int64(x)) }
    return "\(x)"
  }

  static func quoted(_ s: String) -> String {
    let data = (try? JSONSerialization.data(withJSONObject: [s], options: [.withoutEscapingSlashes])) ?? Data("[\"\"]".utf8)
    return String(decoding: data.dropFirst().dropLast(), as: UTF8.self)
  }

  static func encoded<T: Encodable>(_ value: T) -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "null"
  }

  static func timestamp() -> String {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    var t = ts.tv_sec
    var parts = tm()
    gmtime_r(&t, &parts)
    return String(
      format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday),
      Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), Int(ts.tv_nsec / 1_000_000))
  }
}
