import CharLSTMKit
import Foundation
import Testing

@Suite(.serialized) struct TrainerTests {
  init() { Kernels.setThreads(1) }

  private func makeTrainer(steps: Int, dropout: Double = 0, path: String? = nil, optimizer: OptimizerKind = .adam, precision: Kernels.Precision? = nil) throws -> (Trainer, Tokenizer, TokenIDs) {
    let (tok, ids) = try smallCorpus()
    var (m, t) = tinyConfigs(vocab: tok.vocabulary.count, steps: steps, dropout: dropout)
    t.optimizer = optimizer
    t.precision = precision
    t.learningRate = optimizer == .sgd ? 0.5 : 1e-2
    let cut = ids.count - ids.count / 10
    let trainer = try Trainer(
      model: m, config: t, tokenizer: tok, training: ids[..<cut], validation: ids[cut...],
      corpus: CorpusInfo(path: "small", include: nil, bytes: ids.count, tokens: ids), checkpointPath: path)
    return (trainer, tok, ids)
  }

  @Test(arguments: [OptimizerKind.adam, .rmsprop, .sgd])
  func lossFalls(optimizer: OptimizerKind) throws {
    let (trainer, tok, _) = try makeTrainer(steps: 150, optimizer: optimizer)
    var losses: [Double] = []
    var vals: [Double] = []
    try trainer.run { e in
      if case .step(let r) = e { losses.append(r.loss) }
      if case .validation(_, let l, _, _, _) = e { vals.append(l) }
    }
    let start = log(Double(tok.vocabulary.count))
    #expect(abs(losses[0] - start) < 0.5, "first loss \(losses[0]) should be near ln V = \(start)")
    let tail = losses.suffix(10).reduce(0, +) / 10
    #expect(tail < 1.6, "\(optimizer): mean of last 10 losses \(tail) did not fall enough from \(losses[0])")
    #expect(vals.last! < vals.first!, "validation loss did not fall: \(vals)")
  }

