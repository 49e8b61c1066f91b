import Foundation

/// A model with its tokenizer and, for a training run, everything needed to resume it exactly.
///
/// Stored as one `.safetensors` file: the weights under PyTorch's state-dict names and shapes
/// (`embedding.weight`, `lstm.weight_ih_l0`, …, `head.bias`; float32, gates i, f, g, o), the
/// optimizer moments under `optimizer.first.NAME` / `optimizer.second.NAME`, the carried state
/// as `state.h` and `state.c` [L, B, H], for a run that averages its weights the trained
/// weights under `training.NAME` (the plain names then hold the average), and in `__metadata__` the format name and version and
/// JSON for the model, tokenizer, training configuration, training state, corpus and, for a
/// fine-tuned run, its origin.
public struct Checkpoint: Sendable {
  /// The newest file format version this build writes and reads. Version 2 adds the end-of-text
  /// symbol to the vocabulary (a model trained on documents); version 3 the trained weights of a
  /// run that averages them (``trainingParameters``), so an older build refuses such a file
  /// rather than resume it from the average. Every checkpoint is written as the oldest version
  /// that holds it, so builds before these features read the rest.
  public static let formatVersion = 3
  /// The oldest version this build reads.
  public static let oldestFormatVersion = 1
  static let formatName = "charlstm-checkpoint"
  /// Prefix of the trained weights' tensors in a run that averages its weights.
  static let trainingPrefix = "training."

  /// The version this checkpoint is written as: 3 when it holds trained weights beside averaged
  /// ones, else 2 when its vocabulary has the end-of-text symbol, else 1.
  public var writtenFormatVersion: Int { trainingParameters != nil ? 3 : tokenizer.endOfTextID == nil ? 1 : 2 }

  /// The network's shape: vocabulary, embedding and hidden widths, layers, dropout.
  public var model: ModelConfig
  /// The tokenizer the model was trained with: its vocabulary and text options.
  public var tokenizer: Tokenizer
  /// All weights of the model, flat in `model.slots` layout: what `generate`, `eval`, `serve`
  /// and `--init-from` use. For a run that averages its weights (``TrainingConfig/emaDecay``),
  /// the average; the weights it trains are ``trainingParameters``.
  public var parameters: [Float]
  /// The weights the optimizer moves, when they are not ``parameters`` (a run that averages its
  /// weights); nil otherwise. A resumed run continues from them.
  public var trainingParameters: [Float]?
  /// Training configuration, state, optimizer and carried state: nil for weights only.
  public var training: TrainingConfig?
  /// Where the run is: step, epoch, data position, generators, best validation (nil: weights only).
  public var state: TrainingState?
  /// The optimizer's moments (nil: weights only).
  public var optimizer: OptimizerState?
  /// The LSTM state carried between training windows, [L, B, H] (nil: weights only).
  public var hidden: LSTMState<Float>?
  /// Which text the run was trained on, so a resume can check it (nil: unknown).
  public var corpus: CorpusInfo?
  /// The checkpoint a fine-tuned run started from (`charlstm train --init-from`); nil for a run
  /// that started from a fresh model.
  public var origin: CheckpointOrigin?

  /// A checkpoint from its parts; only `model`, `tokenizer` and `parameters` are needed to generate.
  public init(
    model: ModelConfig, tokenizer: Tokenizer, parameters: [Float], training: TrainingConfig? = nil,
    state: TrainingState? = nil, optimizer: OptimizerState? = nil, hidden: LSTMState<Float>? = nil,
    corpus: CorpusInfo? = nil, origin: CheckpointOrigin? = nil, trainingParameters: [Float]? = nil
  ) {
    precondition(trainingParameters == nil || trainingParameters?.count == parameters.count, "training weights [\(trainingParameters?.count ?? 0)] and weights [\(parameters.count)] differ")
    self.model = model
    self.tokenizer = tokenizer
    self.parameters = parameters
    self.training = training
    self.state = state
    self.optimizer = optimizer
    self.hidden = hidden
    self.corpus = corpus
    self.origin = origin
    self.trainingParameters = trainingParameters
  }

  /// A fingerprint of the weights: FNV-1a 64 over the little-endian bytes of every parameter in
  /// ``ModelConfig/slots`` order (the bytes of the weight tensors, one after another), as
  /// `fnv1a64:` and 16 hex digits. A fine-tuned run records its parent's.
  public var weightsHash: String { CheckpointOrigin.weightsHash(parameters) }

