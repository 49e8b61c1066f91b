#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The system calls used by `atomicWrite`, replaceable in tests to simulate failures
/// (disk full, I/O errors, short writes, EINTR).
struct FileIO: Sendable {
  /// Like `write(2)`: returns the bytes written, or -1 with `errno` set.
  var write: @Sendable (_ fd: Int32, _ buffer: UnsafeRawBufferPointer) -> Int
  /// Like `fsync(2)`: 0 or -1 with `errno` set.
  var fsync: @Sendable (_ fd: Int32) -> Int32

  static let system = FileIO(
    write: { fd, buffer in
      #if canImport(Glibc)
        Glibc.write(fd, buffer.baseAddress, buffer.count)
      #else
        Darwin.write(fd, buffer.baseAddress, buffer.count)
      #endif
    },
    fsync: { fd in
      #if canImport(Glibc)
        Glibc.fsync(fd)
      #else
        Darwin.fsync(fd)
      #endif
    })
}

/// What a path names, without following a final symbolic link (`lstat`).
public enum PathKind: Equatable, Sendable {
  case missing, regular, directory, symlink
  /// A device, FIFO or socket (the words say which).
  case special(String)

  /// The kind of `path` now.
  public init(of path: String) {
    var st = stat()
    guard lstat(path, &st) == 0 else { self = .missing; return }
    switch st.st_mode & S_IFMT {
    case S_IFREG: self = .regular
    case S_IFDIR: self = .directory
    case S_IFLNK: self = .symlink
    case S_IFCHR, S_IFBLK: self = .special("a device")
    case S_IFIFO: self = .special("a FIFO (named pipe)")
    case S_IFSOCK: self = .special("a socket")
    default: self = .special("not a regular file")
    }
  }

  /// Why a file cannot be written over this path, or nil when it can (missing or regular).
  /// charlstm never replaces a directory, a device, a FIFO, a socket or a symbolic link.
  public var refusal: String? {
    switch self {
    case .missing, .regular: return nil
    case .directory: return "it is a directory"
    case .symlink: return "it is a symbolic link (charlstm does not replace links; give the path of the file it points to)"
    case .special(let what): return "it is \(what), not a regular file"
    }
  }
}

/// Atomic whole-file writes for any output (checkpoints, figures): temporary file, fsync, rename.
public enum AtomicFile {
  /// Writes `bytes` to `path` atomically; `path` must be missing or a regular file.
  /// - Throws: ``SafeTensorsError/writeFailed(path:reason:)`` or ``SafeTensorsError/diskFull(path:needed:available:)``.
  public static func write(_ bytes: [UInt8], to path: String) throws(SafeTensorsError) {
    try atomicWrite([bytes], to: path, io: .system)
  }

  /// The temporary files an interrupted atomic write of `path` may have left beside it
  /// (`.NAME.tmp-PID-RANDOM`), with the writer's process id.
  public static func leftovers(of path: String) -> [(path: String, pid: Int32)] {
    let (directory, base) = split(path)
    let prefix = ".\(base.prefix(120)).tmp-"
    guard let dir = opendir(directory) else { return [] }
    defer { closedir(dir) }
    var found: [(String, Int32)] = []
    while let entry = readdir(dir) {
      let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
        String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
      }
      guard name.hasPrefix(prefix) else { continue }
      let rest = name.dropFirst(prefix.count)
      guard let dash = rest.firstIndex(of: "-"), let pid = Int32(rest[..<dash]) else { continue }
      found.append(((directory == "/" ? "/" : directory + "/") + name, pid))
    }
    return found
  }

  /// (directory, file name) of a path; "." for a bare name.
  static func split(_ path: String) -> (String, String) {
    guard let slash = path.lastIndex(of: "/") else { return (".", path) }
    let directory = slash == path.startIndex ? "/" : String(path[..<slash])
    return (directory, String(path[path.index(after: slash)...]))
  }
}

/// Free bytes for an unprivileged writer on the file system holding `directory` (nil: unknown).
func availableBytes(_ directory: String) -> Int? {
  var v = statvfs()
  guard statvfs(directory, &v) == 0 else { return nil }
  return Int(v.f_bavail) * Int(v.f_frsize)
}

/// Writes `chunks` to `path` through a temporary file, fsync and rename (see
/// `SafeTensorsWriter.write(to:)`).
func atomicWrite(_ chunks: [[UInt8]], to path: String, io: FileIO) throws(SafeTensorsError) {
  let file = try AtomicFileWriter(path: path, expecting: chunks.reduce(0) { $0 + $1.count }, io: io)
  for chunk in chunks {
    let failure: SafeTensorsError? = chunk.withUnsafeBytes { raw in
      do throws(SafeTensorsError) { try file.write(raw) } catch { return error }
      return nil
    }
    if let failure { throw failure }
  }
  try file.commit()
}

/// A file written piece by piece that appears at its path whole or not at all: the pieces go
/// to a temporary file beside it, and ``commit()`` syncs it and renames it over the path.
/// Dropped without a commit (an error, an interruption), the temporary file is removed and
/// the path keeps what it had. For outputs of any size written as they are produced.
public final class AtomicFileWriter {
  /// The file's final path.
  public let path: String
  private let directory: String
  private let temp: String
  private let io: FileIO
  private var fd: Int32
  /// Bytes written so far (and the size the caller announced, for disk-full messages).
  private var written = 0
  private let expected: Int
  private var buffer: [UInt8] = []
  private var finished = false

