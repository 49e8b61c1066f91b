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
/// - `"validation"`: `loss`, `bpc`, `best`, `improved` (and `trained_loss`, the trained weights'
///   loss, for a run that averages its weights: `loss` is then the average's);
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
    var r = RunLogRecord(type: checkpoint == nil ? "start" : "resume")
    r.from = checkpoint
    r.checkpoint = trainer.checkpointPath
    r.model = trainer.model.config
    r.training = trainer.config
    r.corpus = trainer.corpus
    r.initFrom = trainer.origin
    r.extra = extra
    write(r)
  }

  /// Records one training event (steps, validations, checkpoints; samples are not logged).
  public func record(_ event: TrainingEvent) {
    switch event {
    case .step(let s):
      elapsed = s.elapsedSeconds
      step = s.step
      var r = RunLogRecord(type: "step")
      r.epoch = s.epoch
      r.loss = s.loss
      r.lr = s.learningRate
      r.gradNorm = s.gradientNorm
      r.charsPerSecond = s.charsPerSecond.rounded()
      r.ms = (s.milliseconds * 1000).rounded() / 1000
      if s.reduceMilliseconds > 0 { r.reduceMs = (s.reduceMilliseconds * 1000).rounded() / 1000 }
      write(r)
    case .validation(let s, let loss, let best, let improved, let trainedLoss):
      step = s
      var r = RunLogRecord(type: "validation")
      r.loss = loss
      r.trainedLoss = trainedLoss
      r.bpc = loss / M_LN2
      r.best = .loss(best)
      r.improved = improved
      write(r)
    case .checkpoint(let path, let s, let best):
      step = s
      var r = RunLogRecord(type: "checkpoint")
      r.path = path
      r.best = .isBest(best)
      write(r)
    case .sample:
      break
    }
  }

  /// The `"end"` line: why the session stopped.
  public func end(reason: StopReason, trainer: Trainer) {
    elapsed = trainer.state.elapsedSeconds
    step = trainer.state.step
    var r = RunLogRecord(type: "end")
    r.reason = reason.rawValue
    write(r)
  }

  /// Writes `record` as one line, with the session's step, elapsed training time and the time.
  private func write(_ record: RunLogRecord) {
    var record = record
    record.step = step
    record.elapsed = (elapsed * 1000).rounded() / 1000
    record.time = Self.timestamp()
    guard var bytes = try? Self.encoder.encode(record) else { return }
    bytes.append(0x0A)
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

  /// One line per record: keys sorted, no whitespace, paths with their slashes as written.
  static let encoder: JSONEncoder = {
    let e = JSONEncoder()
    e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return e
  }()

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

/// One line of a run log (see ``RunLog`` for the fields of each type), written by
/// ``RunLogWriter`` with `JSONEncoder` (keys sorted). Fields a type does not have are nil and
/// left out. JSON cannot hold NaN or ±inf: a non-finite number is `null`.
struct RunLogRecord: Encodable {
  /// `"best"` is the best validation loss on a validation line, whether the checkpoint is the
  /// best one on a checkpoint line.
  enum Best {
    case loss(Double)
    case isBest(Bool)
  }

  var type: String
  var step = 0
  // start, resume
  var from: String?
  var checkpoint: String?
  var model: ModelConfig?
  var training: TrainingConfig?
  var corpus: CorpusInfo?
  var initFrom: CheckpointOrigin?
  var extra: [String: String] = [:]
  // step
  var epoch: Int?
  var loss: Double?
  var lr: Double?
  var gradNorm: Double?
  var charsPerSecond: Double?
  var ms: Double?
  var reduceMs: Double?
  // validation, checkpoint
  var bpc: Double?
  var trainedLoss: Double?
  var best: Best?
  var improved: Bool?
  var path: String?
  // end
  var reason: String?
  var elapsed = 0.0
  var time = ""

  init(type: String) { self.type = type }

  private struct Key: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ name: String) { stringValue = name }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
  }

  func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: Key.self)
    func number(_ x: Double?, _ key: String) throws {
      guard let x else { return }
      if x.isFinite { try c.encode(x, forKey: Key(key)) } else { try c.encodeNil(forKey: Key(key)) }
    }
    try c.encode(type, forKey: Key("type"))
    try c.encode(step, forKey: Key("step"))
    try c.encodeIfPresent(from, forKey: Key("from"))
    try c.encodeIfPresent(checkpoint, forKey: Key("checkpoint"))
    try c.encodeIfPresent(model, forKey: Key("model"))
    try c.encodeIfPresent(training, forKey: Key("training"))
    try c.encodeIfPresent(corpus, forKey: Key("corpus"))
    try c.encodeIfPresent(initFrom, forKey: Key("init_from"))
    for (k, v) in extra.sorted(by: { $0.key < $1.key }) { try c.encode(v, forKey: Key(k)) }
    try c.encodeIfPresent(epoch, forKey: Key("epoch"))
    try c.encodeIfPresent(path, forKey: Key("path"))
    try number(loss, "loss")
    try number(lr, "lr")
    try number(gradNorm, "grad_norm")
    try number(charsPerSecond, "chars_per_s")
    try number(ms, "ms")
    try number(reduceMs, "reduce_ms")
    try number(bpc, "bpc")
    try number(trainedLoss, "trained_loss")
    switch best {
    case .loss(let x): try number(x, "best")
    case .isBest(let b): try c.encode(b, forKey: Key("best"))
    case nil: break
    }
    try c.encodeIfPresent(improved, forKey: Key("improved"))
    try c.encodeIfPresent(reason, forKey: Key("reason"))
    try number(elapsed, "elapsed")
    try c.encode(time, forKey: Key("time"))
  }
}
