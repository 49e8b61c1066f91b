import Foundation

/// Everything that can go wrong reading or writing a safetensors file.
///
/// Each case names what did not match: the file path, the tensor name, and the expected versus
/// found values. ``description`` (and `errorDescription`) renders a single line that names the
/// file and says what to do about it. Strings taken from the file (tensor names, keys) are
/// shortened and have control characters escaped before they are shown, so a hostile file cannot
/// inject extra lines into a log.
public enum SafeTensorsError: Error, Equatable, Sendable, CustomStringConvertible, LocalizedError {
  /// The file could not be opened or read at all (missing, permissions, a directory, I/O error).
  case fileUnreadable(path: String, reason: String)
  /// The file is shorter than the 8-byte header-length field.
  case fileTooShort(path: String, size: Int)
  /// The file has fewer bytes than its header says it needs (`expected` total bytes).
  case truncated(path: String, expected: Int, found: Int)
  /// The header-length field exceeds the caller's `maxHeaderBytes` limit.
  case headerTooLarge(path: String, length: UInt64, limit: Int)
  /// The header bytes are not valid UTF-8; `offset` is the first bad byte, counted from the
  /// start of the header.
  case invalidHeaderUTF8(path: String, offset: Int)
  /// The header is not a well-formed JSON object; `detail` says what and where.
  case invalidHeaderJSON(path: String, detail: String)
  /// A JSON object in the header repeats a key (or two keys are canonically equivalent).
  case duplicateKey(path: String, key: String)
  /// A tensor entry is not an object with exactly `dtype`, `shape` and `data_offsets` of the right
  /// JSON types.
  case invalidTensorEntry(path: String, name: String, detail: String)
  /// A tensor's dtype string is not one of ``SafeTensorsDType``.
  case unknownDType(path: String, name: String, dtype: String)
  /// A tensor's shape is not a list of non-negative integers, or its size overflows.
  case badShape(path: String, name: String, detail: String)
  /// A tensor's `data_offsets` has `begin > end`.
  case offsetsOutOfRange(path: String, name: String, begin: Int, end: Int, dataSize: Int)
  /// A tensor's byte range length (`found`) differs from element count × dtype size (`expected`).
  case sizeMismatch(path: String, name: String, expected: Int, found: Int)
  /// Two tensors' byte ranges overlap.
  case overlappingTensors(path: String, first: String, second: String)
  /// Data bytes `start..<end` belong to no tensor; `after` is the tensor just before the gap
  /// (`nil` when the gap is at the start of the data).
  case gapInData(path: String, after: String?, start: Int, end: Int)
  /// The `__metadata__` entry is not an object mapping strings to strings.
  case invalidMetadata(path: String, detail: String)
  /// A requested tensor is not in the file.
  case missingTensor(path: String, name: String)
  /// A requested tensor has another dtype than the accessor reads.
  case wrongDType(path: String, name: String, expected: SafeTensorsDType, found: SafeTensorsDType)
  /// A requested tensor has another shape than the caller expects.
  case wrongShape(path: String, name: String, expected: [Int], found: [Int])
  /// Saving failed; the reason includes the system error text (e.g. "Permission denied").
  case writeFailed(path: String, reason: String)
  /// Saving failed because the disk (or quota) is full: the file needs `needed` bytes and the
  /// file system has `available` free (nil: unknown). The previous file is untouched.
  case diskFull(path: String, needed: Int, available: Int?)