  /// The serialized file.
  public func serialized() throws -> SafeTensorsWriter {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    func json<T: Encodable>(_ v: T) throws -> String { String(decoding: try encoder.encode(v), as: UTF8.self) }
    var w = SafeTensorsWriter()
    w.metadata["format"] = Self.formatName
    w.metadata["format_version"] = String(writtenFormatVersion)
    w.metadata["model"] = try json(model)
    w.metadata["tokenizer"] = try json(TokenizerRecord(tokenizer))
    if let training { w.metadata["training"] = try json(training) }
    if let state { w.metadata["state"] = try json(state) }
    if let corpus { w.metadata["corpus"] = try json(corpus) }
    if let origin { w.metadata["origin"] = try json(origin) }
    let slots = model.slots
    parameters.withUnsafeBufferPointer { p in
      for s in slots { w.add(s.name, floats: UnsafeBufferPointer(rebasing: p[s.range]), shape: s.shape) }
    }
    if let trainingParameters {
      trainingParameters.withUnsafeBufferPointer { v in
        for s in slots { w.add(Self.trainingPrefix + s.name, floats: UnsafeBufferPointer(rebasing: v[s.range]), shape: s.shape) }
      }
    }
    if let optimizer {
      w.metadata["optimizer"] = try json(OptimizerRecord(kind: optimizer.kind, step: optimizer.step))
      for (prefix, values) in [("optimizer.first.", optimizer.first), ("optimizer.second.", optimizer.second)] where !values.isEmpty {
        values.withUnsafeBufferPointer { v in
          for s in slots { w.add(prefix + s.name, floats: UnsafeBufferPointer(rebasing: v[s.range]), shape: s.shape) }
        }
      }
    }
    if let hidden {
      let shape = [hidden.layers, hidden.batch, hidden.hidden]
      w.add("state.h", floats: hidden.h, shape: shape)
      w.add("state.c", floats: hidden.c, shape: shape)
    }
    return w
  }

  /// The first tensor holding a NaN or ±inf (weights, optimizer moments, carried state), with
  /// the index of the value inside it; nil when everything is finite.
  public func firstNonFiniteTensor() -> (name: String, index: Int)? {
    if let bad = model.firstNonFiniteTensor(parameters) { return bad }
    if let t = trainingParameters, let bad = model.firstNonFiniteTensor(t, prefix: Self.trainingPrefix) { return bad }
    if let o = optimizer {
      if let bad = model.firstNonFiniteTensor(o.first, prefix: "optimizer.first.") { return bad }
      if let bad = model.firstNonFiniteTensor(o.second, prefix: "optimizer.second.") { return bad }
    }
    if let hidden {
      for (name, values) in [("state.h", hidden.h), ("state.c", hidden.c)] {
        if let i = values.withUnsafeBufferPointer(firstNonFinite) { return (name, i) }
      }
    }
    return nil
  }

  /// Writes the checkpoint atomically: a crash while saving leaves the previous file whole.
  /// - Throws: ``CheckpointError/nonFinite(path:tensor:index:)`` (nothing written) when a
  ///   tensor holds NaN or ±inf: a broken model is never saved.
  public func write(to path: String) throws(CheckpointError) {
    if let (name, index) = firstNonFiniteTensor() { throw .nonFinite(path: path, tensor: name, index: index) }
    let writer: SafeTensorsWriter
    do { writer = try serialized() } catch { throw .invalid(path: path, detail: "cannot encode metadata: \(error)") }
    do { try writer.write(to: path) } catch { throw .file(error) }
  }

  /// Loads and checks a checkpoint: every tensor's name, dtype and shape against the metadata.
  /// - Throws: ``CheckpointError`` naming the file and what did not match.
  public static func load(from path: String) throws(CheckpointError) -> Checkpoint {
    let file: SafeTensorsFile
    do { file = try SafeTensorsFile.load(contentsOf: path) } catch { throw .file(error) }
    return try decode(file)
  }

