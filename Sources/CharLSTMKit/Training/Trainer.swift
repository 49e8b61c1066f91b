#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif
import Synchronization

/// What a training run reports as it goes.
public enum TrainingEvent: Sendable {
  /// One optimizer step.
  case step(StepRecord)
  /// A validation pass over the whole held-out split: `loss` is that of the weights the
  /// checkpoints give users (the weight average when the run keeps one, which also picks the
  /// best checkpoint); `trainedLoss` that of the weights the optimizer moves, when they differ
  /// (nil: no average).
  case validation(step: Int, loss: Double, best: Double, improved: Bool, trainedLoss: Double? = nil)
  /// A checkpoint was written (`best`: the best-validation copy).
  case checkpoint(path: String, step: Int, best: Bool)
  /// A short generated sample (`--sample-every`).
  case sample(step: Int, text: String)
}

/// One optimizer step's figures.
public struct StepRecord: Sendable, Codable {
  /// Optimizer steps done, this one included (1-based).
  public var step: Int
  /// Steps the run will take in total (``TrainingConfig/steps``).
  public var totalSteps: Int
  /// Pass over the training text this step belongs to (1-based).
  public var epoch: Int
  /// Mean cross-entropy of the window, nats per character.
  public var loss: Double
  /// Learning rate used for this step (after schedule and warm-up).
  public var learningRate: Double
  /// Global gradient norm before clipping.
  public var gradientNorm: Double
  /// Wall-clock time of this step: forward, backward, clipping and update.
  public var milliseconds: Double
  /// Characters trained on per second in this step (B × T / step time).
  public var charsPerSecond: Double
  /// Training seconds over all sessions of the run.
  public var elapsedSeconds: Double
  /// Time of this step spent summing over processes (0 for one process): the gradient
  /// all-reduce and the loss sum.
  public var reduceMilliseconds: Double = 0
}

/// Why a run ended.
public enum StopReason: String, Sendable {
  /// `completed`: all steps done; `earlyStopped`: patience ran out; `interrupted`: a stop was requested.
  case completed, earlyStopped = "early-stopped", interrupted
}

/// Truncated backpropagation through time over B contiguous streams, with validation,
/// checkpoints, clipping and an optimizer; one seed makes a run reproducible bit for bit.
///
/// The training text is cut into B contiguous streams read in windows of T steps. The LSTM
/// state is carried from window to window (gradients stop at the window edge) and reset when
/// an epoch starts; each epoch starts at an offset in [0, T) drawn from the seeded data
/// generator, so windows do not always break text at the same places.
public final class Trainer {
  /// How the run trains: batch, window, optimizer, schedule, validation, checkpoints.
  public let config: TrainingConfig
  /// The model being trained (its weights change as the run goes). With a weight average its
  /// ``CharModel/parameters`` are the weights the optimizer moves; see ``averagedParameters``.
  public let model: CharModel<Float>
  /// The tokenizer of the training text; saved in every checkpoint.
  public let tokenizer: Tokenizer
  /// The optimizer's moments.
  public private(set) var optimizer: OptimizerState
  /// Where the run is: step, epoch, data position, best validation loss, training time.
  public private(set) var state: TrainingState
  /// The state carried between windows. (h, c) [L, B, H]; for a run spread over processes,
  /// [L, B_shard, H] of this process's ``shard``.
  public private(set) var hidden: LSTMState<Float>
  /// The processes the run is spread over: one unless ``distribute(over:)`` was called.
  public private(set) var collective: any Collective = SingleProcess()
  /// The streams of the batch this process trains: all B unless ``distribute(over:)`` was called.
  public private(set) var shard: StreamShard
  /// Which text the run trains on (saved so a resume can check it).
  public let corpus: CorpusInfo?
  /// The checkpoint a fine-tuned run started from (nil: a fresh model); saved in its checkpoints.
  public private(set) var origin: CheckpointOrigin?
  /// Where checkpoints go (nil: nowhere), and the best-validation copy beside it.
  public let checkpointPath: String?
  /// The numerics of the run's matrix products (``TrainingConfig/precision``, fp32 when unset).
  public var precision: Kernels.Precision { config.precision ?? .fp32 }
  /// The kernel path the run's products run on (``TrainingConfig/kernelPath``).
  public let kernelPath: Kernels.ISA
  /// The path a resumed run's checkpoint recorded when this CPU lacks it (the run goes on, on
  /// ``kernelPath``, no longer bit for bit with an uninterrupted run); nil otherwise.
  public let kernelPathChanged: String?
  /// Where the best-validation checkpoint goes (nil when checkpoints are off).
  public var bestCheckpointPath: String? { checkpointPath.map(Self.bestPath(for:)) }

