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

/// Writes `chunks` to `path` through a temporary file, fsync and rename (see
/// `SafeTensorsWriter.write(to:)`).
func atomicWrite(_ chunks: [[UInt8]], to path: String, io: FileIO) throws(SafeTensorsError) {
  let slash = path.lastIndex(of: "/")
  let directory: String
  let base: String
  if let slash {
    directory = slash == path.startIndex ? "/" : String(path[..<slash])
    base = String(path[path.index(after: slash)...])
  } else {
    directory = "."
    base = path
  }
  guard !base.isEmpty, base != ".", base != ".." else {
    throw .writeFailed(path: path, reason: "the path names a directory, not a file")
  }
  let random = UInt64.random(in: 0...UInt64.max)
  let temp = (directory == "/" ? "/" : directory + "/")
    + ".\(base.prefix(120)).tmp-\(getpid())-\(String(random, radix: 16))"

  let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
  guard fd >= 0 else {
    throw .writeFailed(path: path, reason: "cannot create a temporary file in '\(directory)': \(errnoText())")
  }
  var renamed = false
  var fdOpen = true
  defer {
    if fdOpen { close(fd) }
    if !renamed { unlink(temp) }
  }

  for chunk in chunks {
    var failure: Int32 = 0
    chunk.withUnsafeBytes { raw in
      var done = 0
      while done < raw.count {
        let n = io.write(fd, UnsafeRawBufferPointer(rebasing: raw[done...]))
        if n > 0 {
          done += n
        } else if n < 0 && errno == EINTR {
          continue
        } else {
          failure = n == 0 ? EIO : errno  // a zero-byte write would loop forever; treat as I/O error
          return
        }
      }
    }
    if failure != 0 {
      throw .writeFailed(path: path, reason: "writing '\(temp)' failed: \(errnoText(failure))")
    }
  }
  if io.fsync(fd) != 0 {
    throw .writeFailed(path: path, reason: "fsync of '\(temp)' failed: \(errnoText())")
  }
  fdOpen = false
  if close(fd) != 0 {
    throw .writeFailed(path: path, reason: "closing '\(temp)' failed: \(errnoText())")
  }
  if rename(temp, path) != 0 {
    throw .writeFailed(path: path, reason: "renaming the temporary file over it failed: \(errnoText())")
  }
  renamed = true

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
