import ArgumentParser
import CharLSTMKit
import Foundation

/// `charlstm train`: train a model on a corpus (or resume a run) and print a sample at the end.
struct TrainCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "train",
    abstract: "Train a character-level LSTM on a corpus, or resume a run from its checkpoint.",
    discussion: """
      Without CORPUS, trains on the built-in default: tinyshakespeare (1.1 MB of Shakespeare's \
      plays, public domain), compiled into charlstm, so it works wherever charlstm runs; the \
      default model learns it in a few minutes on 2 cores.

      Checkpoints go to checkpoints/<corpus name>.safetensors (every --checkpoint-every steps \
      and at the end) and the best validation one beside it as .best.safetensors. A resumed \
      run continues to --steps in total, bit for bit as if it had never stopped.

      Progress goes to standard error: on a terminal one live line (step, epoch, loss, \
      validation loss, chars/s, elapsed, ETA); otherwise a line every --log-every steps. Every \
      run also writes its history beside the checkpoint as <name>.log.jsonl (one JSON object \
      per line: each step's loss, learning rate, gradient norm and chars/s, each validation), \
      appended to on --resume; draw it with 'charlstm plot'.

      --init-from CKPT fine-tunes: a new run (step 0, fresh optimizer, its own checkpoints and \
      log) that starts from CKPT's weights and shape; characters of CORPUS that CKPT lacks get \
      new rows. --documents lines reads one text per line (blank-lines: one per paragraph), \
      each ended by an end-of-text symbol, so the model learns where texts end.

      AWD-LSTM's regularizers, each off by default and applied in training only (eval, \
      generate and validation never use them): --weight-drop, --dropout-kind locked, \
      --embed-dropout and --weight-decay (see README, Regularization), and --state-reset. \
      --ema D keeps a moving average of the weights: validation and the checkpoints' model are \
      the average. A resumed run keeps them.

      Examples:
        charlstm train ../shared/corpora/tinyshakespeare.txt --steps 3000
        charlstm train ../shared/corpora/tinyshakespeare.txt --hidden 512 --dropout 0.25 --steps 8000
        charlstm train --resume checkpoints/tinyshakespeare.safetensors --steps 6000
        charlstm train sonnets.txt --init-from checkpoints/tinyshakespeare.safetensors --lr 1e-3 --steps 500
        charlstm train names.txt --documents lines --steps 3000
        charlstm train ../shared/corpora/tinyshakespeare.txt --hidden 512 --dropout 0.3 --dropout-kind locked --weight-drop 0.3 --embed-dropout 0.1 --weight-decay 0.01
      """)

  @Argument(help: "A UTF-8 text file or a directory of them (default: the built-in tinyshakespeare).")
  var corpus: String?

  @Option(help: "Checkpoint path (default: checkpoints/<corpus name>.safetensors).")
  var out: String?

  @Option(help: "Resume the run saved in this checkpoint.")
  var resume: String?

  @Option(help: "Fine-tune: start a new run from this checkpoint's weights and shape (step 0, fresh optimizer); new characters of the corpus get new rows.")
  var initFrom: String?

  @Option(help: "Cut the corpus into documents, each ended by an end-of-text symbol: none (one stream, the default), lines (one per line) or blank-lines (paragraphs). --init-from keeps the parent's unless given; --resume keeps the run's.")
  var documents: DocumentMode?

  @Flag(help: "Let a new run replace an existing checkpoint at --out, with its .best copy and its log (without it, a new run refuses to touch them).")
  var overwrite = false

  @OptionGroup(title: "Text") var text: TokenizerFlags

  // Model shape (refused on --resume).
  @Option(help: "Embedding width E (default 64).") var embed: Int?
  @Option(help: "Hidden width H of every LSTM layer (default 128).") var hidden: Int?
  @Option(help: "Number of LSTM layers L (default 2).") var layers: Int?
  @Option(help: "Dropout between layers and before the head, in [0, 1) (default 0).") var dropout: Double?
  @Option(help: "Initial forget-gate bias of every layer (default 1; 0 learns faster with dropout, see README).") var forgetBias: Double?

  // Training-only regularization (AWD-LSTM; each off by default, kept on --resume, never applied by eval or generate).
  @Option(help: "How --dropout is applied: standard (a fresh mask every step, after each layer; the default) or locked (variational: one mask per stream per window, shared by all steps, on each layer's input and output, the embedded characters included).") var dropoutKind: DropoutKind?
  @Option(help: ArgumentHelp("Weight drop (DropConnect) on every layer's hidden-to-hidden weights W_hh, in [0, 1): one mask per window, kept weights scaled 1/(1-P) (default 0 = off).", valueName: "P")) var weightDrop: Double?
  @Option(help: ArgumentHelp("Embedding dropout in [0, 1): each character's whole embedding row is dropped for a window with probability P, the others scaled 1/(1-P) (default 0 = off).", valueName: "P")) var embedDropout: Double?
  @Option(help: ArgumentHelp("State reset in [0, 1]: at the start of every window each stream's carried state is zeroed with probability P, so the model also learns to start from an empty context (nanoGPT's measure, 'charlstm eval --windows', scores windows from one) (default 0 = off).", valueName: "P")) var stateReset: Double?
  @Option(help: ArgumentHelp("Decoupled weight decay (AdamW): before each update, p -= lr*W*p on the weight matrices and the embedding, not the biases; also decoupled with sgd and rmsprop (default 0 = off).", valueName: "W")) var weightDecay: Double?
  @Option(help: ArgumentHelp("Keep an exponential moving average of the weights with decay D in [0, 1) (after step n: a += (1 - min(D, (1+n)/(10+n)))*(w - a)). Training is unchanged; validation, the best checkpoint and the checkpoints' model (what generate, eval and serve use) are the average; the log also has the trained weights' validation loss (default 0.999 for a new run; 0 = off).", valueName: "D")) var ema: Double?

  // Data and optimization.
  @Option(help: "Streams per step B (default 50).") var batch: Int?
  @Option(help: "Time steps per window T (truncated BPTT length, default 50).") var seq: Int?
  @Option(help: "Learning rate (default 2e-3).") var lr: Double?
  @Option(help: "Optimizer: adam, rmsprop or sgd (default adam).") var optimizer: OptimizerKind?
  @Option(help: "SGD momentum (default 0.9).") var momentum: Double?
  @Option(help: "Clip the global gradient norm to this (default 5; 0 = off).") var clip: Double?
  @Option(help: "Also clip each gradient element to [-v, v].") var clipValue: Double?
  @Option(help: "Learning-rate schedule: constant, step or cosine (default constant).") var schedule: ScheduleKind?
  @Option(help: "Step schedule: decay every N steps (default 1000).") var decayEvery: Int?
  @Option(help: "Step schedule: multiply by this at each decay (default 0.5).") var decayFactor: Double?
  @Option(help: "Linear learning-rate warm-up over N steps (default 0).") var warmup: Int?
  @Option(help: "Total optimizer steps (default 2000).") var steps: Int?
  @Option(help: "Train for N passes over the text instead of --steps.") var epochs: Int?
  @Option(help: "Fraction of the corpus (its tail) held out for validation (default 0.05).") var valFraction: Double?
  @Option(help: "Validate every N steps (default 200).") var evalEvery: Int?
  @Option(help: "Write a checkpoint every N steps (default 500).") var checkpointEvery: Int?
  @Option(help: "Stop after N validations without improvement.") var patience: Int?
  @Option(help: "Print a generated sample every N steps (default 0 = never).") var sampleEvery: Int?
  @Option(help: "Seed for initialization, batching and dropout (default 1).") var seed: UInt64?
  @OptionGroup var threads: ThreadOptions
  @OptionGroup var numerics: PrecisionOptions
  @Option(help: "When standard error is not a terminal, print a progress line every N steps; on a terminal one line is redrawn in place instead.") var logEvery: Int = 100
  @Flag(help: "Print no progress: only errors and the final sample (the log file is still written).") var quiet = false
  @Option(help: "Characters in the sample printed at the end (0 = none).") var sampleLength: Int = 300
  @Flag(help: "Train one run over the ranks of an Open MPI job: mpirun -np N charlstm train CORPUS --distributed (also with --resume). --batch stays the global batch, split over the ranks; rank 0 writes the checkpoints and the log. See README, Distributed training.") var distributed = false

  func validate() throws {
    // The regularizers' values, checked by the library (which describes them) before anything is read.
    var regularized = TrainingConfig()
    (regularized.weightDrop, regularized.embedDropout, regularized.weightDecay, regularized.stateReset, regularized.emaDecay) = (weightDrop, embedDropout, weightDecay, stateReset, ema)
    do { try regularized.validate() } catch { throw ValidationError(userMessage(error, command: self)) }
    if logEvery < 1 { throw ValidationError("--log-every must be at least 1") }
    if sampleLength < 0 || sampleLength > 1_000_000 { throw ValidationError("--sample-length \(sampleLength) is invalid: expected 0 (none) to 1,000,000 characters; use 'charlstm generate' for longer texts") }
    if steps != nil && epochs != nil { throw ValidationError("give --steps or --epochs, not both") }
    if let epochs, epochs < 1 { throw ValidationError("--epochs must be at least 1") }
    if initFrom != nil && resume != nil {
      throw ValidationError("give --init-from or --resume, not both: --resume continues a run, --init-from starts a new run from a checkpoint's weights")
    }
    if resume != nil {
      let fixed: [(String, Bool)] = [
        ("--embed", embed != nil), ("--hidden", hidden != nil), ("--layers", layers != nil),
        ("--dropout", dropout != nil), ("--forget-bias", forgetBias != nil), ("--batch", batch != nil), ("--seq", seq != nil),
        ("--optimizer", optimizer != nil), ("--val-fraction", valFraction != nil), ("--seed", seed != nil),
        ("--normalize", text.normalize != .nfc), ("--lowercase", text.lowercase), ("--min-count", text.minCount != 1),
        ("--schedule", schedule != nil), ("--warmup", warmup != nil), ("--decay-every", decayEvery != nil),
        ("--decay-factor", decayFactor != nil), ("--epochs", epochs != nil), ("--precision", numerics.precision != nil),
        ("--dropout-kind", dropoutKind != nil), ("--weight-drop", weightDrop != nil), ("--embed-dropout", embedDropout != nil),
        ("--weight-decay", weightDecay != nil), ("--state-reset", stateReset != nil), ("--ema", ema != nil),
      ]
      if let (name, _) = fixed.first(where: { $0.1 }) {
        throw ValidationError("\(name) cannot change when resuming (the checkpoint fixes the model, data and schedule); drop it, or start a new run without --resume")
      }
    }
  }

  func run() throws {
    threads.apply()
    let ranks = try Ranks.start(distributed: distributed)
    var command = self
    command.quiet = quiet || !ranks.lead  // only rank 0 prints progress
    try command.train(ranks)
    ranks.finish()
  }

  private func train(_ ranks: Ranks) throws {
    let t0 = Date()
    // Every rank sets up (corpus, trainer, rank 0's files) and the ranks agree on the outcome.
    let describe = { (e: any Error) in userMessage(e, command: self) }
    let trainer = try ranks.collective.agreeing(
      {
        if let resume { return try resumedTrainer(resume, ranks) }
        if let initFrom { return try fineTunedTrainer(initFrom, ranks) }
        return try newTrainer(ranks)
      }, fingerprint: \.fingerprint, describe: describe)
    let (lock, log) = try ranks.collective.agreeing({ try openRunFiles(trainer, setup: t0) }, fingerprint: { _ in 0 }, describe: describe)
    defer { withExtendedLifetime(lock) {} }
    installStopHandlers(trainer, also: ranks.collective.size > 1 ? [SIGUSR1, SIGUSR2] : [], announce: ranks.lead)
    let progress = TrainingProgress(quiet: quiet, every: logEvery, lastValidation: trainer.state.lastValidationLoss)
    let reason: StopReason
    do {
      defer { progress.finish() }
      reason = try trainer.run { event in
        log?.record(event)
        switch event {
        case .step(let r):
          progress.step(r)
        case .validation(let step, let loss, let best, let improved, let trainedLoss):
          progress.validation(step: step, loss: loss, best: best, improved: improved, trainedLoss: trainedLoss)
        case .checkpoint(let path, let step, let best):
          if !best { progress.note("checkpoint at step \(step): \(path)") }
        case .sample(let step, let text):
          progress.sample(step: step, text: text)
        }
      }
    }
    log?.end(reason: reason, trainer: trainer)
    guard ranks.lead else { return }
    switch reason {
    case .completed: break
    case .earlyStopped: Output.note("stopped early: no validation improvement in \(trainer.config.patience ?? 0) evaluations")
    case .interrupted: Output.note("interrupted at step \(trainer.state.step); resume with: \(ranks.collective.size > 1 ? "mpirun -np \(ranks.collective.size) " : "")charlstm train --resume \(trainer.checkpointPath ?? "CKPT") --steps \(trainer.config.steps)\(ranks.collective.size > 1 ? " --distributed" : "")")
    }
    if !quiet, let best = trainer.state.bestValidationLoss, let step = trainer.state.bestStep {
      Output.note(String(format: "best validation loss %.4f at step %d (%@)", best, step, trainer.bestCheckpointPath ?? ""))
    }
    if sampleLength > 0 && reason != .interrupted {
      Output.write(trainer.sample(length: sampleLength) + "\n")
    }
  }

  /// Rank 0's part of the setup: the checkpoint's lock, stale temporaries, the run log.
  private func openRunFiles(_ trainer: Trainer, setup t0: Date) throws -> (CheckpointLock?, RunLogWriter?) {
    if !quiet {
      let m = trainer.model.config
      let c = trainer.config
      if let r = regularizationSummary(c, model: m) { Output.note("regularization \(r)") }
      Output.note("model \(m.layers)×\(m.hiddenSize) LSTM, E \(m.embedSize), V \(m.vocabSize), \(grouped(m.parameterCount)) parameters · B \(c.batch) × T \(c.seqLength) · \(c.optimizer.rawValue) lr \(c.learningRate) · \(c.ranks.map { "\($0) ranks × " } ?? "")\(counted(Kernels.threads, "thread")) (\(trainer.kernelPath.name), \(trainer.precision.rawValue)) · setup \(formatDuration(Date().timeIntervalSince(t0)))")
      if trainer.precision == .bf16 && !(Kernels.withISA(trainer.kernelPath) { Kernels.bf16DotAvailable } && Kernels.bf16DotIsFaster) {
        Output.note("note: bf16 products are not faster than fp32 on this CPU (\(trainer.kernelPath.name): no bf16 unit that outruns its FMAs); --precision fp32 (or auto) trains faster here")
      }
      if let then = trainer.kernelPathChanged {
        Output.note("the checkpoint's kernel path \(then) is not on this CPU: going on on \(trainer.kernelPath.name), no longer bit for bit with an uninterrupted run")
      }
    }
    let lock = try trainer.checkpointPath.map { path throws(CheckpointLockError) in try CheckpointLock(checkpoint: path) }
    if let path = trainer.checkpointPath {
      // Holding the lock, nobody else writes these files: temporaries left by a save that was
      // killed (SIGKILL, power loss) are ours to remove.
      for stale in RunFiles(checkpoint: path).removeStaleTemporaries() where !quiet {
        Output.note("removed \(stale), left by an interrupted save")
      }
      // A replaced run's best copy is not this run's best.
      if resume == nil && overwrite { unlink(RunFiles(checkpoint: path).best) }
    }
    // The run's history, beside its checkpoint; a resume continues the same file.
    let log = try trainer.checkpointPath.map { path throws(RunLogError) in
      let logPath = RunLog.path(forCheckpoint: path)
      let source = resume.map(RunLog.path(forCheckpoint:)).flatMap { $0 == logPath ? nil : $0 }
      let writer = try RunLogWriter(path: logPath, resumingAt: resume == nil ? nil : trainer.state.step, copyingFrom: source)
      writer.start(trainer: trainer, resumedFrom: resume, extra: ["command": CommandLine.arguments.joined(separator: " ")])
      return writer
    }
    if !quiet, let log { Output.note("log \(log.path)") }
    return (lock, log)
  }

  /// `--ema` of a new run without the flag. The default run (2×128, 2,000 steps, constant rate)
  /// ends at validation 1.6671 with it against 1.6874 for its trained weights (README, "A real run").
  static let defaultEMADecay = 0.999

  private func trainingConfig(base: TrainingConfig) -> TrainingConfig {
    var c = base
    if let batch { c.batch = batch }
    if let seq { c.seqLength = seq }
    if let lr { c.learningRate = lr }
    if let optimizer { c.optimizer = optimizer }
    if let momentum { c.momentum = momentum }
    if let clip { c.clipNorm = clip }
    if let clipValue { c.clipValue = clipValue }
    if let schedule { c.schedule = schedule }
    if let decayEvery { c.decayEvery = decayEvery }
    if let decayFactor { c.decayFactor = decayFactor }
    if let warmup { c.warmupSteps = warmup }
    if let steps { c.steps = steps }
    if let valFraction { c.validationFraction = valFraction }
    if let evalEvery { c.evalEvery = evalEvery }
    if let checkpointEvery { c.checkpointEvery = checkpointEvery }
    if let patience { c.patience = patience }
    if let sampleEvery { c.sampleEvery = sampleEvery }
    if let seed { c.seed = seed }
    if let forgetBias { c.forgetBias = forgetBias }
    if let dropoutKind { c.dropoutKind = dropoutKind }
    if let weightDrop { c.weightDrop = weightDrop }
    if let embedDropout { c.embedDropout = embedDropout }
    if let weightDecay { c.weightDecay = weightDecay }
    if let stateReset { c.stateReset = stateReset }
    if let ema { c.emaDecay = ema }
    return c
  }

  private func newTrainer(_ ranks: Ranks) throws -> Trainer {
    // Output paths first: nothing is read or trained before we know the run may write them.
    let out = self.out ?? defaultCheckpointPath(for: corpus ?? DefaultCorpus.fileName)
    let files = RunFiles(checkpoint: out)
    if ranks.lead {
      try checkRunFiles(files, continuing: false, corpus: corpus)
      try prepareDirectory(for: out)
    }
    let loaded = try loadCorpus(options: text.options, documents: documents ?? .stream, files: files)
    var config = try newConfig(corpus: loaded, ranks)
    let (train, val) = try loaded.split(validationFraction: config.validationFraction)
    let model = ModelConfig(
      vocabSize: loaded.tokenizer.vocabulary.count, embedSize: embed ?? 64, hiddenSize: hidden ?? 128,
      layers: layers ?? 2, dropout: dropout ?? 0)
    config.precision = numerics.matrixProducts(hidden: model.hiddenSize)
    do { try model.validate() } catch { throw ValidationError(modelMessage(error)) }
    try checkDropoutKind(modelDropout: model.dropout)
    if !quiet { noteCorpus(loaded, train: train, validation: val) }
    let trainer = try Trainer(
      model: model, config: config, tokenizer: loaded.tokenizer, training: train, validation: val,
      corpus: corpusInfo(loaded), checkpointPath: ranks.lead ? out : nil)
    if ranks.collective.size > 1 { try trainer.distribute(over: ranks.collective) }
    return trainer
  }

  /// A fine-tuning run: a new run from the weights and shape of the checkpoint at `parentPath`.
  private func fineTunedTrainer(_ parentPath: String, _ ranks: Ranks) throws -> Trainer {
    let parent = try loadParent(parentPath, ranks)
    let out = self.out ?? defaultCheckpointPath(for: corpus ?? DefaultCorpus.fileName)
    if sameFile(out, parentPath) {
      throw ValidationError("--out \(out) is the --init-from checkpoint; a fine-tuned run writes its own checkpoint: choose another --out")
    }
    let files = RunFiles(checkpoint: out)
    if ranks.lead {
      try checkRunFiles(files, continuing: false, corpus: corpus)
      try prepareDirectory(for: out)
    }
    // The parent's text options; every character read, so rare ones it knows keep their rows.
    var options = parent.tokenizer.options
    options.minCount = 1
    let loaded = try loadCorpus(options: options, documents: documents ?? parent.corpus?.documents ?? .stream, files: files)
    var config = try newConfig(corpus: loaded, ranks)
    let plan = try FineTuning(parent: parent, path: parentPath, corpus: loaded, dropout: dropout, seed: config.seed)
    config.precision = numerics.matrixProducts(hidden: plan.model.config.hiddenSize)
    try checkDropoutKind(modelDropout: plan.model.config.dropout)
    let (train, val) = try plan.corpus.split(validationFraction: config.validationFraction)
    if !quiet {
      let o = plan.origin
      let added = plan.addedSymbols.prefix(8).map { $0 == Vocabulary.endOfTextSymbol ? "end-of-text" : TextError.quoted($0) }
      let more = o.addedSymbols > 8 ? " and \(o.addedSymbols - 8) more" : ""
      Output.note("init from \(parentPath) (step \(o.step), weights \(o.weightsHash)): vocabulary \(o.vocabularySize) + \(counted(o.addedSymbols, "new character")) = \(plan.corpus.tokenizer.vocabulary.count)\(added.isEmpty ? "" : " (" + added.joined(separator: ", ") + more + ")")")
      noteCorpus(plan.corpus, train: train, validation: val)
    }
    let trainer = try Trainer(
      startingFrom: plan.model, config: config, tokenizer: plan.corpus.tokenizer, training: train, validation: val,
      corpus: corpusInfo(plan.corpus), checkpointPath: ranks.lead ? out : nil, origin: plan.origin)
    if ranks.collective.size > 1 { try trainer.distribute(over: ranks.collective) }
    return trainer
  }

  /// The parent of a fine-tuning run, with the shape flags checked against it: each one given
  /// with another value than the parent's is refused by name.
  private func loadParent(_ path: String, _ ranks: Ranks) throws -> Checkpoint {
    let parent: Checkpoint
    do { parent = try ranks.checkpoint(at: path) } catch let e as CheckpointError {
      throw ValidationError("--init-from \(userMessage(e, command: self))")
    }
    guard parent.training != nil, parent.state != nil else {
      throw ValidationError("--init-from \(path) holds weights only (no training state); give a checkpoint written by 'charlstm train' (NAME.safetensors or NAME.best.safetensors)")
    }
    let m = parent.model, t = parent.tokenizer.options
    var contradictions: [(flag: String, given: String, parent: String)] = []
    func check<T: Equatable>(_ flag: String, _ given: T?, _ theirs: T) {
      if let given, given != theirs { contradictions.append((flag, "\(given)", "\(theirs)")) }
    }
    check("--embed", embed, m.embedSize)
    check("--hidden", hidden, m.hiddenSize)
    check("--layers", layers, m.layers)
    // Text flags have defaults: a value other than the default is one given.
    check("--normalize", text.normalize == .nfc ? nil : text.normalize, t.normalization)
    check("--lowercase", text.lowercase ? true : nil, t.lowercase)
    check("--locale", text.locale.isEmpty ? nil : text.locale, t.locale)
    check("--min-count", text.minCount == 1 ? nil : text.minCount, t.minCount)
    if let c = contradictions.first {
      throw ValidationError("\(c.flag) \(c.given) contradicts --init-from \(path), whose model has \(c.flag) \(c.parent) (a fine-tuned run keeps its parent's shape and text options); drop \(c.flag), or start a new run without --init-from")
    }
    if forgetBias != nil {
      throw ValidationError("--forget-bias sets a fresh model's initial forget-gate bias, but --init-from starts from \(path)'s trained weights; drop --forget-bias")
    }
    return parent
  }

  /// Locked dropout lays out --dropout's masks: refused when the model has no dropout.
  private func checkDropoutKind(modelDropout: Double) throws {
    if dropoutKind == .locked && modelDropout == 0 {
      throw ValidationError("--dropout-kind locked lays out --dropout's masks, but the model's dropout is 0; give --dropout P (e.g. 0.3) as well")
    }
  }

  /// Reads CORPUS (or the built-in default) for a new run, with progress.
  private func loadCorpus(options: TokenizerOptions, documents: DocumentMode, files: RunFiles) throws -> Corpus {
    let path = corpus ?? DefaultCorpus.recordedPath
    if corpus == nil && !quiet { Output.note("no corpus given: training on the built-in \(DefaultCorpus.fileName) (Shakespeare, public domain)") }
    if corpus == nil {
      return try DefaultCorpus.withBytes { b throws(TextError) in try CorpusLoader.load(bytes: b, name: path, options: options, documents: documents) }
    }
    let reading = TaskProgress("reading and tokenizing \(path)", totalBytes: corpusBytes(path, include: text.include), quiet: quiet)
    defer { reading.finish() }
    let loaded = try CorpusLoader.load(path: path, options: options, include: text.include, excluding: excludedFromCorpus(files), documents: documents) { done, _ in reading.update(done: done) }
    reading.finish()
    return loaded
  }

  /// What a new run records about its corpus.
  private func corpusInfo(_ c: Corpus) -> CorpusInfo {
    CorpusInfo(path: corpus ?? DefaultCorpus.recordedPath, include: text.include, bytes: c.byteCount, tokens: c.tokens, documents: c.documents)
  }

  private func noteCorpus(_ c: Corpus, train: TokenSlice, validation val: TokenSlice) {
    let docs = c.documents == .stream ? "" : ", \(counted(c.documentCount, "document")) (\(c.documents.rawValue))"
    Output.note("corpus \(corpus ?? DefaultCorpus.recordedPath): \(counted(c.byteCount, "byte")), \(counted(c.tokens.count - (c.documents == .stream ? 0 : c.documentCount + 1), "character"))\(docs), \(c.tokenizer.vocabulary.count) distinct · train \(grouped(train.count)) · validation \(grouped(val.count))")
  }

  /// The training configuration of a new run (fresh or fine-tuned) on `corpus`.
  private func newConfig(corpus: Corpus, _ ranks: Ranks) throws -> TrainingConfig {
    var config = trainingConfig(base: TrainingConfig())
    // config.precision is set by the caller once the model's size is known (a resume keeps
    // the checkpoint's instead).
    if ema == nil { config.emaDecay = Self.defaultEMADecay }
    config.ranks = ranks.recorded
    if let epochs {
      // Passes over the training part as the run cuts it; an invalid --val-fraction is refused
      // by that split right after this.
      let trainChars = (try? corpus.split(validationFraction: config.validationFraction).training.count) ?? corpus.tokens.count
      let windows = max(0, (trainChars - 1) / max(1, config.batch) / max(1, config.seqLength))
      let (total, overflow) = epochs.multipliedReportingOverflow(by: windows)
      if overflow || total > 1 << 40 {
        throw ValidationError("--epochs \(epochs) is too many: \(epochs) passes of \(windows) steps exceed the limit of 1,099,511,627,776 steps; give fewer --epochs")
      }
      config.steps = max(1, total)
    }
    return config
  }

  private func resumedTrainer(_ path: String, _ ranks: Ranks) throws -> Trainer {
    let ckpt = try ranks.checkpoint(at: path)
    guard let saved = ckpt.training, let info = ckpt.corpus else {
      throw ValidationError("\(path) holds weights only, not a training run; start a new run instead")
    }
    if let documents, documents != info.documents {
      throw ValidationError("--documents \(documents.rawValue) does not match \(path), whose run reads its corpus as --documents \(info.documents.rawValue); drop --documents to resume it, or start a new run from it with --init-from \(path) --documents \(documents.rawValue)")
    }
    let corpusPath = corpus ?? info.path
    let out = self.out ?? path
    let files = RunFiles(checkpoint: out)
    if ranks.lead { try checkRunFiles(files, continuing: sameFile(out, path), corpus: corpusPath) }
    if let steps, steps < (ckpt.state?.step ?? 0) {
      throw ValidationError("--steps \(steps) is below the checkpoint's step \(ckpt.state?.step ?? 0): --steps is the total to train to; give a larger number")
    }
    let reading = TaskProgress("reading and tokenizing \(corpusPath)", totalBytes: info.bytes, quiet: quiet)
    defer { reading.finish() }
    let excluded = excludedFromCorpus(files) + excludedFromCorpus(RunFiles(checkpoint: path))
    let (tokens, _) = corpusPath == DefaultCorpus.recordedPath
      ? try DefaultCorpus.withBytes { b throws(TextError) in try CorpusLoader.encode(bytes: b, name: corpusPath, with: ckpt.tokenizer, documents: info.documents, unknown: .mapToUnknown) }
      : try CorpusLoader.encode(path: corpusPath, with: ckpt.tokenizer, include: text.include ?? info.include, excluding: excluded, documents: info.documents, unknown: .mapToUnknown)
    reading.finish()
    guard CorpusInfo.fingerprint(tokens) == info.fingerprint else {
      throw TrainingError.corpusChanged(path: corpusPath, checkpoint: path)
    }
    var config = trainingConfig(base: saved)
    config.ranks = ranks.recorded  // refused below unless it is the checkpoint's
    let (train, val) = try Corpus.split(tokens, validationFraction: config.validationFraction, documentEnd: info.documents == .stream ? nil : ckpt.tokenizer.endOfTextID)
    if ranks.lead { try prepareDirectory(for: out) }
    let trainer = try Trainer(resuming: ckpt, config: config, training: train, validation: val, checkpointPath: ranks.lead ? out : nil)
    if ranks.collective.size > 1 { try trainer.distribute(over: ranks.collective) }
    if !quiet {
      Output.note("resuming \(path) at step \(trainer.state.step) of \(config.steps) (corpus \(corpusPath))")
      for (name, old, new) in changedOptions(saved, config) { Output.note("  \(name): \(old) → \(new)") }
    }
    return trainer
  }

  /// The run's files may be written: refusals name the flag that would change the answer.
  private func checkRunFiles(_ files: RunFiles, continuing: Bool, corpus: String?) throws {
    if let corpus, corpus != DefaultCorpus.recordedPath {
      do { try files.checkNotCorpus(corpus) } catch {
        if case .isCorpus(let p, _, let inFolder) = error {
          throw ValidationError("--out \(files.checkpoint) would write over \(inFolder ? "\(p), a text of the corpus folder \(corpus)" : p == files.checkpoint ? "the corpus \(corpus)" : "the corpus \(corpus) (as \(p))"), even with --overwrite; choose an --out outside the corpus, e.g. --out \(defaultCheckpointPath(for: corpus))")
        }
        throw error
      }
    }
    do { try files.check(continuing: continuing, overwrite: overwrite) } catch {
      if CheckpointLock.isHeld(checkpoint: files.checkpoint) { throw CheckpointLockError.held(checkpoint: files.checkpoint) }
      switch error {
      case .isDirectory(let p):
        throw ValidationError("--out \(p) is a folder; give a checkpoint file path, e.g. --out \(p.hasSuffix("/") ? p : p + "/")model.safetensors")
      case .notAFile(let p, let why):
        throw ValidationError("\(p) cannot be written: \(why); choose another --out")
      case .exists(let p, let isCheckpoint) where isCheckpoint && p == files.checkpoint:
        throw ValidationError("\(p) already exists: continue that run with --resume \(p), replace it with --overwrite, or choose another --out")
      case .exists(let p, _):
        throw ValidationError("\(p) already exists and is not this run's; replace it with --overwrite or choose another --out")
      case .isCorpus:
        throw ValidationError("\(error); choose another --out")
      }
    }
  }

  private func changedOptions(_ a: TrainingConfig, _ b: TrainingConfig) -> [(String, String, String)] {
    var out: [(String, String, String)] = []
    func check<T: Equatable>(_ name: String, _ x: T, _ y: T) { if x != y { out.append((name, "\(x)", "\(y)")) } }
    check("--steps", a.steps, b.steps)
    check("--lr", a.learningRate, b.learningRate)
    check("--clip", a.clipNorm, b.clipNorm)
    check("--eval-every", a.evalEvery, b.evalEvery)
    check("--checkpoint-every", a.checkpointEvery, b.checkpointEvery)
    check("--sample-every", a.sampleEvery, b.sampleEvery)
    check("--momentum", a.momentum, b.momentum)
    return out
  }
}