  private let train: TokenSlice
  private let validation: TokenSlice
  private var dataGenerator: SeededGenerator
  private var dropoutGenerator: SeededGenerator
  /// Set from another thread or a signal handler to stop after the current step.
  public let stopFlag = StopFlag()
  /// Whether the checkpoint at ``checkpointPath`` is this run's (written by it, or the one it
  /// resumed): the file a divergence names as the last good one.
  private var ownsCheckpoint = false
  /// Whether this run wrote its best-validation copy (named when no checkpoint was saved yet).
  private var wroteBest = false
  /// The window's training-only regularizers (``TrainingConfig/regularization``).
  private let regularization: Regularization
  /// Decoupled weight decay on the weight matrices and the embedding (nil: off or λ = 0).
  private let weightDecay: WeightDecay?
  /// Random zeroing of streams' carried state at window starts (nil: off or P = 0).
  private let stateReset: StateReset?
  /// The moving average of the weights (nil: off or D = 0).
  private let weightAverage: WeightAverage?
  /// The averaged weights [P] (nil when ``weightAverage`` is).
  public private(set) var averagedParameters: [Float]?
  /// Window buffers, time-major [T·B].
  private var inputs: [Int32]
  private var targets: [Int32]

  /// The best-validation checkpoint's path: `name.safetensors` → `name.best.safetensors`.
  public static func bestPath(for path: String) -> String {
    path.hasSuffix(".safetensors") ? String(path.dropLast(12)) + ".best.safetensors" : path + ".best"
  }

  /// A new run: a freshly initialized model.
  /// - Throws: ``TrainingError`` for options out of range or a corpus shorter than one window.
  public convenience init(
    model modelConfig: ModelConfig, config: TrainingConfig, tokenizer: Tokenizer,
    training: TokenSlice, validation: TokenSlice, corpus: CorpusInfo?, checkpointPath: String?
  ) throws(TrainingError) {
    try config.validate()
    try modelConfig.checkTrainable(batch: config.batch, seqLength: config.seqLength)
    var initGenerator = SeededGenerator(seed: config.seed)
    let model = CharModel<Float>(config: modelConfig, generator: &initGenerator, forgetBias: config.forgetBias ?? 1)
    try self.init(
      model: model, config: config, tokenizer: tokenizer, training: training, validation: validation, corpus: corpus,
      checkpointPath: checkpointPath, optimizer: OptimizerState(kind: config.optimizer, count: modelConfig.parameterCount),
      state: TrainingState(seed: config.seed), hidden: LSTMState.zeros(for: modelConfig, batch: config.batch), average: nil)
  }

