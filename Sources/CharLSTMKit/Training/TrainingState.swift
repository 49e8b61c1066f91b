/// Where a run is: everything besides weights and moments needed to continue it exactly.
public struct TrainingState: Codable, Equatable, Sendable {
  /// Optimizer steps done.
  public var step = 0
  /// Passes over the training text started (1-based once training began).
  public var epoch = 0
  /// Next window within the current epoch.
  public var window = 0
  /// Characters skipped at the start of the current epoch (drawn per epoch, in [0, T)).
  public var epochOffset = 0
  /// Generator for batching decisions (the per-epoch offsets).
  public var dataGenerator: GeneratorState
  /// Generator for the dropout masks.
  public var dropoutGenerator: GeneratorState
  /// Best validation loss so far and the step it was measured at.
  public var bestValidationLoss: Double? = nil
  /// The step of ``bestValidationLoss`` (nil before the first validation).
  public var bestStep: Int? = nil
  /// Most recent validation loss.
  public var lastValidationLoss: Double? = nil
  /// Validations in a row without improvement (for `--patience`).
  public var evalsWithoutImprovement = 0
  /// Training seconds over all sessions of the run.
  public var elapsedSeconds = 0.0

  /// The state of a run that has not started, with generators derived from `seed`.
  public init(seed: UInt64) {
    dataGenerator = GeneratorState(SeededGenerator(seed: seed ^ 0x6461_7461))  // "data"
    dropoutGenerator = GeneratorState(SeededGenerator(seed: seed ^ 0x6472_6F70))  // "drop"
  }
}

/// A ``SeededGenerator``'s state as four hex strings (JSON numbers cannot hold 64 bits).
public struct GeneratorState: Codable, Equatable, Sendable {
  /// The generator's four 64-bit state words, in hexadecimal.
  public var words: [String]

  /// The state of `g`.
  public init(_ g: SeededGenerator) {
    words = [g.state.0, g.state.1, g.state.2, g.state.3].map { String($0, radix: 16) }
  }

  /// The generator, or nil when the words are malformed.
  public var generator: SeededGenerator? {
    let w = words.compactMap { UInt64($0, radix: 16) }
    guard w.count == 4, words.count == 4 else { return nil }
    return SeededGenerator(state: (w[0], w[1], w[2], w[3]))
  }
}

/// Which text a run was trained on, so a resume can check it reads the same text.
public struct CorpusInfo: Codable, Equatable, Sendable {
  /// The corpus path as given to `charlstm train`.
  public var path: String
  /// The glob that chose files in a directory corpus (nil: all text files).
  public var include: String?
  /// Size of the corpus in bytes.
  public var bytes: Int
  /// Characters (grapheme clusters) in the corpus.
  public var characters: Int
  /// FNV-1a over the token ids, hex.
  public var fingerprint: String
  /// How the text was cut into documents (`--documents`); a resumed run reads it the same way.
  /// Stored only when not ``DocumentMode/stream``, so a stream run's record is unchanged.
  public var documents: DocumentMode

  /// The record of a corpus read from `path` in `documents` mode, fingerprinting its `tokens`
  /// (end-of-text symbols included, so ``characters`` counts them).
  public init(path: String, include: String?, bytes: Int, tokens: TokenIDs, documents: DocumentMode = .stream) {
    self.path = path
    self.include = include
    self.bytes = bytes
    self.characters = tokens.count
    self.fingerprint = Self.fingerprint(tokens)
    self.documents = documents
  }

  private enum CodingKeys: String, CodingKey { case path, include, bytes, characters, fingerprint, documents }

  /// Decodes a record; one without `documents` (every run before documents mode) is a stream.
  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    path = try c.decode(String.self, forKey: .path)
    include = try c.decodeIfPresent(String.self, forKey: .include)
    bytes = try c.decode(Int.self, forKey: .bytes)
    characters = try c.decode(Int.self, forKey: .characters)
    fingerprint = try c.decode(String.self, forKey: .fingerprint)
    documents = try c.decodeIfPresent(DocumentMode.self, forKey: .documents) ?? .stream
  }

  /// Encodes the record, leaving `documents` out for a stream.
  public func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(path, forKey: .path)
    try c.encodeIfPresent(include, forKey: .include)
    try c.encode(bytes, forKey: .bytes)
    try c.encode(characters, forKey: .characters)
    try c.encode(fingerprint, forKey: .fingerprint)
    if documents != .stream { try c.encode(documents, forKey: .documents) }
  }

  /// FNV-1a 64 over the ids' little-endian bytes.
  public static func fingerprint<C: Sequence<Int32>>(_ tokens: C) -> String {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for t in tokens {
      var v = UInt32(bitPattern: t)
      for _ in 0..<4 {
        h = (h ^ UInt64(v & 0xFF)) &* 0x100_0000_01b3
        v >>= 8
      }
    }
    return String(h, radix: 16)
  }
}
