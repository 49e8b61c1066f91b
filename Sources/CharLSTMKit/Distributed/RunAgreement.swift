// Before a distributed run trains, every rank must have set up the same run: same corpus,
// options, weights and position. A rank that failed, or that would train something else,
// ends the whole job with one message.

/// Why the ranks of a distributed run did not start together.
public enum RunAgreementError: Error, Equatable, CustomStringConvertible, Sendable {
  /// Rank `rank` of `ranks` (the lowest that failed) could not set up; `message` is its error
  /// (described as it is, without a rank, when rank 0 failed: what every rank would say).
  case rankFailed(rank: Int, ranks: Int, message: String)
  /// Rank `rank` of `ranks` set up a different run than rank 0 (its fingerprint differs).
  case mismatch(rank: Int, ranks: Int, fingerprint: UInt64, expected: UInt64)

  /// One line saying which rank and what to do.
  public var description: String {
    switch self {
    case .rankFailed(let rank, let ranks, let message):
      return rank == 0 ? message : "rank \(rank) of \(ranks): \(message)"
    case .mismatch(let rank, let ranks, let fingerprint, let expected):
      return "rank \(rank) of \(ranks) would train a different run than rank 0 (run fingerprint \(String(fingerprint, radix: 16)), rank 0's \(String(expected, radix: 16))): its corpus, options or checkpoint differ; start every rank with the same command on the same corpus"
    }
  }
}

extension Collective {
  /// Runs one setup phase on every process and agrees on its outcome: each process runs
  /// `body`; if any failed, every process throws the lowest failing rank's error as
  /// ``RunAgreementError/rankFailed(rank:ranks:message:)``; if any result's `fingerprint`
  /// differs from rank 0's, every process throws ``RunAgreementError/mismatch(rank:ranks:fingerprint:expected:)``.
  /// With one process this is just `body()` (its error unchanged, no fingerprint computed).
  ///
  /// Costs one maximum and up to two broadcasts; every process must call it at the same point.
  /// - Parameters:
  ///   - body: the phase (reading the corpus, building the trainer, opening files).
  ///   - fingerprint: what must be equal on every rank (see ``Trainer/fingerprint``).
  ///   - describe: the one-line message of a failure, as the user should read it.
  public func agreeing<T>(
    _ body: () throws -> T, fingerprint: (T) -> UInt64, describe: (any Error) -> String
  ) throws -> T {
    if size == 1 { return try body() }
    var value: T? = nil
    var failure: String? = nil
    do { value = try body() } catch { failure = describe(error) }
    try agree(failure: failure, fingerprint: value.map(fingerprint) ?? 0)
    return value!
  }

  /// The collective part of ``agreeing(_:fingerprint:describe:)``: `failure` is this
  /// process's error message (nil: it succeeded with `fingerprint`).
  func agree(failure: String?, fingerprint mine: UInt64) throws {
    // The lowest failing rank r contributes N − r, so the maximum names it.
    let failed = try maximum(of: failure == nil ? 0 : UInt64(size - rank))
    if failed > 0 {
      let culprit = size - Int(failed)
      var text = [UInt8](repeating: 0, count: 2048)
      if rank == culprit, let failure {
        let bytes = Array(failure.utf8.prefix(text.count - 1))
        text.replaceSubrange(0..<bytes.count, with: bytes)
      }
      try text.withUnsafeMutableBytes { try broadcast($0, from: culprit) }
      let message = String(decoding: text.prefix { $0 != 0 }, as: UTF8.self)
      throw RunAgreementError.rankFailed(rank: culprit, ranks: size, message: message)
    }
    var lead = [mine]
    try lead.withUnsafeMutableBytes { try broadcast($0, from: 0) }
    let differs = try maximum(of: mine == lead[0] ? 0 : UInt64(size - rank))
    if differs > 0 {
      let culprit = size - Int(differs)
      var theirs = [mine]
      try theirs.withUnsafeMutableBytes { try broadcast($0, from: culprit) }
      throw RunAgreementError.mismatch(rank: culprit, ranks: size, fingerprint: theirs[0], expected: lead[0])
    }
  }

  /// The maximum of `value` over all processes.
  func maximum(of value: UInt64) throws -> UInt64 {
    var v = [value]
    try v.withUnsafeMutableBufferPointer { try maximum($0) }
    return v[0]
  }
}

/// FNV-1a 64 over bytes, for run fingerprints.
struct FNV1a {
  private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325
  mutating func add(_ bytes: UnsafeRawBufferPointer) {
    var h = value
    for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
    value = h
  }
  mutating func add(_ text: String) {
    var s = text + "\u{0}"
    s.withUTF8 { add(UnsafeRawBufferPointer($0)) }
  }
}