  /// A resumed run: weights, moments, carried state, position and generators from `checkpoint`;
  /// `config` may differ from the checkpoint's only in options that change neither model nor data.
  public convenience init(
    resuming checkpoint: Checkpoint, config: TrainingConfig, training: TokenSlice,
    validation: TokenSlice, checkpointPath: String?
  ) throws(TrainingError) {
    guard let state = checkpoint.state, let optimizer = checkpoint.optimizer, let hidden = checkpoint.hidden else {
      throw .notResumable(checkpoint: checkpointPath)
    }
    guard (config.precision ?? .fp32) == (checkpoint.training?.precision ?? .fp32) else {
      throw .precisionChanged(checkpoint: (checkpoint.training?.precision ?? .fp32).rawValue, now: (config.precision ?? .fp32).rawValue)
    }
    guard config.steps >= state.step else {
      throw .stepsBelowCheckpoint(steps: config.steps, checkpointStep: state.step)
    }
    guard (config.ranks ?? 1) == (checkpoint.training?.ranks ?? 1) else {
      throw .ranksChanged(checkpoint: checkpoint.training?.ranks ?? 1, now: config.ranks ?? 1)
    }
    // The carried state holds B streams and the position counts windows of B × T.
    let savedBatch = hidden.batch, savedSeq = checkpoint.training?.seqLength ?? config.seqLength
    guard config.batch == savedBatch, config.seqLength == savedSeq else {
      throw .layoutChanged(checkpointBatch: savedBatch, checkpointSeqLength: savedSeq, batch: config.batch, seqLength: config.seqLength)
    }
    // The checkpoint's model tensors are the average when the run keeps one; the weights it
    // trains are beside them.
    let (thenAverage, nowAverage) = (checkpoint.training?.emaDecay.flatMap(WeightAverage.init), config.emaDecay.flatMap(WeightAverage.init))
    guard thenAverage == nowAverage else { throw .averagingChanged(checkpoint: thenAverage?.decay, now: nowAverage?.decay) }
    guard (nowAverage != nil) == (checkpoint.trainingParameters != nil) else { throw .notResumable(checkpoint: checkpointPath) }
    let trained = CharModel<Float>(config: checkpoint.model, parameters: checkpoint.trainingParameters ?? checkpoint.parameters)
    // The run goes on on the path it ran on (where this CPU has it).
    var config = config
    config.kernelPath = checkpoint.training?.kernelPath
    try self.init(
      model: trained, config: config, tokenizer: checkpoint.tokenizer, training: training,
      validation: validation, corpus: checkpoint.corpus, checkpointPath: checkpointPath, optimizer: optimizer, state: state,
      hidden: hidden, average: nowAverage != nil ? checkpoint.parameters : nil)
    ownsCheckpoint = checkpointPath != nil
    origin = checkpoint.origin
  }

  /// A new run (step 0, fresh optimizer and state, generators from `config.seed`) that starts
  /// from an existing model's weights, e.g. a fine-tuning run (see ``FineTuning``).
  /// - Parameters:
  ///   - model: trained in place; its vocabulary must be `tokenizer`'s.
  ///   - origin: where the weights came from, recorded in every checkpoint of the run.
  /// - Throws: ``TrainingError`` for options out of range, a model and tokenizer of different
  ///   vocabulary sizes, or a corpus shorter than one window.
  public convenience init(
    startingFrom model: CharModel<Float>, config: TrainingConfig, tokenizer: Tokenizer, training: TokenSlice,
    validation: TokenSlice, corpus: CorpusInfo?, checkpointPath: String?, origin: CheckpointOrigin? = nil
  ) throws(TrainingError) {
    try config.validate()
    let m = model.config
    guard m.vocabSize == tokenizer.vocabulary.count else {
      throw .vocabularyMismatch(model: m.vocabSize, tokenizer: tokenizer.vocabulary.count)
    }
    try m.checkTrainable(batch: config.batch, seqLength: config.seqLength)
    try self.init(
      model: model, config: config, tokenizer: tokenizer, training: training, validation: validation, corpus: corpus,
      checkpointPath: checkpointPath, optimizer: OptimizerState(kind: config.optimizer, count: m.parameterCount),
      state: TrainingState(seed: config.seed), hidden: LSTMState.zeros(for: m, batch: config.batch), average: nil)
    self.origin = origin
  }

