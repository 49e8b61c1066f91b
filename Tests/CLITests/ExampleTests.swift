import Foundation
import Testing

/// The README's library example is the `generate-text` target, and it runs.
@Suite struct ExampleTests {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

  /// The ```swift block of the README that holds the example program.
  static func readmeExample() throws -> String {
    let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
    let blocks = readme.components(separatedBy: "```swift\n").dropFirst().map { $0.components(separatedBy: "```").first ?? "" }
    return try #require(blocks.first { $0.contains("// generate-text:") }, "README has no ```swift block with the generate-text example")
  }

  @Test func readmeShowsTheExampleVerbatim() throws {
    let file = try String(contentsOf: Self.root.appendingPathComponent("Examples/generate-text/main.swift"), encoding: .utf8)
    #expect(try Self.readmeExample() == file)
  }

  @Test func exampleLoadsATrainedCheckpointAndGenerates() throws {
    let dir = Scratch()
    defer { dir.cleanup() }
    var text = ""
    for i in 0..<120 { text += ["to be or not to be\n", "that is the question\n"][i % 2] }
    let corpus = dir.write("play.txt", Array(text.utf8))
    let ckpt = dir.path + "/play.safetensors"
    let train = try CLI.run(["train", corpus, "--out", ckpt, "--steps", "5", "--quiet", "--sample-length", "0"] + TrainCLITests.tiny)
    #expect(train.status == 0, "\(train.stderr)")

    func example(_ args: [String]) throws -> CLI.Result {
      let process = Process()
      process.executableURL = CLI.productsDirectory.appendingPathComponent("generate-text")
      process.arguments = args
      let out = Pipe(), err = Pipe()
      process.standardOutput = out
      process.standardError = err
      try process.run()
      let o = out.fileHandleForReading.readDataToEndOfFile()
      let e = err.fileHandleForReading.readDataToEndOfFile()
      process.waitUntilExit()
      return CLI.Result(status: process.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }
    let run = try example([ckpt, "to be"])
    #expect(run.status == 0, "\(run.stderr)")
    #expect(run.stdout.hasPrefix("to be"))
    #expect(run.stdout.count == "to be".count + 200 + 1)
    #expect(try example([ckpt, "to be"]).stdout == run.stdout)  // seeded: same text

    let missing = try example([dir.path + "/nope.safetensors"])
    #expect(missing.status == 1 && missing.stderr.contains("nope.safetensors"))
  }
}
