/// Everything that can go wrong turning files into tokens. Each case's ``description`` is one
/// line that names the file or option and says how to fix it.
public enum TextError: Error, Equatable, CustomStringConvertible, Sendable {
  /// The path does not exist.
  case notFound(path: String)
  /// The path exists but cannot be read (permissions, I/O error).
  case unreadable(path: String, reason: String)
  /// A file is not valid UTF-8; `offset` is the byte offset of the first bad byte.
  case invalidUTF8(path: String, offset: Int)
  /// A file given directly looks binary (it contains a NUL byte at `offset`).
  case binaryFile(path: String, offset: Int)
  /// The corpus holds no characters at all.
  case emptyCorpus(path: String)
  /// A directory holds no text files (after `--include`, if given).
  case noTextFiles(path: String, include: String?)
  /// Characters that the vocabulary does not contain.
  case unknownCharacters([String])
  /// ICU reported an error (should not happen with valid UTF-16).
  case icu(operation: String, code: String)
  /// An option value is out of range.
  case invalidOption(name: String, value: String, expected: String)
  /// A file in a directory corpus has a name that is not valid UTF-8 (shown with the bad bytes
  /// escaped), so it cannot be named reliably: it is neither read nor silently skipped.
  case fileNameNotUTF8(directory: String, name: String)

  /// One line naming the file (and byte offset) and what to do.
  public var description: String {
    switch self {
    case .notFound(let path):
      return "\(path): no such file or directory; check the path (a corpus is a text file or a directory of them)"
    case .unreadable(let path, let reason):
      if reason.contains("not a regular file") {
        return "\(path): cannot read it as text (\(reason): a FIFO, socket or device); give a text file or a directory of them"
      }
      return "\(path): cannot read (\(reason)); check its permissions"
    case .invalidUTF8(let path, let offset):
      return "\(path): invalid UTF-8 at byte offset \(offset); convert the file to UTF-8 (e.g. iconv -f LATIN1 -t UTF-8) or exclude it with --include"
    case .binaryFile(let path, let offset):
      return "\(path): looks like a binary file (NUL byte at offset \(offset)); give a UTF-8 text file"
    case .emptyCorpus(let path):
      return "\(path): the corpus is empty; give a file or directory with some text"
    case .noTextFiles(let path, let include):
      let filter = include.map { " matching --include '\($0)'" } ?? ""
      return "\(path): no text files\(filter) in this directory; check the path or the --include pattern"
    case .unknownCharacters(let chars):
      let shown = chars.prefix(10).map { Self.quoted($0) }.joined(separator: ", ")
      let more = chars.count > 10 ? " and \(chars.count - 10) more" : ""
      return "characters not in the model's vocabulary: \(shown)\(more)"
    case .icu(let operation, let code):
      return "ICU failed in \(operation) (\(code)); this is a bug, please report it with the input"
    case .invalidOption(let name, let value, let expected):
      return "\(name) \(value) is invalid: expected \(expected)"
    case .fileNameNotUTF8(let dir, let name):
      return "\(dir): the file name \(name) is not valid UTF-8; rename it (e.g. convmv -f latin1 -t utf8) or move it out of the corpus"
    }
  }

  /// A character shown in quotes, with its code points (so invisible ones can be seen).
  public static func quoted(_ s: String) -> String {
    let points = s.unicodeScalars.map { "U+" + String($0.value, radix: 16, uppercase: true).leftPadded(to: 4) }
    let visible = s.unicodeScalars.allSatisfy { $0.properties.generalCategory != .control } ? s : "?"
    return "\"\(visible)\" (\(points.joined(separator: " ")))"
  }
}

extension String {
  func leftPadded(to width: Int) -> String {
    count >= width ? self : String(repeating: "0", count: width - count) + self
  }
}