  private init(
    model: CharModel<Float>, config: TrainingConfig, tokenizer: Tokenizer, training: TokenSlice,
    validation: TokenSlice, corpus: CorpusInfo?, checkpointPath: String?, optimizer: OptimizerState,
    state: TrainingState, hidden: LSTMState<Float>, average: [Float]?
  ) throws(TrainingError) {
    try config.validate()
    let needed = config.batch * config.seqLength + 1
    guard training.count >= needed else {
      throw .corpusTooShort(characters: training.count, needed: needed, batch: config.batch, seqLength: config.seqLength)
    }
    // The recorded path where this CPU has it, else this thread's.
    let recorded = config.kernelPath.flatMap(Kernels.ISA.init(name:)).flatMap { $0.isSupported ? $0 : nil }
    self.kernelPath = recorded ?? Kernels.isa
    self.kernelPathChanged = recorded == nil ? config.kernelPath : nil
    var config = config
    config.kernelPath = kernelPath.name
    self.config = config
    self.model = model
    self.tokenizer = tokenizer
    self.train = training
    self.validation = validation
    self.corpus = corpus
    self.checkpointPath = checkpointPath
    self.optimizer = optimizer
    self.state = state
    self.hidden = hidden
    dataGenerator = state.dataGenerator.generator ?? SeededGenerator(seed: config.seed)
    dropoutGenerator = state.dropoutGenerator.generator ?? SeededGenerator(seed: config.seed)
    inputs = [Int32](repeating: 0, count: config.batch * config.seqLength)
    targets = inputs
    shard = .whole(config.batch)
    regularization = config.regularization
    weightDecay = config.weightDecay.flatMap { $0 > 0 ? WeightDecay(rate: $0, model: model.config) : nil }
    stateReset = config.stateReset.flatMap { StateReset(probability: $0, seed: config.seed) }
    weightAverage = config.emaDecay.flatMap(WeightAverage.init)
    // A new run's average starts from its initial weights.
    averagedParameters = weightAverage != nil ? (average ?? model.parameters) : nil
  }

  /// Spreads the run over `collective`'s processes (data parallelism): this process trains
  /// streams [r·B/N, (r+1)·B/N) of the batch a single process would train, with the same
  /// windows and dropout masks; each step the gradients are summed over the processes, then
  /// every process clips and updates identically. Validation is split and summed the same
  /// way; checkpoints gather the whole batch's carried state (only write them on one process).
  ///
  /// Call once, on every process, before ``run(onEvent:)``, with the same configuration and
  /// data on each (check with ``fingerprint`` and ``Collective/agreeing(_:fingerprint:describe:)``).
  /// - Throws: ``TrainingError/ranksChanged(checkpoint:now:)`` when ``TrainingConfig/ranks``
  ///   is not `collective.size`, ``TrainingError/tooManyProcesses(processes:batch:)`` when
  ///   there are more processes than streams.
  public func distribute(over collective: any Collective) throws(TrainingError) {
    precondition(shard.count == shard.total && self.collective.size == 1, "distribute(over:) is called once")
    guard (config.ranks ?? 1) == collective.size else {
      throw .ranksChanged(checkpoint: config.ranks ?? 1, now: collective.size)
    }
    guard collective.size <= config.batch else {
      throw .tooManyProcesses(processes: collective.size, batch: config.batch)
    }
    let part = collective.shard(of: config.batch)
    hidden = hidden.streams(part.range)
    inputs = [Int32](repeating: 0, count: part.count * config.seqLength)
    targets = inputs
    shard = part
    self.collective = collective
  }

  /// Windows in an epoch that starts `offset` characters in.
  private func windowsPerEpoch(offset: Int) -> Int {
    ((train.count - 1 - offset) / config.batch) / config.seqLength
  }

