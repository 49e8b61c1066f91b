// A model's vocabulary grown for fine-tuning: new rows in the embedding and the head, every
// other weight kept. Shapes legend in Config.swift.

import CharLSTMKernels

extension CharModel {
  /// This model with its vocabulary grown from V to `vocabSize` V′ (and dropout set to
  /// `dropout`), for fine-tuning on a text with characters it lacks.
  ///
  /// Rows 0..<V of `embedding.weight` [V′, E], `head.weight` [V′, H] and `head.bias` [V′] and every
  /// LSTM weight are this model's, bit for bit; rows V..<V′ are those a fresh model of the grown
  /// shape would have when initialized from `generator` (``init(config:generator:forgetBias:)``):
  /// embedding rows ~ N(0, 1), head rows ~ U(−1/√H, 1/√H).
  /// - Parameters:
  ///   - vocabSize: V′ ≥ V (precondition).
  ///   - dropout: the grown model's dropout probability, in [0, 1) (precondition).
  ///   - generator: initializes the fresh model the new rows come from.
  /// - Returns: a new model; this one is unchanged.
  /// - Complexity: O(parameters) time and memory (a fresh model's parameters are drawn once).
  public func growingVocabulary(to vocabSize: Int, dropout: Double, generator: inout SeededGenerator) -> CharModel<S> {
    let V = config.vocabSize
    precondition(vocabSize >= V, "a vocabulary can only grow: \(V) → \(vocabSize)")
    var grown = config
    grown.vocabSize = vocabSize
    grown.dropout = dropout
    var values = Self.initialParameters(config: grown, generator: &generator, forgetBias: 1)
    let old = slots
    for slot in grown.slots {
      let from = old.first { $0.name == slot.name }!
      // Row-major with the vocabulary first (embedding, head weight, head bias) or no vocabulary
      // dimension at all (LSTM): the old tensor is a prefix of the new one either way.
      values.replaceSubrange(slot.offset..<(slot.offset + from.count), with: parameters[from.range])
    }
    return CharModel<S>(config: grown, parameters: values)
  }
}