  @Test(arguments: [Kernels.Precision.fp32, .bf16])
  func exactResumeIsBitIdentical(precision: Kernels.Precision) throws {
    let dir = TempDir()
    defer { dir.cleanup() }
    // 40 steps in one go (dropout on, so the dropout generator must be restored exactly).
    let (whole, _, ids) = try makeTrainer(steps: 40, dropout: 0.3, precision: precision)
    try whole.run()
    // 20 steps, checkpoint, load, resume to 40.
    let path = dir.file("run.safetensors")
    let (first, _, _) = try makeTrainer(steps: 20, dropout: 0.3, path: path, precision: precision)
    try first.run()
    let ckpt = try Checkpoint.load(from: path)
    #expect(ckpt.state?.step == 20)
    var config = try #require(ckpt.training)
    config.steps = 40
    let cut = ids.count - ids.count / 10
    let resumed = try Trainer(resuming: ckpt, config: config, training: ids[..<cut], validation: ids[cut...], checkpointPath: path)
    try resumed.run()
    expectSameRun(whole, resumed)
    #expect(whole.state.step == 40 && resumed.state.step == 40)
    #expect(resumed.precision == precision, "the checkpoint keeps the run's precision")
    var other = config
    other.precision = precision == .bf16 ? .fp32 : .bf16
    #expect(throws: TrainingError.self, "resuming in another precision is refused") {
      try Trainer(resuming: ckpt, config: other, training: ids[..<cut], validation: ids[cut...], checkpointPath: nil)
    }
  }

  /// bf16 products train like fp32 ones: the same seed's loss curve stays close (the
  /// differences are rounding, not a different model), the weights really differ (the bf16
  /// path ran), and bf16 results do not depend on the thread count.
  @Test func bf16TrainsLikeFP32AndIsThreadCountIndependent() throws {
    let threads = Kernels.threads
    defer { Kernels.setThreads(threads) }
    func curve(_ p: Kernels.Precision, threads: Int) throws -> ([Double], [Float]) {
      Kernels.setThreads(threads)
      let (t, _, _) = try makeTrainer(steps: 120, precision: p)
      var losses: [Double] = []
      try t.run { if case .step(let r) = $0 { losses.append(r.loss) } }
      return (losses, t.model.parameters)
    }
    let (fp32, w32) = try curve(.fp32, threads: 1)
    let (bf16, w16) = try curve(.bf16, threads: 1)
    let (_, w16t2) = try curve(.bf16, threads: 2)
    #expect(firstBitDifference(w16, w16t2) == nil, "bf16 with 1 and 2 threads")
    #expect(firstBitDifference(w32, w16) != nil, "the bf16 run must differ from fp32 somewhere")
    let tail = { (x: [Double]) in x.suffix(20).reduce(0, +) / 20 }
    #expect(tail(bf16) < fp32[0] - 1, "bf16 learns: \(fp32[0]) → \(tail(bf16))")
    #expect(abs(tail(bf16) - tail(fp32)) < 0.05, "last 20 steps: bf16 \(tail(bf16)) vs fp32 \(tail(fp32))")
  }

  /// A run records the kernel path it starts on and runs on it whatever the calling thread's
  /// path later is; a resume keeps the recorded path where this CPU has it (bit for bit with an
  /// uninterrupted run on that path) and, where it does not, goes on on this thread's path and
  /// says which path the checkpoint had.
  @Test func kernelPathIsRecordedAndKeptOnResume() throws {
    let dir = TempDir()
    defer { dir.cleanup() }
    let path = dir.file("run.safetensors")
    let (whole, _, ids) = try Kernels.withISA(.portable) { try makeTrainer(steps: 30, precision: .bf16) }
    #expect(whole.kernelPath == .portable && whole.config.kernelPath == "portable")
    try whole.run()  // outside the scope: still on portable
    let (first, _, _) = try Kernels.withISA(.portable) { try makeTrainer(steps: 15, path: path, precision: .bf16) }
    try first.run()
    var ckpt = try Checkpoint.load(from: path)
    #expect(ckpt.training?.kernelPath == "portable", "the checkpoint records the path")
    var config = try #require(ckpt.training)
    config.steps = 30
    config.kernelPath = nil  // a resume takes the checkpoint's, whatever the config says
    let cut = ids.count - ids.count / 10
    let resumed = try Trainer(resuming: ckpt, config: config, training: ids[..<cut], validation: ids[cut...], checkpointPath: nil)
    #expect(resumed.kernelPath == .portable && resumed.kernelPathChanged == nil)
    try resumed.run()
    expectSameRun(whole, resumed)
    // A path this CPU does not have (a checkpoint from another machine).
    ckpt.training?.kernelPath = "amx-bf16"
    let moved = try Trainer(resuming: ckpt, config: config, training: ids[..<cut], validation: ids[cut...], checkpointPath: nil)
    #expect(moved.kernelPathChanged == "amx-bf16")
    #expect(moved.kernelPath == Kernels.isa && moved.config.kernelPath == Kernels.isa.name)
    // A new run records the calling thread's path.
    let (fresh, _, _) = try makeTrainer(steps: 1)
    #expect(fresh.kernelPath == Kernels.isa && fresh.config.kernelPath == Kernels.isa.name)
  }

  /// On a path with a bf16 unit, bf16 training runs on it, and trains like the same run with
  /// bf16 emulated on the fp32 kernels (the same numerics up to summation order).
  @Test func bf16OnTheDotUnitTrainsLikeEmulatedBF16() throws {
    guard Kernels.ISA.avx512bf16.isSupported else { return }
    func curve(_ isa: Kernels.ISA) throws -> [Double] {
      let (t, _, _) = try Kernels.withISA(isa) { try makeTrainer(steps: 120, precision: .bf16) }
      #expect(t.kernelPath == isa)
      var losses: [Double] = []
      try t.run { if case .step(let r) = $0 { losses.append(r.loss) } }
      return losses
    }
    let dot = try curve(.avx512bf16), emulated = try curve(.avx512)
    #expect(dot != emulated, "the two paths must differ somewhere (different summation order)")
    let tail = { (x: [Double]) in x.suffix(20).reduce(0, +) / 20 }
    #expect(abs(tail(dot) - tail(emulated)) < 0.05, "last 20 steps: dot unit \(tail(dot)) vs emulated \(tail(emulated))")
  }

  @Test func sameSeedSameRun() throws {
    let (a, _, _) = try makeTrainer(steps: 15, dropout: 0.2)
    let (b, _, _) = try makeTrainer(steps: 15, dropout: 0.2)
    try a.run()
    try b.run()
    #expect(firstBitDifference(a.model.parameters, b.model.parameters) == nil)
  }

  @Test func patienceStopsEarly() throws {
    let (tok, ids) = try smallCorpus()
    var (m, t) = tinyConfigs(vocab: tok.vocabulary.count, steps: 400)
    // SGD with a step far below one ulp of any weight: the weights never change, so the
    // validation loss never improves after the first evaluation and patience must stop the run.
    t.optimizer = .sgd
    t.momentum = 0
    t.learningRate = 1e-30
    t.evalEvery = 5
    t.patience = 2
    let cut = ids.count - ids.count / 10
    let trainer = try Trainer(model: m, config: t, tokenizer: tok, training: ids[..<cut], validation: ids[cut...], corpus: nil, checkpointPath: nil)
    let reason = try trainer.run()
    #expect(reason == .earlyStopped)
    #expect(trainer.state.step == 15, "first evaluation at 5 sets the best, then 2 without improvement")
  }

  @Test func divergenceStopsWithTheStepNamedAndKeepsTheLastCheckpoint() throws {
    let dir = TempDir()
    defer { dir.cleanup() }
    let path = dir.file("d.safetensors")
    let (trainer, _, _) = try makeTrainer(steps: 5, path: path)
    try trainer.run()
    let before = try Checkpoint.load(from: path).parameters
    // Poison one weight: the next step's loss is NaN.
    let (tok, ids) = try smallCorpus()
    var ckpt = try Checkpoint.load(from: path)
    ckpt.parameters[0] = .nan
    var config = ckpt.training!
    config.steps = 10
    let cut = ids.count - ids.count / 10
    _ = tok
    let poisoned = try Trainer(resuming: ckpt, config: config, training: ids[..<cut], validation: ids[cut...], checkpointPath: path)
    do {
      try poisoned.run()
      Issue.record("a NaN weight must stop the run")
    } catch let e as TrainingError {
      guard case .diverged(let step, _, _, let kept) = e else { Issue.record("wrong error \(e)"); return }
      #expect(step == 6)
      #expect(kept == path)
      #expect(e.description.contains("step 6"))
    }
    #expect(try Checkpoint.load(from: path).parameters == before)
  }

  /// A finite gradient times an enormous learning rate overflows the weights: the run stops at
  /// that step, never writes the broken model, and the checkpoint it names loads and resumes.
  @Test func anUpdateThatOverflowsStopsAndNeverSavesANonFiniteModel() throws {
    let dir = TempDir()
    defer { dir.cleanup() }
    let path = dir.file("o.safetensors")
    let (trainer, _, ids) = try makeTrainer(steps: 3, path: path)
    try trainer.run()
    let good = try Checkpoint.load(from: path)
    let bytes = FileManager.default.contents(atPath: path)
    var config = good.training!
    config.steps = 10
    config.learningRate = 1e39  // Adam's step size overflows Float: every moved weight becomes ±inf
    config.checkpointEvery = 1
    let cut = ids.count - ids.count / 10
    let wild = try Trainer(resuming: good, config: config, training: ids[..<cut], validation: ids[cut...], checkpointPath: path)
    do {
      try wild.run()
      Issue.record("lr 1e39 must stop the run")
    } catch let e as TrainingError {
      guard case .nonFiniteUpdate(let step, let tensor, let kept) = e else { Issue.record("wrong error \(e)"); return }
      #expect(step == 4)
      #expect(!tensor.isEmpty)
      #expect(kept == path)
    }
    #expect(FileManager.default.contents(atPath: path) == bytes, "the last good file is untouched")
    let reloaded = try Checkpoint.load(from: path)
    #expect(reloaded.state?.step == 3)
    var gentle = reloaded.training!
    gentle.steps = 5
    let resumed = try Trainer(resuming: reloaded, config: gentle, training: ids[..<cut], validation: ids[cut...], checkpointPath: path)
    try resumed.run()
    #expect(resumed.state.step == 5)
  }

  @Test func aNewRunThatOverflowsAtOnceNamesNoCheckpoint() throws {
    let dir = TempDir()
    defer { dir.cleanup() }
    let path = dir.file("n.safetensors")
    let (tok, ids) = try smallCorpus()
    var (m, t) = tinyConfigs(vocab: tok.vocabulary.count, steps: 5)
    t.learningRate = 1e38
    t.checkpointEvery = 1
    let trainer = try Trainer(model: m, config: t, tokenizer: tok, training: ids[...], validation: [], corpus: nil, checkpointPath: path)
    do {
      try trainer.run()
      Issue.record("lr 1e38 must stop the run")
    } catch let e as TrainingError {
      guard case .nonFiniteUpdate(1, _, nil) = e else { Issue.record("wrong error \(e)"); return }
      #expect(e.description.contains("no checkpoint was written") && e.description.contains("start again"))
    }
    #expect(!FileManager.default.fileExists(atPath: path))
    _ = m
  }

  @Test func corpusShorterThanOneWindowSaysTheMinimum() throws {
    let (tok, ids) = try smallCorpus()
    var (m, t) = tinyConfigs(vocab: tok.vocabulary.count, steps: 5)
    t.batch = 100
    t.seqLength = 100
    #expect(throws: TrainingError.corpusTooShort(characters: ids.count, needed: 10_001, batch: 100, seqLength: 100)) {
      try Trainer(model: m, config: t, tokenizer: tok, training: ids[...], validation: [], corpus: nil, checkpointPath: nil)
    }
  }

  @Test func schedules() {
    var t = TrainingConfig()
    t.learningRate = 1
    t.steps = 100
    t.schedule = .step
    t.decayEvery = 10
    t.decayFactor = 0.5
    #expect(t.learningRate(atStep: 10) == 1)
    #expect(t.learningRate(atStep: 11) == 0.5)
    #expect(t.learningRate(atStep: 21) == 0.25)
    t.schedule = .cosine
    #expect(t.learningRate(atStep: 1) == 1)
    #expect(abs(t.learningRate(atStep: 51) - 0.5) < 1e-12)
    #expect(t.learningRate(atStep: 101) < 1e-12)
    t.schedule = .constant
    t.warmupSteps = 4
    #expect(t.learningRate(atStep: 1) == 0.25)
    #expect(t.learningRate(atStep: 4) == 1)
    #expect(t.learningRate(atStep: 5) == 1)
  }

  @Test func clippingReturnsTheNormAndClips() {
    var g: [Float] = [3, 4]
    let norm = g.withUnsafeMutableBufferPointer { GradientClipping.clipGlobalNorm($0, maxNorm: 1) }
    #expect(norm == 5)
    #expect(abs(g[0] - 0.6) < 1e-6 && abs(g[1] - 0.8) < 1e-6)
    var h: [Float] = [3, -4, 0.5]
    h.withUnsafeMutableBufferPointer { GradientClipping.clipValue($0, 1) }
    #expect(h == [1, -1, 0.5])
    // A long vector (16-lane blocks, 4,096-element chunks and a tail) against a Double sum.
    var gen = SeededGenerator(seed: 4)
    var long = (0..<10_007).map { _ in Float(gen.nextUnitDouble() * 2 - 1) }
    let want = long.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
    let got = long.withUnsafeMutableBufferPointer { GradientClipping.clipGlobalNorm($0, maxNorm: 0) }
    #expect(abs(got - want) <= 1e-6 * want, "norm \(got), Double \(want)")
    long[9_000] = .nan
    #expect(long.withUnsafeMutableBufferPointer { GradientClipping.clipGlobalNorm($0, maxNorm: 1) }.isNaN)
  }

  @Test func adamMatchesItsFormulaOnOneStep() {
    // One Adam step from zero moments moves each weight by lr·sign(g) (bias-corrected m/√v = ±1).
    var p: [Float] = [1, 1]
    let g: [Float] = [0.5, -2]
    var opt = OptimizerState(kind: .adam, count: 2)
    p.withUnsafeMutableBufferPointer { pp in g.withUnsafeBufferPointer { opt.update(params: pp, grads: $0, lr: 0.1, momentum: 0) } }
    #expect(abs(p[0] - 0.9) < 1e-6 && abs(p[1] - 1.1) < 1e-6)
  }

  /// A resumed run keeps its data layout: the carried state holds B streams and the position
  /// counts windows of B × T, so another batch or sequence length is refused by the trainer
  /// itself with a typed error (it used to reach a precondition when only the CLI refused it).
  @Test func resumingWithAnotherBatchOrSequenceLengthIsRefused() throws {
    let dir = TempDir()
    defer { dir.cleanup() }
    let path = dir.file("run.safetensors")
    let (first, _, ids) = try makeTrainer(steps: 3, path: path)
    try first.run()
    let ckpt = try Checkpoint.load(from: path)
    let saved = try #require(ckpt.training)
    let cut = ids.count - ids.count / 10
    var wider = saved
    wider.batch = saved.batch + 2
    #expect(throws: TrainingError.layoutChanged(checkpointBatch: saved.batch, checkpointSeqLength: saved.seqLength, batch: saved.batch + 2, seqLength: saved.seqLength)) {
      try Trainer(resuming: ckpt, config: wider, training: ids[..<cut], validation: ids[cut...], checkpointPath: nil)
    }
    var longer = saved
    longer.seqLength = saved.seqLength * 2
    #expect(throws: TrainingError.layoutChanged(checkpointBatch: saved.batch, checkpointSeqLength: saved.seqLength, batch: saved.batch, seqLength: saved.seqLength * 2)) {
      try Trainer(resuming: ckpt, config: longer, training: ids[..<cut], validation: ids[cut...], checkpointPath: nil)
    }
    // A checkpoint whose training record was lost still has its carried state's B.
    var bare = ckpt
    bare.training = nil
    #expect(throws: TrainingError.self) {
      try Trainer(resuming: bare, config: wider, training: ids[..<cut], validation: ids[cut...], checkpointPath: nil)
    }
    #expect(throws: Never.self) {
      try Trainer(resuming: ckpt, config: saved, training: ids[..<cut], validation: ids[cut...], checkpointPath: nil)
    }
  }

  @Test func invalidOptionsAreRejectedWithTheirNames() {
    var t = TrainingConfig()
    t.learningRate = 0
    #expect(throws: TrainingError.outOfRange(.learningRate, value: "0.0", expected: "a number > 0, e.g. 2e-3")) { try t.validate() }
    #expect(TrainingError.outOfRange(.batch, value: "0", expected: "an integer from 1 to 65536").description == "batch size 0 is out of range: expected an integer from 1 to 65536")
    t = TrainingConfig()
    t.validationFraction = 1
    #expect(throws: TrainingError.self) { try t.validate() }
    #expect(throws: SamplingError.self) { try SamplingOptions(temperature: -1).validate() }
    #expect(throws: SamplingError.self) { try SamplingOptions(topP: 0).validate() }
    #expect(throws: SamplingError.self) { try SamplingOptions(topK: -1).validate() }
  }
}
