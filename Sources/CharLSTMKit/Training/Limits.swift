extension ModelConfig {
  /// The largest embedding width a run may have (and a checkpoint may hold).
  public static let maxEmbedSize = 1 << 16
  /// The largest hidden width.
  public static let maxHiddenSize = 1 << 16
  /// The most layers.
  public static let maxLayers = 64
  /// The largest vocabulary.
  public static let maxVocabSize = 1 << 24

  /// The first size above its limit (``maxEmbedSize``, ``maxHiddenSize``, ``maxLayers``,
  /// ``maxVocabSize``), or nil when every size is within its limit.
  public var sizeBeyondLimit: (setting: TrainingSetting, value: Int, limit: Int)? {
    let sizes: [(TrainingSetting, Int, Int)] = [
      (.embedSize, embedSize, Self.maxEmbedSize), (.hiddenSize, hiddenSize, Self.maxHiddenSize),
      (.layers, layers, Self.maxLayers), (.vocabularySize, vocabSize, Self.maxVocabSize),
    ]
    return sizes.first { $0.1 > $0.2 }
  }

  /// Bytes a training run of this model needs, roughly: parameters, gradients and two optimizer
  /// moments, plus the per-window activations (about 12 floats per hidden unit per character
  /// per layer, and the logits).
  public func estimatedTrainingBytes(batch: Int, seqLength: Int) -> Double {
    let params = Double(parameterCount)
    let rows = Double(batch) * Double(seqLength)
    let activations = rows * (Double(layers) * 12 * Double(hiddenSize) + 2 * Double(vocabSize) + Double(embedSize))
    return 4 * (4 * params + activations)
  }

  /// Sizes a run can use: each dimension bounded, and the estimate within physical memory.
  /// - Throws: ``TrainingError/invalidModel(_:)``, ``TrainingError/outOfRange(_:value:expected:)``
  ///   naming the dimension, or ``TrainingError/exceedsMemory(run:needed:available:reduce:)``.
  public func checkTrainable(batch: Int, seqLength: Int) throws(TrainingError) {
    do { try validate() } catch { throw .invalidModel(error) }
    if let (setting, value, limit) = sizeBeyondLimit {
      let expected = setting == .vocabularySize ? "at most 16,777,216 symbols (count rare characters as unknown)" : "at most \(limit)"
      throw .outOfRange(setting, value: "\(value)", expected: expected)
    }
    let need = estimatedTrainingBytes(batch: batch, seqLength: seqLength)
    let have = HostMemory.physicalBytes
    if have > 0 && need > have {
      throw .exceedsMemory(
        run: "a run of \(layers)×\(hiddenSize) with B \(batch) × T \(seqLength)", needed: need, available: have,
        reduce: [.hiddenSize, .layers, .batch, .seqLength])
    }
  }
}