  /// Decodes an already parsed file (also used by the fuzz tests).
  public static func decode(_ file: SafeTensorsFile) throws(CheckpointError) -> Checkpoint {
    let path = file.path
    let meta = file.metadata
    guard meta["format"] == formatName else {
      throw .notACheckpoint(path: path)
    }
    guard let v = meta["format_version"], let version = Int(v) else {
      throw .invalid(path: path, detail: "format_version is missing or not an integer")
    }
    guard (oldestFormatVersion...formatVersion).contains(version) else { throw .unsupportedVersion(path: path, found: version) }

    let model: ModelConfig = try field(meta, "model", path)
    do { try model.validate() } catch { throw .invalid(path: path, detail: "model: \(error)") }
    guard model.sizeBeyondLimit == nil else {
      throw .invalid(path: path, detail: "model sizes out of range: \(model)")
    }
    let record: TokenizerRecord = try field(meta, "tokenizer", path)
    let tokenizer = try record.tokenizer(path: path, vocabSize: model.vocabSize)
    guard version >= 2 || tokenizer.endOfTextID == nil else {
      throw .invalid(path: path, detail: "format version \(version) cannot hold an end-of-text symbol")
    }

    // Check every tensor's dtype and shape against the metadata before allocating anything
    // sized by the metadata: a hostile header cannot make us allocate more than the file holds.
    let slots = model.slots
    func checkShapes(prefix: String) throws(CheckpointError) {
      for s in slots {
        do { _ = try file.checkedInfo(prefix + s.name, dtype: .f32, shape: s.shape) } catch { throw .file(error) }
      }
    }
    try checkShapes(prefix: "")
    var parameters = [Float](repeating: 0, count: model.parameterCount)
    func readSlots(prefix: String, into values: inout [Float]) throws(CheckpointError) {
      for s in slots {
        let data: [Float]
        do { data = try file.floats(prefix + s.name, shape: s.shape) } catch { throw .file(error) }
        values.replaceSubrange(s.range, with: data)
      }
    }
    try readSlots(prefix: "", into: &parameters)
    var ckpt = Checkpoint(model: model, tokenizer: tokenizer, parameters: parameters)

    if meta["training"] != nil || meta["state"] != nil {
      let training: TrainingConfig = try field(meta, "training", path)
      do { try training.validate() } catch { throw .invalid(path: path, detail: "training: \(error)") }
      let state: TrainingState = try field(meta, "state", path)
      guard state.step >= 0, state.window >= 0, state.epochOffset >= 0, state.epochOffset < max(1, training.seqLength),
        state.dataGenerator.generator != nil, state.dropoutGenerator.generator != nil
      else { throw .invalid(path: path, detail: "state: positions or generator states out of range") }
      let opt: OptimizerRecord = try field(meta, "optimizer", path)
      guard opt.step >= 0 else { throw .invalid(path: path, detail: "optimizer step \(opt.step) is negative") }
      let averaging = training.emaDecay.flatMap(WeightAverage.init) != nil
      guard version >= 3 || !averaging else {
        throw .invalid(path: path, detail: "format version \(version) cannot hold a weight average")
      }
      if averaging { try checkShapes(prefix: trainingPrefix) }
      if opt.kind != .rmsprop { try checkShapes(prefix: "optimizer.first.") }
      if opt.kind != .sgd { try checkShapes(prefix: "optimizer.second.") }
      let shape = [model.layers, training.batch, model.hiddenSize]
      for name in ["state.h", "state.c"] {
        do { _ = try file.checkedInfo(name, dtype: .f32, shape: shape) } catch { throw .file(error) }
      }
      if averaging {
        var trained = [Float](repeating: 0, count: model.parameterCount)
        try readSlots(prefix: trainingPrefix, into: &trained)
        ckpt.trainingParameters = trained
      }
      var optimizer = OptimizerState(kind: opt.kind, count: parameters.count)
      optimizer.step = opt.step
      if !optimizer.first.isEmpty { try readSlots(prefix: "optimizer.first.", into: &optimizer.first) }
      if !optimizer.second.isEmpty { try readSlots(prefix: "optimizer.second.", into: &optimizer.second) }
      var hidden = LSTMState<Float>.zeros(for: model, batch: training.batch)
      do {
        hidden.h = try file.floats("state.h", shape: shape)
        hidden.c = try file.floats("state.c", shape: shape)
      } catch { throw .file(error) }
      ckpt.training = training
      ckpt.state = state
      ckpt.optimizer = optimizer
      ckpt.hidden = hidden
      if meta["corpus"] != nil { ckpt.corpus = try field(meta, "corpus", path) as CorpusInfo }
    }
    if meta["origin"] != nil { ckpt.origin = try field(meta, "origin", path) as CheckpointOrigin }
    if let (name, index) = ckpt.firstNonFiniteTensor() { throw .nonFinite(path: path, tensor: name, index: index) }
    return ckpt
  }

  private static func field<T: Decodable>(_ meta: [String: String], _ key: String, _ path: String) throws(CheckpointError) -> T {
    guard let text = meta[key] else { throw .invalid(path: path, detail: "metadata field '\(key)' is missing") }
    // The header's rules hold inside it too: JSONDecoder alone silently takes one of two keys.
    if let problem = StrictJSON.problem(in: text) {
      throw .invalid(path: path, detail: "metadata field '\(key)' is malformed: \(problem)")
    }
    do {
      return try JSONDecoder().decode(T.self, from: Data(text.utf8))
    } catch {
      throw .invalid(path: path, detail: "metadata field '\(key)' is malformed")
    }
  }

  /// A model with these weights.
  public func makeModel() -> CharModel<Float> {
    CharModel<Float>(config: model, parameters: parameters)
  }
}

