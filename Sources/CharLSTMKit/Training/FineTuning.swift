/// Where a fine-tuned run started: the checkpoint whose weights and shape it took.
/// Recorded in the run's checkpoints (metadata `origin`) and its log (`init_from`).
public struct CheckpointOrigin: Codable, Equatable, Sendable {
  /// The parent checkpoint's path, as given to `--init-from`.
  public var path: String
  /// The parent's optimizer step when it was saved.
  public var step: Int
  /// ``Checkpoint/weightsHash`` of the parent: `inspect` of the parent shows the same string.
  public var weightsHash: String
  /// The parent's vocabulary size V: the run's rows from V on are new characters.
  public var vocabularySize: Int
  /// Characters added to the parent's vocabulary (the new corpus had them, the parent did not).
  public var addedSymbols: Int

  /// An origin record.
  public init(path: String, step: Int, weightsHash: String, vocabularySize: Int, addedSymbols: Int) {
    self.path = path
    self.step = step
    self.weightsHash = weightsHash
    self.vocabularySize = vocabularySize
    self.addedSymbols = addedSymbols
  }

  private enum CodingKeys: String, CodingKey {
    case path, step, weightsHash = "weights_hash", vocabularySize = "vocabulary_size", addedSymbols = "added_symbols"
  }

  /// FNV-1a 64 over the little-endian bytes of `parameters`: `fnv1a64:` and 16 hex digits.
  public static func weightsHash(_ parameters: [Float]) -> String {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    parameters.withUnsafeBufferPointer { p in
      for x in p {
        var v = x.bitPattern
        for _ in 0..<4 {
          h = (h ^ UInt64(v & 0xFF)) &* 0x100_0000_01b3
          v >>= 8
        }
      }
    }
    let hex = String(h, radix: 16)
    return "fnv1a64:" + String(repeating: "0", count: 16 - hex.count) + hex
  }
}

/// A fine-tuning run prepared from a parent checkpoint and a new corpus: the model with the
/// parent's weights and shape, its vocabulary grown by the corpus's new characters, and the
/// corpus renumbered to that vocabulary. Hand ``model``, ``corpus`` and ``origin`` to
/// ``Trainer/init(startingFrom:config:tokenizer:training:validation:corpus:checkpointPath:origin:)``.
///
/// ```swift
/// let parent = try Checkpoint.load(from: "checkpoints/shakespeare.safetensors")
/// var options = parent.tokenizer.options
/// options.minCount = 1  // characters rare here but known to the parent keep their rows
/// let text = try CorpusLoader.load(path: "names.txt", options: options, documents: .lines)
/// let plan = try FineTuning(parent: parent, path: "checkpoints/shakespeare.safetensors", corpus: text, seed: 1)
/// let (train, val) = try plan.corpus.split(validationFraction: 0.05)
/// let trainer = try Trainer(startingFrom: plan.model, config: config, tokenizer: plan.corpus.tokenizer,
///   training: train, validation: val, corpus: nil, checkpointPath: "checkpoints/names.safetensors", origin: plan.origin)
/// ```
public struct FineTuning {
  /// The model to start from: the parent's weights, rows for the new characters appended.
  public let model: CharModel<Float>
  /// The new corpus, its tokenizer's vocabulary the parent's plus the new characters.
  public let corpus: Corpus
  /// What the run records about its parent.
  public let origin: CheckpointOrigin
  /// The characters added to the parent's vocabulary, in id order (the end-of-text symbol
  /// among them when the parent was trained on one stream and the new corpus is read as documents).
  public var addedSymbols: ArraySlice<String> { corpus.tokenizer.vocabulary.symbols[origin.vocabularySize...] }

  /// Prepares fine-tuning `parent` (read from `path`) on `corpus`.
  /// - Parameters:
  ///   - corpus: read with the parent's text options and `minCount` 1 (see
  ///     ``Corpus/extendingVocabulary(of:)``).
  ///   - dropout: the run's dropout (nil: the parent's).
  ///   - seed: initializes the new rows as a fresh model with this seed would
  ///     (``CharModel/growingVocabulary(to:dropout:generator:)``); use the run's seed.
  /// - Throws: ``TrainingError/corpus(_:)`` for a text option the corpus was read with that
  ///   contradicts the parent's, ``TrainingError/outOfRange(_:value:expected:)`` for a dropout
  ///   outside [0, 1).
  public init(parent: Checkpoint, path: String, corpus: Corpus, dropout: Double? = nil, seed: UInt64) throws(TrainingError) {
    let grown: Corpus
    do { grown = try corpus.extendingVocabulary(of: parent.tokenizer) } catch { throw .corpus(error) }
    let p = dropout ?? parent.model.dropout
    guard p >= 0 && p < 1 else { throw .outOfRange(.dropout, value: "\(p)", expected: "a number in [0, 1)") }
    var generator = SeededGenerator(seed: seed)
    model = parent.makeModel().growingVocabulary(to: grown.tokenizer.vocabulary.count, dropout: p, generator: &generator)
    self.corpus = grown
    origin = CheckpointOrigin(
      path: path, step: parent.state?.step ?? 0, weightsHash: parent.weightsHash,
      vocabularySize: parent.model.vocabSize, addedSymbols: grown.tokenizer.vocabulary.count - parent.model.vocabSize)
  }
}
