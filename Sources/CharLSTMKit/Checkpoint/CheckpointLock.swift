#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// An exclusive lock on a checkpoint path, so two trainers never write the same file.
///
/// Takes `flock` on `PATH.lock` (created beside the checkpoint and left there). The kernel
/// releases it when the process exits, even by SIGKILL, so a crash never leaves a stale lock.
public final class CheckpointLock {
  /// The lock file: the checkpoint path with `.lock` appended.
  public let path: String
  private let fd: Int32

  /// Takes the lock or throws at once (never waits).
  /// - Throws: ``CheckpointError/invalid(path:detail:)`` when another process holds it or the
  ///   lock file cannot be created.
  public init(checkpoint: String) throws(CheckpointLockError) {
    path = checkpoint + ".lock"
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0o644)
    guard fd >= 0 else { throw .cannotCreate(path: path, reason: String(cString: strerror(errno))) }
    var st = stat()
    guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
      close(fd)
      throw .cannotCreate(path: path, reason: "it exists and is not a regular file")
    }
    guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
      let busy = errno == EWOULDBLOCK
      let reason = String(cString: strerror(errno))
      close(fd)
      if busy { throw .held(checkpoint: checkpoint) }
      throw .cannotCreate(path: path, reason: reason)
    }
  }

  /// True when another process holds the lock of `checkpoint` now (nothing is created).
  public static func isHeld(checkpoint: String) -> Bool {
    let fd = open(checkpoint + ".lock", O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    return flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK
  }

  deinit {
    flock(fd, LOCK_UN)
    close(fd)
  }
}

/// Why a checkpoint path could not be locked.
public enum CheckpointLockError: Error, CustomStringConvertible, Sendable {
  /// Another process holds the lock on this checkpoint.
  case held(checkpoint: String)
  /// The lock file cannot be created or locked (`reason`: the system's words).
  case cannotCreate(path: String, reason: String)

  /// One line naming the file and what to do.
  public var description: String {
    switch self {
    case .held(let c):
      return "\(c): another training run is writing this checkpoint; wait for it, stop it, or write to another checkpoint path"
    case .cannotCreate(let p, let reason):
      return "\(p): cannot create the lock file (\(reason)); check that the checkpoint folder is writable or write to another checkpoint path"
    }
  }
}
