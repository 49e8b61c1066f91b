/// A value of a generation that can be out of range, named in the library's words (a command
/// line maps each to its flag).
public enum SamplingSetting: String, CaseIterable, Sendable, CustomStringConvertible {
  case temperature
  case topK = "top-k"
  case topP = "top-p"
  /// Characters generated per text.
  case length
  /// Texts generated side by side.
  case count = "text count"
  /// Hypotheses a beam search keeps.
  case beamWidth = "beam width"

  public var description: String { rawValue }
}

/// Why a generation cannot run with the options given. Each ``description`` is one line with
/// the fix, in terms of values (``SamplingSetting``), not of any command line's flags.
public enum SamplingError: Error, Equatable, CustomStringConvertible, Sendable {
  /// A setting is out of range: `value` as given, `expected` the values accepted.
  case outOfRange(SamplingSetting, value: String, expected: String)
  /// `count` texts of `length` characters, all kept until returned, exceed
  /// ``SamplingOptions/maxStoredCharacters``.
  case tooManyStoredCharacters(count: Int, length: Int)
  /// A beam search of `width` hypotheses cannot keep `length` characters each within
  /// ``BeamSearch/maxCharacters``; `maxLength` is the longest it can.
  case beamTooLong(width: Int, length: Int, maxLength: Int)
  /// The generation needs more than this machine's physical memory (both in bytes); lowering
  /// any of `reduce` (or the model's size) helps.
  case exceedsMemory(generation: String, needed: Double, available: Double, reduce: [SamplingSetting])

  /// One line saying what is wrong and how to fix it.
  public var description: String {
    switch self {
    case .outOfRange(let setting, let value, let expected):
      return "\(setting) \(value) is out of range: expected \(expected)"
    case .tooManyStoredCharacters(let count, let length):
      return "\(count) texts × length \(length) is out of range: expected at most 100,000,000 characters kept in memory when more than one text is generated (about 400 MB); generate fewer or shorter texts, or one at a time (a single text is streamed at any length)"
    case .beamTooLong(let width, let length, let maxLength):
      return "length \(length) is out of range: expected at most \(maxLength) with beam width \(width) (beam width × length ≤ 10,000,000: the search keeps every hypothesis's characters, 16 bytes each)"
    case .exceedsMemory(let generation, let need, let have, let reduce):
      return "\(generation) does not fit in memory (needs about \(HostMemory.gigabytes(need)) GB, this machine has \(HostMemory.gigabytes(have)) GB); use a smaller model or a smaller \(TrainingError.list(reduce.map(\.rawValue)))"
    }
  }
}
