/// A text setting that can be out of range or contradict a model's, named in the library's
/// words (a command line maps each to its flag).
public enum TextSetting: String, CaseIterable, Sendable, CustomStringConvertible {
  /// ``TokenizerOptions/minCount``.
  case minCount = "minimum count"
  /// ``TokenizerOptions/locale``.
  case locale
  /// ``TokenizerOptions/normalization``.
  case normalization
  /// ``TokenizerOptions/lowercase``.
  case lowercase = "lowercasing"
  /// The fraction of a corpus held out for validation (``Corpus/split(validationFraction:)``).
  case validationFraction = "validation fraction"
  /// How a corpus is cut into documents (``DocumentMode``).
  case documents = "documents mode"

  public var description: String { rawValue }
}

/// Everything that can go wrong turning files into tokens. Each case's ``description`` is one
/// line that names the file or setting and says how to fix it (in the library's words: a
/// command line names its flags).
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
  /// A directory holds no text files (matching `include`, if given).
  case noTextFiles(path: String, include: String?)
  /// Characters that the vocabulary does not contain.
  case unknownCharacters([String])
  /// ICU reported an error (should not happen with valid UTF-16).
  case icu(operation: String, code: String)
  /// A setting is out of range, or contradicts the model's: `value` as given, `expected` the
  /// values accepted.
  case outOfRange(TextSetting, value: String, expected: String)
  /// A corpus of one document cannot be split between documents for validation.
  case singleDocument(validationFraction: Double)
  /// The corpus cannot be read as documents (`documents`): the model's vocabulary has no
  /// end-of-text symbol.
  case noEndOfText(documents: DocumentMode)
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
      return "\(path): invalid UTF-8 at byte offset \(offset); convert the file to UTF-8 (e.g. iconv -f LATIN1 -t UTF-8) or leave it out of the corpus"
    case .binaryFile(let path, let offset):
      return "\(path): looks like a binary file (NUL byte at offset \(offset)); give a UTF-8 text file"
    case .emptyCorpus(let path):
      return "\(path): the corpus is empty; give a file or directory with some text"
    case .noTextFiles(let path, let include):
      let filter = include.map { " matching '\($0)'" } ?? ""
      return "\(path): no text files\(filter) in this directory; check the path\(include == nil ? "" : " or the pattern")"
    case .unknownCharacters(let chars):
      let shown = chars.prefix(10).map { Self.quoted($0) }.joined(separator: ", ")
      let more = chars.count > 10 ? " and \(chars.count - 10) more" : ""
      return "characters not in the model's vocabulary: \(shown)\(more)"
    case .icu(let operation, let code):
      return "ICU failed in \(operation) (\(code)); this is a bug, please report it with the input"
    case .outOfRange(let setting, let value, let expected):
      return "\(setting) \(value) is out of range: expected \(expected)"
    case .singleDocument(let fraction):
      return "validation fraction \(fraction) is out of range: expected 0 for a corpus of one document (validation is cut between documents); give more documents, or a validation fraction of 0"
    case .noEndOfText(let documents):
      return "documents mode \(documents.rawValue) is out of range: expected none: this model's vocabulary has no end-of-text symbol (it was trained on one stream)"
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