/// `checkpoints/<corpus file or folder name without extension>.safetensors`.
func defaultCheckpointPath(for corpus: String) -> String {
  var name = (corpus as NSString).standardizingPath
  name = (name as NSString).lastPathComponent
  name = (name as NSString).deletingPathExtension
  if name.isEmpty || name == "." || name == "/" { name = "corpus" }
  return "checkpoints/\(name).safetensors"
}

/// What a directory corpus must not read: the run's checkpoint folder and the run's own files
/// (so its logs and checkpoints never feed back into the text it trains on).
func excludedFromCorpus(_ files: RunFiles) -> [String] {
  let dir = (files.checkpoint as NSString).deletingLastPathComponent
  return [dir.isEmpty ? "." : dir, files.checkpoint, files.best, files.log, files.lock]
}

/// True when both paths name the same existing file (device and inode).
func sameFile(_ a: String, _ b: String) -> Bool {
  var x = stat(), y = stat()
  return stat(a, &x) == 0 && stat(b, &y) == 0 && x.st_dev == y.st_dev && x.st_ino == y.st_ino
}

/// Creates the checkpoint's folder when missing; errors say what to do.
func prepareDirectory(for path: String) throws {
  let dir = (path as NSString).deletingLastPathComponent
  guard !dir.isEmpty else { return }
  var isDir: ObjCBool = false
  if FileManager.default.fileExists(atPath: dir, isDirectory: &isDir) {
    if !isDir.boolValue { throw ValidationError("\(dir) is a file, not a folder; choose another --out") }
    return
  }
  do {
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
  } catch {
    throw ValidationError("cannot create the checkpoint folder \(dir) (\(error.localizedDescription)); choose another --out")
  }
}

