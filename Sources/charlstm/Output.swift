import Foundation

/// Writes to standard output without buffering surprises (generation streams character by
/// character), and never loses output silently.
///
/// Every write is checked. A failure (a full disk behind `> file`, an I/O error) prints one
/// line on standard error, `charlstm: cannot write to standard output: No space left on
/// device`, and exits 74 (EX_IOERR): the output is incomplete, so the command failed. A closed
/// pipe (`charlstm generate … | head`) is the reader saying it has enough: the process exits
/// 141 (128 + SIGPIPE, what a shell reports for a tool stopped by SIGPIPE) without a message.
/// With SIGPIPE at its default the kernel stops the process that way before `write` returns;
/// when a parent left SIGPIPE ignored, `write` fails with EPIPE and the exit here does the same.
enum Output {
  /// Exit status when standard output cannot be written (sysexits.h EX_IOERR).
  static let ioErrorStatus: Int32 = 74
  /// Exit status when the reader of standard output went away (128 + SIGPIPE).
  static let closedPipeStatus: Int32 = 141

  static func write(_ s: String) {
    var s = s
    let failure: Int32? = s.withUTF8 { buf in
      var done = 0
      while done < buf.count {
        let n = Foundation.write(1, buf.baseAddress! + done, buf.count - done)
        if n < 0 && errno == EINTR { continue }
        if n < 0 { return errno }
        if n == 0 { return EIO }
        done += n
      }
      return nil
    }
    guard let failure else { return }
    if failure == EPIPE { exit(closedPipeStatus) }
    note("charlstm: cannot write to standard output: \(String(cString: strerror(failure)))")
    exit(ioErrorStatus)
  }

  /// A line on standard error (progress and notes, so stdout stays clean for piping). Best
  /// effort: a closed or full standard error loses the note, never the run.
  static func note(_ s: String, newline: Bool = true) {
    var line = newline ? s + "\n" : s
    line.withUTF8 { buf in
      var done = 0
      while done < buf.count {
        let n = Foundation.write(2, buf.baseAddress! + done, buf.count - done)
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { return }
        done += n
      }
    }
  }
}

/// A duration like "41 ms", "12.3 s" or "4 min 05 s".
func formatDuration(_ seconds: Double) -> String {
  // A value no clock gives (from a damaged checkpoint) is shown, not converted to Int.
  if !(seconds >= 0 && seconds < 1e12) { return String(format: "%.3g s", seconds) }
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