  /// Runs until ``TrainingConfig/steps`` steps are done, patience runs out, or a stop is
  /// requested; then validates and writes the final checkpoint.
  /// - Throws: ``TrainingError/diverged(step:loss:norm:checkpoint:)`` on a non-finite loss or
  ///   gradient, ``TrainingError/nonFiniteUpdate(step:tensor:checkpoint:)`` when an update makes
  ///   a weight or moment non-finite, ``TrainingError/nonFiniteValidation(step:loss:checkpoint:)``
  ///   (nothing is saved over the last good checkpoint in each case), or a checkpoint write error.
  @discardableResult
  public func run(onEvent: (TrainingEvent) -> Void = { _ in }) throws -> StopReason {
    guard (config.ranks ?? 1) == collective.size else {
      throw TrainingError.ranksChanged(checkpoint: config.ranks ?? 1, now: collective.size)
    }
    var reason = StopReason.completed
    var validatedAt = -1
    var savedAt = -1
    while state.step < config.steps {
      // Every process stops at the same step when any of them was asked to.
      if try collective.any(stopFlag.isSet) {
        reason = .interrupted
        break
      }
      let t0 = ProcessMetrics.monotonicSeconds()
      nextWindow()
      model.zeroGradients()
      var loss = Kernels.with(kernelPath, precision) {
        inputs.withUnsafeBufferPointer { x in
          targets.withUnsafeBufferPointer { y in
            model.trainWindow(
              inputs: x, targets: y, batch: shard.count, steps: config.seqLength, state: &hidden,
              dropoutGenerator: &dropoutGenerator, shard: shard, regularization: regularization)
          }
        }
      }
      // Each process's loss and gradient are its streams' share of the whole batch's mean:
      // their sums are the whole batch's (one all-reduce over the flat gradient vector).
      let r0 = ProcessMetrics.monotonicSeconds()
      try model.gradients.withUnsafeMutableBufferPointer { try collective.sum($0) }
      var losses = [loss]
      try collective.sum(&losses)
      loss = losses[0]
      let reduceSeconds = collective.size > 1 ? ProcessMetrics.monotonicSeconds() - r0 : 0
      let norm = model.gradients.withUnsafeMutableBufferPointer { g in
        let norm = GradientClipping.clipGlobalNorm(g, maxNorm: config.clipNorm)
        if let v = config.clipValue { GradientClipping.clipValue(g, v) }
        return norm
      }
      guard loss.isFinite, norm.isFinite else {
        throw TrainingError.diverged(step: state.step + 1, loss: loss, norm: norm, checkpoint: lastGoodCheckpoint())
      }
      let lr = config.learningRate(atStep: state.step + 1)
      model.parameters.withUnsafeMutableBufferPointer { p in
        model.gradients.withUnsafeBufferPointer { g in
          optimizer.update(params: p, grads: g, lr: lr, momentum: config.momentum, weightDecay: weightDecay)
        }
      }
      // A finite gradient can still make a weight or a moment overflow (a huge --lr): never go
      // on from, or save, a non-finite model.
      if let bad = nonFiniteTensor() {
        throw TrainingError.nonFiniteUpdate(step: state.step + 1, tensor: bad, checkpoint: lastGoodCheckpoint())
      }
      state.step += 1
      if let weightAverage { updateAverage(weightAverage) }
      let seconds = ProcessMetrics.monotonicSeconds() - t0
      state.elapsedSeconds += seconds
      onEvent(.step(StepRecord(
        step: state.step, totalSteps: config.steps, epoch: state.epoch, loss: loss, learningRate: lr,
        gradientNorm: norm, milliseconds: seconds * 1000,
        charsPerSecond: Double(config.batch * config.seqLength) / seconds, elapsedSeconds: state.elapsedSeconds,
        reduceMilliseconds: reduceSeconds * 1000)))

      if config.evalEvery > 0 && state.step % config.evalEvery == 0 {
        validatedAt = state.step
        if try validate(onEvent) { reason = .earlyStopped; break }
      }
      if config.sampleEvery > 0 && state.step % config.sampleEvery == 0 {
        onEvent(.sample(step: state.step, text: sample(length: 200)))
      }
      if config.checkpointEvery > 0 && state.step % config.checkpointEvery == 0 {
        try save(onEvent)
        savedAt = state.step
      }
    }
    if validatedAt != state.step && state.step > 0 { _ = try validate(onEvent) }
    if savedAt != state.step || state.step == 0 { try save(onEvent) }
    return reason
  }

