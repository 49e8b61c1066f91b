#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Prints `line` and a line break on standard output, checked: a write error (a full disk)
/// is one line on standard error and exit 74 (EX_IOERR); a closed pipe exits 141 quietly.
func emit(_ line: String) {
  var text = line + "\n"
  let failure: Int32? = text.withUTF8 { buf in
    var done = 0
    while done < buf.count {
      let n = write(1, buf.baseAddress! + done, buf.count - done)
      if n < 0 && errno == EINTR { continue }
      if n < 0 { return errno }
      if n == 0 { return EIO }
      done += n
    }
    return nil
  }
  guard let failure else { return }
  if failure == EPIPE { exit(141) }
  var message = "charlstm-bench: cannot write to standard output: \(String(cString: strerror(failure)))\n"
  message.withUTF8 { _ = write(2, $0.baseAddress!, $0.count) }
  exit(74)
}

/// x with one decimal ("12.3").
func format1(_ x: Double) -> String { "\((x * 10).rounded() / 10)" }

/// x with three decimals at most ("0.091").
func format3(_ x: Double) -> String { "\((x * 1000).rounded() / 1000)" }

/// s padded with spaces to w characters, on the left (right-aligned) or the right.
func pad(_ s: String, _ w: Int, left: Bool = false) -> String {
  s.count >= w ? s : (left ? String(repeating: " ", count: w - s.count) + s : s + String(repeating: " ", count: w - s.count))
}
