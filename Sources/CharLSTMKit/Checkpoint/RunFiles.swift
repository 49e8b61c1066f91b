#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif
import SafeTensors

/// The files a training run writes for its checkpoint path `P`: `P` itself, the best-validation
/// copy, the run log and the lock, and the rules for touching them.
///
/// Rules (checked before a run writes anything):
/// - every one of them is a regular file or does not exist: a directory, device, FIFO, socket or
///   symbolic link is never replaced;
/// - a new run writes over none of the checkpoint, its best copy or its log unless told to
///   overwrite (``OutputPolicy/overwrite``): an existing one belongs to another run;
/// - a resumed run continues its own files, and writes to another path only under the same rule
///   as a new run.
public struct RunFiles: Sendable, Equatable {
  /// The checkpoint (`P`).
  public let checkpoint: String
  /// The best-validation copy (`name.best.safetensors`).
  public let best: String
  /// The run log (`name.log.jsonl`).
  public let log: String
  /// The lock file (`P.lock`).
  public let lock: String

  /// The files of the run whose checkpoint is `checkpoint`.
  public init(checkpoint: String) {
    self.checkpoint = checkpoint
    best = Trainer.bestPath(for: checkpoint)
    log = RunLog.path(forCheckpoint: checkpoint)
    lock = checkpoint + ".lock"
  }

  /// The files a run would replace: checkpoint, best copy, log.
  public var outputs: [String] { [checkpoint, best, log] }

  /// Whether the files may be written by a run.
  /// - Parameters:
  ///   - continuing: the checkpoint being resumed when it is this same path (its files are this
  ///     run's own), nil for a new run or a resume into another path.
  ///   - overwrite: existing regular files of another run may be replaced.
  /// - Throws: ``RunFilesError`` naming the first file that may not be written.
  public func check(continuing: Bool, overwrite: Bool) throws(RunFilesError) {
    if checkpoint.hasSuffix("/") || PathKind(of: checkpoint) == .directory {
      throw .isDirectory(path: checkpoint)
    }
    for path in outputs + [lock] {
      let kind = PathKind(of: path)
      if let why = kind.refusal { throw .notAFile(path: path, reason: why) }
    }
    guard !continuing && !overwrite else { return }
    for path in outputs where PathKind(of: path) == .regular {
      throw .exists(path: path, isCheckpoint: path != log && Self.looksLikeCheckpoint(path))
    }
  }

  /// The run's files are not its training text, whatever `overwrite` says: none of them is the
  /// corpus file itself, and for a folder corpus none is an existing, non-empty file inside the
  /// folder other than a charlstm checkpoint or run log (the texts a folder corpus is made of). Paths are
  /// compared as files (device and inode; resolved folders), so links and `./` spellings count.
  /// - Throws: ``RunFilesError/isCorpus(path:corpus:inFolder:)`` naming the first such file.
  public func checkNotCorpus(_ corpus: String) throws(RunFilesError) {
    var corpusStat = stat()
    guard stat(corpus, &corpusStat) == 0 else { return }  // no corpus there: nothing to protect
    let folder = (corpusStat.st_mode & S_IFMT) == S_IFDIR ? Self.resolved(corpus) : nil
    for path in outputs + [lock] {
      var s = stat()
      guard stat(path, &s) == 0 else { continue }
      if s.st_dev == corpusStat.st_dev && s.st_ino == corpusStat.st_ino {
        throw .isCorpus(path: path, corpus: corpus, inFolder: false)
      }
      guard let folder, (s.st_mode & S_IFMT) == S_IFREG, let real = Self.resolved(path),
        real.hasPrefix(folder.hasSuffix("/") ? folder : folder + "/")
      else { continue }
      if path == lock || s.st_size == 0 || Self.looksLikeCheckpoint(path) || Self.looksLikeRunLog(path) { continue }
      throw .isCorpus(path: path, corpus: corpus, inFolder: true)
    }
  }

  /// `path` with every link and `.`/`..` resolved, or nil when it does not exist.
  static func resolved(_ path: String) -> String? {
    guard let p = realpath(path, nil) else { return nil }
    defer { free(p) }
    return String(cString: p)
  }

