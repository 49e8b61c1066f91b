import Foundation
import Testing

/// `charlstm train` with no corpus trains on the built-in tinyshakespeare from any folder, and the
/// built-in bytes are exactly corpora/tinyshakespeare.txt.
@Suite struct DefaultCorpusTests {
  static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

  @Test func trainsFromAnyFolderOnTheBuiltInTextWhichIsTheShippedFile() throws {
    let dir = Scratch()
    defer { dir.cleanup() }
    let p = Process()
    p.executableURL = CLI.productsDirectory.appendingPathComponent("charlstm")
    p.arguments = ["train", "--steps", "2", "--hidden", "16", "--embed", "8", "--batch", "4", "--seq", "16", "--threads", "1", "--eval-every", "0", "--sample-length", "0"]
    p.currentDirectoryURL = URL(fileURLWithPath: dir.path)
    let err = Pipe()
    p.standardError = err
    p.standardOutput = FileHandle.nullDevice
    try p.run()
    let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    p.waitUntilExit()
    #expect(p.terminationStatus == 0, "\(stderr)")
    #expect(stderr.contains("1,115,394 bytes") && stderr.contains("65 distinct"), "\(stderr)")
    let ckpt = dir.path + "/checkpoints/tinyshakespeare.safetensors"
    #expect(FileManager.default.fileExists(atPath: ckpt))
    // Resuming on the shipped file checks the corpus fingerprint: it passes only if the built-in
    // bytes tokenize exactly like corpora/tinyshakespeare.txt.
    let shipped = Self.repository.appendingPathComponent("corpora/tinyshakespeare.txt").path
    let resumed = try CLI.run(["train", "--resume", ckpt, shipped, "--steps", "3", "--threads", "1", "--sample-length", "0", "--quiet"])
    #expect(resumed.status == 0, "\(resumed.stderr)")
  }
}
