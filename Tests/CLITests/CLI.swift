import Foundation
import Testing

/// Runs the built `charlstm` binary as a user would and captures what it prints.
struct CLI {
  /// The build products folder: the test bundle lives beside the executables.
  static let productsDirectory: URL = {
    let exe = URL(fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0])
    var dir = exe.deletingLastPathComponent()
    // In an .xctest bundle on Darwin the binary sits deeper; walk up until charlstm is found.
    for _ in 0..<4 where !FileManager.default.fileExists(atPath: dir.appendingPathComponent("charlstm").path) {
      dir = dir.deletingLastPathComponent()
    }
    return dir
  }()

  struct Result {
    var status: Int32
    var stdout: String
    var stderr: String
  }

  /// Runs `charlstm args…` and waits for it.
  /// Runs `args` and expects a refusal: a non-zero status, a message of at most two lines
  /// (besides ArgumentParser's usage hint) containing `needle`, and no crash.
  static func expectRefused(_ args: [String], naming needle: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let r = try run(args)
    #expect(r.status != 0, "\(args) should fail", sourceLocation: sourceLocation)
    #expect(r.stderr.contains(needle), "\(args): \(r.stderr)", sourceLocation: sourceLocation)
    let lines = r.stderr.split(separator: "\n").filter { !$0.isEmpty && !$0.hasPrefix("Usage") && !$0.hasPrefix("  See") }
    #expect(lines.count <= 2, "\(args): not a short message: \(r.stderr)", sourceLocation: sourceLocation)
    #expect(!r.stderr.contains("Fatal error"), "\(args) crashed", sourceLocation: sourceLocation)
  }

  static func run(_ args: [String], environment: [String: String] = [:]) throws -> Result {
    let process = Process()
    process.executableURL = productsDirectory.appendingPathComponent("charlstm")
    process.arguments = args
    var env = ProcessInfo.processInfo.environment
    for (k, v) in environment { env[k] = v }
    process.environment = env
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    // Read both pipes fully before waiting so a large output cannot block the child.
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    let errBytes = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return Result(
      status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
      stderr: String(decoding: errBytes, as: UTF8.self))
  }
}

/// A fresh temporary directory for one test.
struct Scratch {
  let path: String
  init() {
    path = NSTemporaryDirectory() + "charlstm-cli-" + UUID().uuidString
    try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
  }
  @discardableResult
  func write(_ name: String, _ bytes: [UInt8]) -> String {
    let full = path + "/" + name
    _ = FileManager.default.createFile(atPath: full, contents: Data(bytes))
    return full
  }
  func cleanup() { try? FileManager.default.removeItem(atPath: path) }
}