  /// Fills `inputs`/`targets` with the next window of this process's streams, starting a new
  /// epoch when one is used up, and zeroes the carried state of the streams ``StateReset``
  /// picks. [T·B_shard], time-major.
  private func nextWindow() {
    let B = config.batch
    let T = config.seqLength
    if state.epoch == 0 || state.window >= windowsPerEpoch(offset: state.epochOffset) {
      state.epoch += 1
      state.window = 0
      let offset = Int(dataGenerator.next() % UInt64(T))
      state.epochOffset = windowsPerEpoch(offset: offset) >= 1 ? offset : 0
      state.dataGenerator = GeneratorState(dataGenerator)
      hidden.reset()
    }
    let n = (train.count - 1 - state.epochOffset) / B  // characters per stream this epoch
    let base = train.startIndex + state.epochOffset + state.window * T
    let (first, local) = (shard.range.lowerBound, shard.count)
    for t in 0..<T {
      for j in 0..<local {
        let i = base + (first + j) * n + t
        inputs[t * local + j] = train[i]
        targets[t * local + j] = train[i + 1]
      }
    }
    stateReset?.apply(to: &hidden, first: first, epoch: state.epoch, window: state.window)
    state.window += 1
  }

  /// a ← a + (1 − dₙ)·(p − a) after optimizer step n = ``TrainingState/step``.
  private func updateAverage(_ weightAverage: WeightAverage) {
    averagedParameters!.withUnsafeMutableBufferPointer { a in
      model.parameters.withUnsafeBufferPointer { p in weightAverage.update(a, toward: p, atUpdate: state.step) }
    }
  }

  /// Runs `body` with ``model`` holding the weights the checkpoints give users: the average
  /// when the run keeps one (swapped in and back, nothing copied), else the trained weights.
  private func withPublishedWeights<R>(_ body: () throws -> R) rethrows -> R {
    guard averagedParameters != nil else { return try body() }
    swap(&model.parameters, &averagedParameters!)
    defer { swap(&model.parameters, &averagedParameters!) }
    return try body()
  }

  /// Mean validation loss of ``model``'s current weights over the whole held-out split: each
  /// process scores its share of the validation streams and the sums are added.
  private func validationLoss() throws -> Double {
    let (part, count) = Kernels.with(kernelPath, precision) {
      Evaluation.lossSum(model: model, tokens: validation, batch: config.batch, seqLength: config.seqLength, part: collective.rank, of: collective.size)
    }
    var sums = [part]
    try collective.sum(&sums)
    return sums[0] / Double(count)
  }

  /// Validates on the whole held-out split; tracks the best loss and its checkpoint.
  /// - Returns: true when patience has run out.
  private func validate(_ onEvent: (TrainingEvent) -> Void) throws -> Bool {
    guard validation.count >= 2 else { return false }
    let loss = try withPublishedWeights(validationLoss)
    guard loss.isFinite else { throw TrainingError.nonFiniteValidation(step: state.step, loss: loss, checkpoint: lastGoodCheckpoint()) }
    let trainedLoss = averagedParameters != nil ? try validationLoss() : nil
    state.lastValidationLoss = loss
    let improved = loss < (state.bestValidationLoss ?? .infinity)
    if improved {
      state.bestValidationLoss = loss
      state.bestStep = state.step
      state.evalsWithoutImprovement = 0
    } else {
      state.evalsWithoutImprovement += 1
    }
    onEvent(.validation(step: state.step, loss: loss, best: state.bestValidationLoss ?? loss, improved: improved, trainedLoss: trainedLoss))
    if improved {
      let whole = try LSTMState.gathered(hidden, shard: shard, over: collective)
      guard let best = bestCheckpointPath else { return patienceRanOut() }
      try checkpoint(hidden: whole).write(to: best)
      wroteBest = true
      onEvent(.checkpoint(path: best, step: state.step, best: true))
    }
    return patienceRanOut()
  }

  private func patienceRanOut() -> Bool {
    if let p = config.patience, state.evalsWithoutImprovement >= p { return true }
    return false
  }

  /// A short sample from the current weights; its draws do not touch the training generators.
  ///
  /// A run on documents starts after the end-of-text symbol and shows each end of text as the
  /// separator of its mode (a line break, or a blank line). Its first text, drawn from a zero
  /// state, is left out (training sees the symbol with the state the text before left, almost
  /// never from zero), unless it is all the sample holds.
  /// With a weight average, the sample is drawn from the average.
  public func sample(length: Int, temperature: Double = 0.8) -> String {
    withPublishedWeights { sample(from: model, length: length, temperature: temperature) }
  }

