import Foundation
import Testing

@testable import SafeTensors

/// Mutable state for fake system calls (each test drives one writer on one thread).
final class FakeIOState: @unchecked Sendable {
  var bytesWritten = 0
  var writeCalls = 0
  var fsyncCalls = 0
}

@Suite struct AtomicWriteTests {
  func writer(_ value: Float, count: Int = 1000) -> SafeTensorsWriter {
    var w = SafeTensorsWriter(metadata: ["step": "\(value)"])
    w.add("w", floats: [Float](repeating: value, count: count), shape: [count])
    return w
  }

  /// A directory holding `m.safetensors` written from `writer(1)`.
  func directoryWithCheckpoint() throws -> (dir: String, path: String, old: [UInt8]) {
    let dir = try makeTempDirectory()
    let path = dir + "/m.safetensors"
    try writer(1).write(to: path)
    return (dir, path, try #require(readBytes(path)))
  }

  @Test func overwriteReplacesContentsAndLeavesNoTempFile() throws {
    let (dir, path, old) = try directoryWithCheckpoint()
    defer { removeTree(dir) }
    #expect(old == writer(1).serialized())
    try writer(2).write(to: path)
    #expect(readBytes(path) == writer(2).serialized())
    #expect(directoryEntries(dir) == ["m.safetensors"])
    #expect(try SafeTensorsFile.load(contentsOf: path).floats("w").allSatisfy { $0 == 2 })
  }

  @Test func missingDirectoryThrowsWriteFailed() throws {
    let dir = try makeTempDirectory()
    defer { removeTree(dir) }
    let path = dir + "/missing/sub/m.safetensors"
    do {
      try writer(1).write(to: path)
      Issue.record("expected writeFailed")
    } catch {
      guard case .writeFailed(let p, let reason) = error else { throw error }
      #expect(p == path)
      #expect(reason.contains("No such file or directory"), "\(reason)")
      #expect(error.description.hasPrefix(path))
    }
    #expect(directoryEntries(dir) == [])
  }

  @Test func parentIsARegularFileThrowsWriteFailed() throws {
    let (dir, path, old) = try directoryWithCheckpoint()
    defer { removeTree(dir) }
    do {
      try writer(2).write(to: path + "/child.safetensors")
      Issue.record("expected writeFailed")
    } catch {
      guard case .writeFailed(_, let reason) = error else { throw error }
      #expect(reason.contains("Not a directory"), "\(reason)")
    }
    #expect(readBytes(path) == old)
    #expect(directoryEntries(dir) == ["m.safetensors"])
  }

  @Test func readOnlyDirectoryLeavesTheOldFile() throws {
    let (dir, path, old) = try directoryWithCheckpoint()
    defer { removeTree(dir) }
    #expect(chmod(dir, 0o555) == 0)
    // Root ignores directory permissions; then this check cannot fail the write, and the
    // regular-file-parent and fault-injection tests cover the failure path instead.
    let probe = dir + "/.probe"
    let fd = open(probe, O_WRONLY | O_CREAT | O_EXCL, 0o644)
    if fd >= 0 {
      close(fd)
      unlink(probe)
      #expect(chmod(dir, 0o755) == 0)
      return
    }
    do {
      try writer(2).write(to: path)
      Issue.record("expected writeFailed")
    } catch {
      guard case .writeFailed(_, let reason) = error else { throw error }
      #expect(reason.contains("Permission denied"), "\(reason)")
    }
    #expect(chmod(dir, 0o755) == 0)
    #expect(readBytes(path) == old)
    #expect(directoryEntries(dir) == ["m.safetensors"])
  }

  @Test func targetIsADirectory() throws {
    let dir = try makeTempDirectory()
    defer { removeTree(dir) }
    try FileManager.default.createDirectory(atPath: dir + "/sub", withIntermediateDirectories: false)
    try FileManager.default.createDirectory(atPath: dir + "/sub/x", withIntermediateDirectories: false)
    #expect(throws: SafeTensorsError.self) { try writer(1).write(to: dir + "/sub") }
    #expect(throws: SafeTensorsError.self) { try writer(1).write(to: dir + "/") }
    #expect(directoryEntries(dir) == ["sub"])
    #expect(directoryEntries(dir + "/sub") == ["x"])
  }

  @Test func diskFullMidWriteLeavesTheOldFile() throws {
    let (dir, path, old) = try directoryWithCheckpoint()
    defer { removeTree(dir) }
    let state = FakeIOState()
    let io = FileIO(
      write: { fd, buffer in
        let room = 1500 - state.bytesWritten
        if room <= 0 {
          errno = ENOSPC
          return -1
        }
        let n = FileIO.system.write(fd, UnsafeRawBufferPointer(rebasing: buffer.prefix(room)))
        state.bytesWritten += max(n, 0)
        return n
      },
      fsync: FileIO.system.fsync)
    do {
      try writer(2, count: 2000).write(to: path, io: io)
      Issue.record("expected diskFull")
    } catch {
      guard case .diskFull(let p, let needed, let available) = error else { throw error }
      #expect(p == path)
      #expect(needed == writer(2, count: 2000).serialized().count)
      #expect(available != nil)
      #expect(error.description.contains("the disk is full: saving needs"), "\(error)")
    }
    #expect(state.bytesWritten == 1500)
    #expect(readBytes(path) == old)
    #expect(directoryEntries(dir) == ["m.safetensors"])
  }

  @Test func fsyncFailureLeavesTheOldFile() throws {
    let (dir, path, old) = try directoryWithCheckpoint()
    defer { removeTree(dir) }
    let io = FileIO(write: FileIO.system.write, fsync: { _ in errno = EIO; return -1 })
    #expect(throws: SafeTensorsError.self) { try writer(2).write(to: path, io: io) }
    #expect(readBytes(path) == old)
    #expect(directoryEntries(dir) == ["m.safetensors"])
  }

  @Test func directoryFsyncFailureIsReportedAfterTheRename() throws {
    let (dir, path, _) = try directoryWithCheckpoint()
    defer { removeTree(dir) }
    let state = FakeIOState()
    let io = FileIO(
      write: FileIO.system.write,
      fsync: { fd in
        state.fsyncCalls += 1
        if state.fsyncCalls == 2 {
          errno = EIO
          return -1
        }
        return FileIO.system.fsync(fd)
      })
    do {
      try writer(2).write(to: path, io: io)
      Issue.record("expected writeFailed")
    } catch {
      guard case .writeFailed(_, let reason) = error else { throw error }
      #expect(reason.contains("in place"), "\(reason)")
    }
    #expect(readBytes(path) == writer(2).serialized())
    #expect(directoryEntries(dir) == ["m.safetensors"])
  }

  @Test func shortWritesAndEINTRAreRetried() throws {
    let dir = try makeTempDirectory()
    defer { removeTree(dir) }
    let state = FakeIOState()
    let io = FileIO(
      write: { fd, buffer in
        state.writeCalls += 1
        if state.writeCalls % 3 == 0 {
          errno = EINTR
          return -1
        }
        return FileIO.system.write(fd, UnsafeRawBufferPointer(rebasing: buffer.prefix(7)))
      },
      fsync: FileIO.system.fsync)
    let path = dir + "/m.safetensors"
    try writer(5, count: 300).write(to: path, io: io)
    #expect(readBytes(path) == writer(5, count: 300).serialized())
    #expect(state.writeCalls > 100)
  }

  @Test func aWriteThatMakesNoProgressFailsInsteadOfSpinning() throws {
    let (dir, path, old) = try directoryWithCheckpoint()
    defer { removeTree(dir) }
    let io = FileIO(write: { _, _ in 0 }, fsync: FileIO.system.fsync)
    #expect(throws: SafeTensorsError.self) { try writer(2).write(to: path, io: io) }
    #expect(readBytes(path) == old)
    #expect(directoryEntries(dir) == ["m.safetensors"])
  }

  @Test func neverReplacesWhatIsNotARegularFile() throws {
    let dir = try makeTempDirectory()
    defer { removeTree(dir) }
    // A FIFO, a symbolic link (to a regular file and dangling) and a directory stay what they are.
    let fifo = dir + "/pipe"
    #expect(mkfifo(fifo, 0o644) == 0)
    let target = dir + "/target.txt"
    _ = FileManager.default.createFile(atPath: target, contents: Data("precious".utf8))
    let link = dir + "/link"
    #expect(symlink(target, link) == 0)
    let dangling = dir + "/dangling"
    #expect(symlink(dir + "/nowhere", dangling) == 0)
    try FileManager.default.createDirectory(atPath: dir + "/folder", withIntermediateDirectories: false)
    for (path, words) in [(fifo, "FIFO"), (link, "symbolic link"), (dangling, "symbolic link"), (dir + "/folder", "directory")] {
      do {
        try writer(1).write(to: path)
        Issue.record("\(path): expected a refusal")
      } catch {
        guard case .writeFailed(_, let reason) = error else { throw error }
        #expect(reason.contains(words), "\(reason)")
      }
    }
    #expect(PathKind(of: fifo) == .special("a FIFO (named pipe)"))
    #expect(PathKind(of: link) == .symlink)
    #expect(readBytes(target) == Array("precious".utf8))
    #expect(directoryEntries(dir) == ["dangling", "folder", "link", "pipe", "target.txt"])
  }

  @Test func leftoversAreFoundByName() throws {
    let dir = try makeTempDirectory()
    defer { removeTree(dir) }
    let path = dir + "/m.safetensors"
    for name in [".m.safetensors.tmp-123-abc", ".m.safetensors.tmp-77-ff", ".other.safetensors.tmp-5-1", "m.safetensors"] {
      _ = FileManager.default.createFile(atPath: dir + "/" + name, contents: Data())
    }
    let found = AtomicFile.leftovers(of: path).sorted { $0.pid < $1.pid }
    #expect(found.map(\.pid) == [77, 123])
    #expect(found.map(\.path) == [dir + "/.m.safetensors.tmp-77-ff", dir + "/.m.safetensors.tmp-123-abc"])
  }
}