  /// True when `path` starts like a run log of ``RunLogWriter`` (its first line's first key).
  static func looksLikeRunLog(_ path: String) -> Bool {
    // An empty file is nobody's log: replacing it loses nothing.
    String(decoding: firstBytes(of: path, count: 32), as: UTF8.self).hasPrefix("{\"checkpoint\":")
  }

  /// Up to `count` bytes from the start of `path` (none when it cannot be opened); never follows
  /// a link and never blocks on a FIFO.
  static func firstBytes(of path: String, count: Int) -> ArraySlice<UInt8> {
    let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW)
    guard fd >= 0 else { return [] }
    defer { close(fd) }
    var head = [UInt8](repeating: 0, count: count)
    let n = head.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
    return head[0..<max(0, n)]
  }

  /// Removes temporary files that interrupted saves of this run's checkpoint, best copy and log left
  /// (a save killed by SIGKILL). Call only while holding the run's lock: no other process is
  /// then writing them.
  /// - Returns: the files removed.
  @discardableResult
  public func removeStaleTemporaries() -> [String] {
    let me = getpid()
    var removed: [String] = []
    for target in [checkpoint, best, log] {
      for (path, pid) in AtomicFile.leftovers(of: target) where pid != me && PathKind(of: path) == .regular {
        if unlink(path) == 0 { removed.append(path) }
      }
    }
    return removed
  }

  /// True when `path` is a regular file that starts like a charlstm checkpoint (a safetensors
  /// header naming the charlstm format), whatever its name.
  public static func isCheckpointFile(_ path: String) -> Bool {
    PathKind(of: path) == .regular && looksLikeCheckpoint(path)
  }

  /// True when `path` is a regular file that starts like a charlstm run log.
  public static func isRunLogFile(_ path: String) -> Bool {
    PathKind(of: path) == .regular && looksLikeRunLog(path)
  }

  /// True when `path` is a regular file that starts like any safetensors file: an 8-byte
  /// little-endian header length, then a JSON object.
  public static func isSafetensorsFile(_ path: String) -> Bool {
    guard PathKind(of: path) == .regular else { return false }
    let head = Array(firstBytes(of: path, count: 10))
    return head.count == 10 && head[8] == UInt8(ascii: "{") && (head[9] == UInt8(ascii: "\"") || head[9] == UInt8(ascii: "}"))
  }

  /// True when `path` starts like a safetensors file with charlstm's metadata.
  static func looksLikeCheckpoint(_ path: String) -> Bool {
    let head = firstBytes(of: path, count: 4096)
    guard head.count > 8 else { return false }
    return String(decoding: head.dropFirst(8), as: UTF8.self).contains("charlstm-checkpoint")
  }
}

/// Why a run may not write one of its files. Describes the file; the CLI names the flags.
public enum RunFilesError: Error, Equatable, Sendable, CustomStringConvertible {
  /// The checkpoint path is a directory.
  case isDirectory(path: String)
  /// The path exists and is not a regular file (`reason`: what it is).
  case notAFile(path: String, reason: String)
  /// A regular file is there already and this run does not own it (`isCheckpoint`: it is a
  /// charlstm checkpoint, so resuming it may be what was meant).
  case exists(path: String, isCheckpoint: Bool)
  /// The file is the run's corpus (`inFolder` false) or one of the texts of its corpus folder.
  case isCorpus(path: String, corpus: String, inFolder: Bool)

  /// One line naming the file.
  public var description: String {
    switch self {
    case .isDirectory(let p): return "\(p) is a directory; a checkpoint path names a file, e.g. \(p.hasSuffix("/") ? p : p + "/")model.safetensors"
    case .notAFile(let p, let why): return "\(p) cannot be written: \(why)"
    case .isCorpus(let p, let corpus, let inFolder):
      return "\(p) is \(inFolder ? "a text of the corpus folder \(corpus)" : "the corpus \(corpus)"); a run never writes over its training text"
    case .exists(let p, let ckpt): return "\(p) already exists\(ckpt ? " (a checkpoint of another run)" : "") and would be replaced"
    }
  }
}