  /// Starts a file that will replace `path`; `path` must be missing or a regular file.
  /// - Throws: ``SafeTensorsError/writeFailed(path:reason:)`` or ``SafeTensorsError/diskFull(path:needed:available:)``.
  public convenience init(path: String) throws(SafeTensorsError) {
    try self.init(path: path, expecting: 0, io: .system)
  }

  init(path: String, expecting: Int, io: FileIO) throws(SafeTensorsError) {
    let (directory, base) = AtomicFile.split(path)
    guard !base.isEmpty, base != ".", base != ".." else {
      throw .writeFailed(path: path, reason: "the path names a directory, not a file")
    }
    // Never rename over something that is not a regular file: a device, a FIFO, a directory or a
    // symbolic link stays what it is.
    if let why = PathKind(of: path).refusal { throw .writeFailed(path: path, reason: why) }
    let random = UInt64.random(in: 0...UInt64.max)
    let temp = (directory == "/" ? "/" : directory + "/")
      + ".\(base.prefix(120)).tmp-\(getpid())-\(String(random, radix: 16))"
    let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
    guard fd >= 0 else {
      let code = errno
      if Self.full(code) { throw .diskFull(path: path, needed: expecting, available: availableBytes(directory)) }
      throw .writeFailed(path: path, reason: "cannot create a temporary file in '\(directory)': \(errnoText(code))")
    }
    self.path = path
    self.directory = directory
    self.temp = temp
    self.io = io
    self.fd = fd
    self.expected = expecting
  }

  deinit { if !finished { abandon() } }

  private static func full(_ code: Int32) -> Bool { code == ENOSPC || code == EDQUOT }

  /// Appends text (UTF-8).
  public func write(_ text: String) throws(SafeTensorsError) {
    var text = text
    let failure: SafeTensorsError? = text.withUTF8 { u in
      do throws(SafeTensorsError) { try write(UnsafeRawBufferPointer(u)) } catch { return error }
      return nil
    }
    if let failure { throw failure }
  }

  /// Appends bytes. Small pieces are gathered into writes of 64 KiB; large ones go straight
  /// to the file (no copy).
  public func write(_ bytes: UnsafeRawBufferPointer) throws(SafeTensorsError) {
    precondition(!finished, "write after commit")
    if buffer.count + bytes.count < 1 << 16 {
      buffer.append(contentsOf: bytes)
      return
    }
    try drain()
    try writeAll(bytes)
  }

  /// Writes the buffer out.
  private func drain() throws(SafeTensorsError) {
    if buffer.isEmpty { return }
    let failure: SafeTensorsError? = buffer.withUnsafeBytes { raw in
      do throws(SafeTensorsError) { try writeAll(raw) } catch { return error }
      return nil
    }
    buffer.removeAll(keepingCapacity: true)
    if let failure { throw failure }
  }

  /// Writes every byte to the temporary file; on failure the temporary file is removed.
  private func writeAll(_ raw: UnsafeRawBufferPointer) throws(SafeTensorsError) {
    var failure: Int32 = 0
    var done = 0
    while done < raw.count {
      let n = io.write(fd, UnsafeRawBufferPointer(rebasing: raw[done...]))
      if n > 0 {
        done += n
      } else if n < 0 && errno == EINTR {
        continue
      } else {
        failure = n == 0 ? EIO : errno  // a zero-byte write would loop forever; treat as I/O error
        break
      }
    }
    written += done
    if failure != 0 {
      abandon()
      if Self.full(failure) { throw .diskFull(path: path, needed: max(expected, written), available: availableBytes(directory)) }
      throw .writeFailed(path: path, reason: "writing '\(temp)' failed: \(errnoText(failure))")
    }
  }

  /// Closes and removes the temporary file; the path keeps what it had.
  public func abandon() {
    if finished { return }
    finished = true
    if fd >= 0 { close(fd) }
    fd = -1
    unlink(temp)
  }

  /// Syncs the file and renames it over ``path``, then syncs the directory.
  public func commit() throws(SafeTensorsError) {
    try drain()
    if io.fsync(fd) != 0 {
      let code = errno
      abandon()
      if Self.full(code) { throw .diskFull(path: path, needed: max(expected, written), available: availableBytes(directory)) }
      throw .writeFailed(path: path, reason: "fsync of '\(temp)' failed: \(errnoText(code))")
    }
    let closed = close(fd)
    fd = -1
    if closed != 0 {
      let code = errno
      abandon()
      throw .writeFailed(path: path, reason: "closing '\(temp)' failed: \(errnoText(code))")
    }
    if let why = PathKind(of: path).refusal {
      abandon()
      throw .writeFailed(path: path, reason: why)
    }
    if rename(temp, path) != 0 {
      let code = errno
      abandon()
      throw .writeFailed(path: path, reason: "renaming the temporary file over it failed: \(errnoText(code))")
    }
    finished = true

    // Make the rename itself durable. Some file systems cannot fsync directories (EINVAL);
    // that is not an error worth failing a save for.
    let dfd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    if dfd >= 0 {
      let result = io.fsync(dfd)
      let code = errno
      close(dfd)
      if result != 0 && code != EINVAL && code != ENOTSUP {
        throw .writeFailed(
          path: path,
          reason: "the new file is in place but fsync of directory '\(directory)' failed (\(errnoText(code))); it may not survive a crash")
      }
    }
  }
}
