extension ModelConfig {
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
    if embedSize > 1 << 16 { throw .outOfRange(.embedSize, value: "\(embedSize)", expected: "at most 65536") }
    if hiddenSize > 1 << 16 { throw .outOfRange(.hiddenSize, value: "\(hiddenSize)", expected: "at most 65536") }
    if layers > 64 { throw .outOfRange(.layers, value: "\(layers)", expected: "at most 64") }
    if vocabSize > 1 << 24 { throw .outOfRange(.vocabularySize, value: "\(vocabSize)", expected: "at most 16,777,216 symbols (count rare characters as unknown)") }
    let need = estimatedTrainingBytes(batch: batch, seqLength: seqLength)
    let have = HostMemory.physicalBytes
    if have > 0 && need > have {
      throw .exceedsMemory(
        run: "a run of \(layers)×\(hiddenSize) with B \(batch) × T \(seqLength)", needed: need, available: have,
        reduce: [.hiddenSize, .layers, .batch, .seqLength])
    }
  }
}