/// The training-only regularizers of a run in one line, e.g. `locked dropout 0.3 · weight drop
/// 0.5 · embedding dropout 0.1 · weight decay 0.01` (nil when none is on).
func regularizationSummary(_ c: TrainingConfig, model m: ModelConfig) -> String? {
  var parts: [String] = []
  if (c.dropoutKind ?? .standard) == .locked && m.dropout > 0 { parts.append("locked dropout \(m.dropout)") }
  if let p = c.weightDrop, p > 0 { parts.append("weight drop \(p)") }
  if let p = c.embedDropout, p > 0 { parts.append("embedding dropout \(p)") }
  if let w = c.weightDecay, w > 0 { parts.append("weight decay \(w)") }
  if let p = c.stateReset, p > 0 { parts.append("state reset \(p)") }
  if let d = c.emaDecay, d > 0 { parts.append("weight average (EMA) \(d)") }
  return parts.isEmpty ? nil : parts.joined(separator: " · ")
}

/// The model's complaint in the words of the flags that set it.
func modelMessage(_ e: ModelError) -> String {
  var text = e.description
  for (field, flag) in [("vocabSize", "the vocabulary size"), ("embedSize", "--embed"), ("hiddenSize", "--hidden"), ("layers", "--layers"), ("dropout", "--dropout")] {
    text = text.replacingOccurrences(of: field, with: flag)
  }
  return "invalid model: \(text)"
}

extension OptimizerKind: ExpressibleByArgument {}
extension DocumentMode: ExpressibleByArgument {}
extension DropoutKind: ExpressibleByArgument {}
extension ScheduleKind: ExpressibleByArgument {}
