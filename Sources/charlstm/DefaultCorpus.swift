import CharLSTMKit
import _CharLSTMCorpus

/// The corpus `charlstm train` uses when none is given: tinyshakespeare (public domain,
/// 1,115,394 bytes, the field's standard character-level corpus), compiled into the binary from
/// corpora/tinyshakespeare.txt, so it is there wherever the binary runs.
enum DefaultCorpus {
  /// The file name it came from; checkpoints are named after it.
  static let fileName = "tinyshakespeare.txt"
  /// The corpus path recorded in checkpoints, so `--resume` finds the built-in text again.
  static let recordedPath = "(built-in) tinyshakespeare.txt"

  /// The built-in bytes.
  static func withBytes<R>(_ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
    var length = 0
    let start = clk_default_corpus(&length)
    return try body(UnsafeBufferPointer(start: start, count: length))
  }

  static var byteCount: Int { withBytes(\.count) }
}
