import Foundation

/// A fresh temporary directory for one test, removed by the caller with `cleanup()`.
struct TempDir {
  let path: String

  init() {
    path = NSTemporaryDirectory() + "charlstm-test-" + UUID().uuidString
    try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
  }

  /// Writes `bytes` to `name` (subfolders created) and returns the full path.
  @discardableResult
  func write(_ name: String, _ bytes: [UInt8]) -> String {
    let full = path + "/" + name
    try! FileManager.default.createDirectory(
      atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    _ = FileManager.default.createFile(atPath: full, contents: Data(bytes))
    return full
  }

  @discardableResult
  func write(_ name: String, _ text: String) -> String { write(name, Array(text.utf8)) }

  func cleanup() { try? FileManager.default.removeItem(atPath: path) }
}
