import Foundation
import Testing

/// A full disk during a save, and file names that are not UTF-8.
@Suite(.serialized) struct DiskAndNamesTests {
  private func corpus(_ dir: Scratch) -> String {
    var text = ""
    for i in 0..<300 { text += ["the quick brown fox\n", "jumps over the lazy dog\n", "and runs away\n"][i % 3] }
    return dir.write("fox.txt", Array(text.utf8))
  }

  /// On a small tmpfs (CI runs as root; elsewhere the test says it could not mount and returns):
  /// the save that does not fit fails with "the disk is full" and the sizes, training stops
  /// non-zero, the previous checkpoint stays byte for byte and no temporary file is left.
  @Test func aFullDiskDuringASaveKeepsThePreviousCheckpoint() throws {
    let dir = Scratch()
    defer { dir.cleanup() }
    let text = corpus(dir)
    let args = ["--embed", "8", "--hidden", "64", "--layers", "1", "--batch", "4", "--seq", "16", "--threads", "1",
                "--val-fraction", "0", "--sample-length", "0", "--quiet"]
    // Measure the checkpoint and log on the ordinary disk first.
    let probe = dir.path + "/probe.safetensors"
    #expect(try CLI.run(["train", text, "--out", probe, "--steps", "2"] + args).status == 0)
    let size = (try FileManager.default.attributesOfItem(atPath: probe)[.size] as? Int) ?? 0
    #expect(size > 0)
    let mnt = dir.path + "/small"
    try FileManager.default.createDirectory(atPath: mnt, withIntermediateDirectories: true)
    // Room for one checkpoint and its log, not for a second copy beside it.
    let mount = Process()
    mount.executableURL = URL(fileURLWithPath: "/bin/mount")
    mount.arguments = ["-t", "tmpfs", "-o", "size=\(size * 3 / 2)", "tmpfs", mnt]
    mount.standardError = FileHandle.nullDevice
    try mount.run()
    mount.waitUntilExit()
    guard mount.terminationStatus == 0 else {
      print("disk-full test: cannot mount a tmpfs here (not root?), not run")
      return
    }
    defer {
      let umount = Process()
      umount.executableURL = URL(fileURLWithPath: "/bin/umount")
      umount.arguments = [mnt]
      try? umount.run()
      umount.waitUntilExit()
    }
    let ckpt = mnt + "/run.safetensors"
    let first = try CLI.run(["train", text, "--out", ckpt, "--steps", "2"] + args)
    #expect(first.status == 0, "\(first.stderr)")
    let saved = FileManager.default.contents(atPath: ckpt)
    let more = try CLI.run(["train", "--resume", ckpt, "--steps", "4", "--checkpoint-every", "1", "--threads", "1", "--sample-length", "0", "--quiet"])
    #expect(more.status == 1, "\(more.stderr)")
    #expect(more.stderr.contains("the disk is full: saving needs") && more.stderr.contains("MB free"), "\(more.stderr)")
    #expect(!more.stderr.contains("Fatal error"))
    #expect(FileManager.default.contents(atPath: ckpt) == saved, "the previous checkpoint is byte for byte the same")
    let left = try FileManager.default.contentsOfDirectory(atPath: mnt).filter { $0.contains(".tmp-") }
    #expect(left.isEmpty, "\(left)")
  }

  @Test func fileNamesThatAreNotUTF8AreNamedNotSkipped() throws {
    let dir = Scratch()
    defer { dir.cleanup() }
    let folder = dir.path + "/texts"
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    _ = dir.write("texts/a.txt", Array("hello there\n".utf8))
    // "caf\xe9.txt": Latin-1, not UTF-8.
    var name = Array((folder + "/caf").utf8) + [0xE9] + Array(".txt".utf8) + [0]
    let fd = name.withUnsafeMutableBufferPointer { p in
      p.baseAddress!.withMemoryRebound(to: CChar.self, capacity: p.count) { open($0, O_CREAT | O_WRONLY, 0o644) }
    }
    #expect(fd >= 0)
    close(fd)
    let r = try CLI.run(["vocab", folder])
    #expect(r.status == 1, "\(r.stderr)")
    #expect(r.stderr.contains("caf\\xe9.txt") && r.stderr.contains("not valid UTF-8"), "\(r.stderr)")
  }
}