/// The tokenizer as stored in a checkpoint.
struct TokenizerRecord: Codable {
  var options: TokenizerOptions
  var symbols: [String]
  var counts: [Int]
  var unknownIndex: Int?
  /// Absent (nil) in checkpoints of stream runs and in every version-1 file.
  var endOfTextIndex: Int?

  init(_ t: Tokenizer) {
    options = t.options
    symbols = t.vocabulary.symbols
    counts = t.vocabulary.counts
    unknownIndex = t.vocabulary.unknownIndex
    endOfTextIndex = t.vocabulary.endOfTextIndex
  }

  func tokenizer(path: String, vocabSize: Int) throws(CheckpointError) -> Tokenizer {
    guard symbols.count == vocabSize, counts.count == vocabSize else {
      throw .invalid(path: path, detail: "the vocabulary has \(symbols.count) symbols and \(counts.count) counts but the model expects \(vocabSize)")
    }
    if let u = unknownIndex, !(0..<vocabSize).contains(u) {
      throw .invalid(path: path, detail: "unknown index \(u) is outside the vocabulary")
    }
    if let e = endOfTextIndex {
      guard (0..<vocabSize).contains(e), e != unknownIndex, symbols[e] == Vocabulary.endOfTextSymbol else {
        throw .invalid(path: path, detail: "end-of-text index \(e) does not name the symbol \(Vocabulary.endOfTextSymbol)")
      }
    }
    func reserved(_ i: Int) -> Bool { i == unknownIndex || i == endOfTextIndex }
    do { try options.validate() } catch { throw .invalid(path: path, detail: "tokenizer: \(error)") }
    if let i = counts.firstIndex(where: { $0 < 0 }) {
      throw .invalid(path: path, detail: "vocabulary count \(i) is negative (\(counts[i]))")
    }
    var seen = Set<[UInt16]>()
    for (i, s) in symbols.enumerated() where !reserved(i) {
      guard !s.isEmpty, seen.insert(Array(s.utf16)).inserted else {
        throw .invalid(path: path, detail: "vocabulary symbol \(i) is empty or repeated")
      }
    }
    let tokenizer = Tokenizer(options: options, vocabulary: Vocabulary(symbols: symbols, counts: counts, unknownIndex: unknownIndex, endOfTextIndex: endOfTextIndex))
    // Each symbol is one character as the tokenizer sees it: one normalized grapheme cluster
    // that encodes to its own id (a two-character entry could never be produced, nor decoded
    // back to the text that made it).
    for (i, s) in symbols.enumerated() where !reserved(i) {
      guard (try? tokenizer.encode(s, unknown: .error)) == [Int32(i)] else {
        throw .invalid(path: path, detail: "vocabulary symbol \(i) (\(s.unicodeScalars.map { "U+" + String($0.value, radix: 16, uppercase: true) }.prefix(8).joined(separator: " "))) is not one normalized character")
      }
    }
    return tokenizer
  }
}

struct OptimizerRecord: Codable {
  var kind: OptimizerKind
  var step: Int
}

/// Why a checkpoint could not be read or written. One line, naming the file, with a fix.
public enum CheckpointError: Error, CustomStringConvertible, Sendable {
  /// The file itself is unreadable or malformed (see the wrapped error).
  case file(SafeTensorsError)
  /// A valid safetensors file that charlstm did not write.
  case notACheckpoint(path: String)
  /// Written by a different format version.
  case unsupportedVersion(path: String, found: Int)
  /// The metadata or tensors do not fit together.
  case invalid(path: String, detail: String)
  /// A tensor holds NaN or ±inf (at flat index `index`): the model is broken.
  case nonFinite(path: String, tensor: String, index: Int)

  /// One line naming the file and what to do.
  public var description: String {
    switch self {
    case .file(let e): return e.description
    case .notACheckpoint(let path):
      return "\(path): a safetensors file but not a charlstm checkpoint (no format metadata); pass a file written by 'charlstm train'"
    case .unsupportedVersion(let path, let found):
      return "\(path): checkpoint format version \(found), this charlstm reads versions \(Checkpoint.oldestFormatVersion) to \(Checkpoint.formatVersion); use the charlstm version that wrote it"
    case .nonFinite(let path, let tensor, let index):
      return "\(path): tensor \(tensor) holds a non-finite value (NaN or ±inf, at index \(index)); the model diverged — use an earlier checkpoint (e.g. the .best one) or retrain with a lower learning rate"
    case .invalid(let path, let detail):
      return "\(path): not a valid charlstm checkpoint (\(detail)); it may be damaged: use another checkpoint (e.g. the .best one) or retrain"
    }
  }
}
