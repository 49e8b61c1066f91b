import Foundation

/// Writes to standard output without buffering surprises (generation streams character by character).
enum Output {
  static func write(_ s: String) {
    var s = s
    s.withUTF8 { buf in
      var done = 0
      while done < buf.count {
        let n = Foundation.write(1, buf.baseAddress! + done, buf.count - done)
        if n <= 0 { return }
        done += n
      }
    }
  }

  /// A line on standard error (progress and notes, so stdout stays clean for piping).
  static func note(_ s: String) {
    FileHandle.standardError.write(Data((s + "\n").utf8))
  }
}

/// A duration like "41 ms", "12.3 s" or "4 min 05 s".
func formatDuration(_ seconds: Double) -> String {
  if seconds < 1 { return String(format: "%.0f ms", seconds * 1000) }
  if seconds < 60 { return String(format: "%.1f s", seconds) }
  let s = Int(seconds.rounded())
  if s < 3600 { return String(format: "%d min %02d s", s / 60, s % 60) }
  return String(format: "%d h %02d min", s / 3600, (s % 3600) / 60)
}

/// 61234 → "61k", 1234567 → "1.2M".
func compactCount(_ x: Double) -> String {
  if x >= 1e6 { return String(format: "%.1fM", x / 1e6) }
  if x >= 1e3 { return String(format: "%.0fk", x / 1e3) }
  return String(format: "%.0f", x)
}