  private func sample(from model: CharModel<Float>, length: Int, temperature: Double) -> String {
    let sampler = Sampler(model: model, tokenizer: tokenizer)
    let documents = corpus?.documents ?? .stream
    let end = documents == .stream ? nil : tokenizer.endOfTextID
    // One stream of `length` characters that runs on past the end-of-text symbol, so a
    // documents-mode sample shows several texts.
    var ids: [Int32] = []
    let request = TextRequest(
      prompt: end.map { [$0] } ?? [sampler.defaultStartToken],
      options: SamplingOptions(temperature: temperature, length: length, seed: config.seed &+ UInt64(state.step)))
    sampler.run([request]) { _, event in if case .token(let id, _, _) = event { ids.append(id) } }
    guard let end else { return tokenizer.decode(ids) }
    var texts = ids.split(separator: end, omittingEmptySubsequences: false)
    if texts.count > 2 { texts.removeFirst() }
    return texts.map(tokenizer.decode).joined(separator: documents == .lines ? "\n" : "\n\n")
  }

  /// The run as a checkpoint.
  ///
  /// A run spread over several processes holds only its shard's carried state; its
  /// checkpoints are written by ``run(onEvent:)``, which gathers the whole batch's (precondition).
  public func checkpoint() -> Checkpoint {
    precondition(shard.count == shard.total, "a distributed run's checkpoint gathers every process's state: use the file run(onEvent:) writes")
    return checkpoint(hidden: hidden)
  }

  /// The run as a checkpoint with the whole batch's carried state `hidden` [L, B, H].
  private func checkpoint(hidden: LSTMState<Float>) -> Checkpoint {
    var s = state
    s.dataGenerator = GeneratorState(dataGenerator)
    s.dropoutGenerator = GeneratorState(dropoutGenerator)
    return Checkpoint(
      model: model.config, tokenizer: tokenizer, parameters: averagedParameters ?? model.parameters, training: config, state: s,
      optimizer: optimizer, hidden: hidden, corpus: corpus, origin: origin,
      trainingParameters: averagedParameters != nil ? model.parameters : nil)
  }

  private func save(_ onEvent: (TrainingEvent) -> Void) throws {
    try checkProcessesAgree()
    let whole = try LSTMState.gathered(hidden, shard: shard, over: collective)  // every process
    guard let path = checkpointPath else { return }
    try checkpoint(hidden: whole).write(to: path)
    ownsCheckpoint = true
    onEvent(.checkpoint(path: path, step: state.step, best: false))
  }

  /// The checkpoint this run last wrote (or resumed from), when it is still there; else its
  /// best-validation copy when this run wrote one.
  private func lastGoodCheckpoint() -> String? {
    guard let path = checkpointPath else { return nil }
    if ownsCheckpoint, access(path, F_OK) == 0 { return path }
    if wroteBest, let best = bestCheckpointPath, access(best, F_OK) == 0 { return best }
    return nil
  }

  /// The first parameter or optimizer-moment tensor holding a non-finite value.
  private func nonFiniteTensor() -> String? {
    let m = model.config
    return m.firstNonFiniteTensor(model.parameters)?.name
      ?? m.firstNonFiniteTensor(optimizer.first, prefix: "optimizer.first.")?.name
      ?? m.firstNonFiniteTensor(optimizer.second, prefix: "optimizer.second.")?.name
  }

}

/// A flag another thread (or a signal handler's queue) raises to stop a run after its step.
public final class StopFlag: Sendable {
  private let flag = Atomic<Bool>(false)
  /// A flag that is not set.
  public init() {}
  /// Whether a stop was requested.
  public var isSet: Bool { flag.load(ordering: .relaxed) }
  /// Requests a stop.
  public func set() { flag.store(true, ordering: .relaxed) }
}
