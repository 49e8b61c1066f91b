#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

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
  /// - Throws: ``TrainingError/invalidOption(name:value:expected:)`` naming the option.
  public func checkTrainable(batch: Int, seqLength: Int) throws(TrainingError) {
    do { try validate() } catch {
      throw .invalidOption(name: "model", value: "\(self)", expected: "\(error)")
    }
    if embedSize > 1 << 16 { throw .invalidOption(name: "--embed", value: "\(embedSize)", expected: "at most 65536") }
    if hiddenSize > 1 << 16 { throw .invalidOption(name: "--hidden", value: "\(hiddenSize)", expected: "at most 65536") }
    if layers > 64 { throw .invalidOption(name: "--layers", value: "\(layers)", expected: "at most 64") }
    if vocabSize > 1 << 24 { throw .invalidOption(name: "vocabulary", value: "\(vocabSize)", expected: "at most 16,777,216 symbols (raise --min-count)") }
    let need = estimatedTrainingBytes(batch: batch, seqLength: seqLength)
    let have = Double(sysconf(Int32(_SC_PHYS_PAGES))) * Double(sysconf(Int32(_SC_PAGESIZE)))
    if have > 0 && need > have {
      throw .invalidOption(
        name: "model size", value: "\(layers)×\(hiddenSize) with B \(batch) × T \(seqLength)",
        expected: "a run that fits in memory (needs about \(Int(need / 1e9)) GB, this machine has \(Int(have / 1e9)) GB); use smaller --hidden, --layers, --batch or --seq")
    }
  }
}