  /// A one-line explanation naming the file and what to do.
  ///
  /// - Returns: a single line without control characters.
  public var description: String {
    switch self {
    case .fileUnreadable(let path, let reason):
      return "\(show(path)): cannot read the checkpoint (\(show(reason))); check the path and the file's permissions"
    case .fileTooShort(let path, let size):
      return "\(show(path)): the file is only \(size) bytes, too short for a safetensors file (at least 8); it is empty or was cut off — copy it again or use the previous checkpoint"
    case .truncated(let path, let expected, let found):
      return "\(show(path)): the file is truncated (header says \(expected) bytes, file has \(found)); it was probably cut off while copying — copy it again or use the previous checkpoint"
    case .headerTooLarge(let path, let length, let limit):
      return "\(show(path)): the header length field says \(length) bytes, over the \(limit)-byte limit; the file is corrupt or not a safetensors file — use another checkpoint (or raise maxHeaderBytes if the header really is that big)"
    case .invalidHeaderUTF8(let path, let offset):
      return "\(show(path)): the header is not valid UTF-8 (bad byte at header offset \(offset)); the file is corrupt or not a safetensors file — use another checkpoint"
    case .invalidHeaderJSON(let path, let detail):
      return "\(show(path)): the header is not valid safetensors JSON (\(show(detail))); the file is corrupt or not a safetensors file — use another checkpoint"
    case .duplicateKey(let path, let key):
      return "\(show(path)): the header repeats the key \(quote(key)); the file is corrupt or was written by a broken tool — re-export it or use another checkpoint"
    case .invalidTensorEntry(let path, let name, let detail):
      return "\(show(path)): tensor \(quote(name)) has a malformed header entry (\(show(detail))); the file is corrupt — re-export it or use another checkpoint"
    case .unknownDType(let path, let name, let dtype):
      let known = SafeTensorsDType.allCases.map(\.rawValue).joined(separator: ", ")
      return "\(show(path)): tensor \(quote(name)) has unsupported dtype \(quote(dtype)) (supported: \(known)); convert the checkpoint to a supported dtype"
    case .badShape(let path, let name, let detail):
      return "\(show(path)): tensor \(quote(name)) has an invalid shape (\(show(detail))); the file is corrupt — use another checkpoint"
    case .offsetsOutOfRange(let path, let name, let begin, let end, let dataSize):
      return "\(show(path)): tensor \(quote(name)) has data_offsets [\(begin), \(end)] outside the \(dataSize)-byte data section; the file is corrupt — use another checkpoint"
    case .sizeMismatch(let path, let name, let expected, let found):
      return "\(show(path)): tensor \(quote(name)) should occupy \(expected) bytes (shape × dtype size) but its data_offsets span \(found); the file is corrupt — use another checkpoint"
    case .overlappingTensors(let path, let first, let second):
      return "\(show(path)): tensors \(quote(first)) and \(quote(second)) share bytes; the file is corrupt or crafted — use another checkpoint"
    case .gapInData(let path, let after, let start, let end):
      let place = after.map { "after tensor \(quote($0))" } ?? "at the start of the data"
      return "\(show(path)): data bytes \(start)..<\(end) \(place) belong to no tensor; the header does not match the data — the file is corrupt, use another checkpoint"
    case .invalidMetadata(let path, let detail):
      return "\(show(path)): __metadata__ must map strings to strings (\(show(detail))); the file is corrupt or written by an incompatible tool — re-export it"
    case .missingTensor(let path, let name):
      return "\(show(path)): the checkpoint has no tensor \(quote(name)); it was probably saved by another model or version — use a matching checkpoint"
    case .wrongDType(let path, let name, let expected, let found):
      return "\(show(path)): tensor \(quote(name)) is \(found), expected \(expected); the checkpoint was saved with another precision — convert it or use a matching checkpoint"
    case .wrongShape(let path, let name, let expected, let found):
      return "\(show(path)): tensor \(quote(name)) has shape \(found), expected \(expected); the checkpoint belongs to a model with other sizes — use matching hyperparameters or another checkpoint"
    case .writeFailed(let path, let reason):
      return "\(show(path)): could not save (\(show(reason))); check free disk space, permissions and that the directory exists, then save again"
    case .diskFull(let path, let needed, let available):
      let free = available.map { ", \(megabytes($0)) free" } ?? ""
      return "\(show(path)): the disk is full: saving needs \(megabytes(needed))\(free); the previous file is unchanged — free some space (or save to another disk) and run again"
    }
  }

  /// The same text as ``description``, for `LocalizedError` consumers.
  ///
  /// - Returns: ``description``.
  public var errorDescription: String? { description }
}

/// "12.3 MB" (decimal megabytes, one decimal; bytes below 1 MB as "0.4 MB").
func megabytes(_ bytes: Int) -> String {
  let tenths = (bytes + 50_000) / 100_000
  return "\(tenths / 10).\(tenths % 10) MB"
}

/// Makes an untrusted string safe for a one-line message: escapes control characters and
/// shortens it to at most `limit` characters.
func show(_ s: String, limit: Int = 160) -> String {
  var out = ""
  var count = 0
  for scalar in s.unicodeScalars {
    if count >= limit {
      out += "…"
      break
    }
    switch scalar {
    case "\n": out += "\\n"
    case "\r": out += "\\r"
    case "\t": out += "\\t"
    case _ where scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
      || scalar.value == 0x2028 || scalar.value == 0x2029:
      out += "\\u{\(String(scalar.value, radix: 16))}"
    default: out.unicodeScalars.append(scalar)
    }
    count += 1
  }
  return out
}

/// `show(s)` in single quotes.
func quote(_ s: String) -> String { "'\(show(s))'" }
