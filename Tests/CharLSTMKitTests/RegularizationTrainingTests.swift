import CharLSTMKit
import Foundation
import Testing

/// The training-only regularizers in a run: exact resume with all of them on, their record in
/// checkpoints, validation of their values, and evaluation that never depends on them.
@Suite(.serialized) struct RegularizationTrainingTests {
  init() { Kernels.setThreads(1) }

  /// Every option on: locked dropout 0.3, weight drop 0.3, embedding dropout 0.2, weight decay
  /// 0.1, state reset 0.2.
  static func allOn(_ t: inout TrainingConfig) {
    t.dropoutKind = .locked
    t.weightDrop = 0.3
    t.embedDropout = 0.2
    t.weightDecay = 0.1
    t.stateReset = 0.2
  }

  private func makeTrainer(
    steps: Int, path: String? = nil, dropout: Double = 0.3, options: (inout TrainingConfig) -> Void = allOn
  ) throws -> (Trainer, TokenIDs) {
    try smallTrainer(steps: steps, dropout: dropout, path: path, configure: options)
  }

  /// N = 40 steps in one go equal k = 17 steps, save, load, resume to 40, bit for bit: the
  /// masks of every window come from the checkpointed dropout generator. (17 is not a multiple
  /// of the validation interval, so the resume starts between validations.)
  @Test func exactResumeWithEveryOptionOn() throws {
    let dir = TempDir()
    defer { dir.cleanup() }
    let (whole, ids) = try makeTrainer(steps: 40)
    try whole.run()
    let path = dir.file("run.safetensors")
    let (first, _) = try makeTrainer(steps: 17, path: path)
    try first.run()
    let (resumed, ckpt) = try resumedTrainer(from: path, steps: 40, ids: ids)
    #expect(ckpt.state?.step == 17)
    let config = try #require(ckpt.training)
    #expect(config.dropoutKind == .locked && config.weightDrop == 0.3 && config.embedDropout == 0.2 && config.weightDecay == 0.1 && config.stateReset == 0.2, "the checkpoint records the options: \(config)")
    try resumed.run()
    expectSameRun(whole, resumed)
    // The options change the run: without them the same seed ends elsewhere.
    let (plain, _) = try makeTrainer(steps: 40, options: { _ in })
    try plain.run()
    #expect(firstBitDifference(whole.model.parameters, plain.model.parameters) != nil)
  }

  /// Each option alone changes the weights a run ends with (so each is really applied), and
  /// the same seed gives the same run.
  @Test func eachOptionChangesTheRunAndIsDeterministic() throws {
    let (plain, _) = try makeTrainer(steps: 6, options: { _ in })
    try plain.run()
    let options: [(String, (inout TrainingConfig) -> Void)] = [
      ("locked", { $0.dropoutKind = .locked }), ("weight drop", { $0.weightDrop = 0.5 }),
      ("embedding dropout", { $0.embedDropout = 0.5 }), ("weight decay", { $0.weightDecay = 1 }),
      ("state reset", { $0.stateReset = 0.5 }),
    ]
    for (name, option) in options {
      let (a, _) = try makeTrainer(steps: 6, options: option)
      let (b, _) = try makeTrainer(steps: 6, options: option)
      try a.run()
      try b.run()
      #expect(firstBitDifference(a.model.parameters, b.model.parameters) == nil, "\(name): same seed, same run")
      #expect(firstBitDifference(a.model.parameters, plain.model.parameters) != nil, "\(name) changed nothing")
    }
  }

  /// With every option on the loss still falls.
  @Test func aRegularizedRunLearns() throws {
    let (trainer, _) = try makeTrainer(steps: 150)
    var losses: [Double] = []
    try trainer.run { if case .step(let r) = $0 { losses.append(r.loss) } }
    let tail = losses.suffix(10).reduce(0, +) / 10
    #expect(tail < losses[0] - 0.8, "loss \(losses[0]) → \(tail)")
  }

  /// The evaluation loss of given weights is the same whatever the run's options were: the
  /// trainer's own validation (after its training windows drew masks), and Evaluation on a
  /// model loaded from the checkpoint, equal plain evaluation of the same weights.
  @Test func evaluationDoesNotDependOnTheOptions() throws {
    let dir = TempDir()
    defer { dir.cleanup() }
    let path = dir.file("e.safetensors")
    let (trainer, ids) = try makeTrainer(steps: 10, path: path)
    var validations: [Double] = []
    try trainer.run { if case .validation(_, let l, _, _, _) = $0 { validations.append(l) } }
    let cut = ids.count - ids.count / 10
    let val = ids[cut...]
    let c = trainer.config
    let (direct, _) = Evaluation.meanLoss(model: trainer.model, tokens: val, batch: c.batch, seqLength: c.seqLength)
    let loaded = try Checkpoint.load(from: path)
    let (reloaded, _) = Evaluation.meanLoss(model: loaded.makeModel(), tokens: val, batch: c.batch, seqLength: c.seqLength)
    let other = CharModel<Float>(config: loaded.model, parameters: loaded.parameters)
    let (plain, _) = Evaluation.meanLoss(model: other, tokens: val, batch: c.batch, seqLength: c.seqLength)
    #expect(validations.last == direct && direct == reloaded && reloaded == plain, "\(validations) \(direct) \(reloaded) \(plain)")
    // The same weights validated by trainers with other options (none, or others) agree too.
    for option in [{ (t: inout TrainingConfig) in t = TrainingConfig() }, { (t: inout TrainingConfig) in t.weightDrop = 0.9; t.embedDropout = 0.9 }] {
      var config = loaded.training!
      option(&config)
      config.batch = c.batch
      config.seqLength = c.seqLength
      config.steps = 10
      config.precision = c.precision
      let again = try Trainer(resuming: loaded, config: config, training: ids[..<cut], validation: val, checkpointPath: nil)
      var seen: [Double] = []
      try again.run { if case .validation(_, let l, _, _, _) = $0 { seen.append(l) } }
      #expect(seen == [plain], "\(seen) vs \(plain)")
    }
  }

  /// Out-of-range values are refused with one line describing the value (not a flag).
  @Test func valuesAreValidated() throws {
    let bad: [((inout TrainingConfig) -> Void, TrainingSetting, String)] = [
      ({ $0.weightDrop = 1 }, .weightDrop, "1.0"), ({ $0.weightDrop = -0.1 }, .weightDrop, "-0.1"),
      ({ $0.embedDropout = .nan }, .embedDropout, "nan"), ({ $0.embedDropout = 1.5 }, .embedDropout, "1.5"),
      ({ $0.weightDecay = -1 }, .weightDecay, "-1.0"), ({ $0.weightDecay = .infinity }, .weightDecay, "inf"),
      ({ $0.stateReset = 1.5 }, .stateReset, "1.5"), ({ $0.stateReset = -0.5 }, .stateReset, "-0.5"),
      ({ $0.stateReset = .nan }, .stateReset, "nan"),
    ]
    for (option, setting, value) in bad {
      var t = TrainingConfig()
      option(&t)
      do {
        try t.validate()
        Issue.record("\(setting) \(value) accepted")
      } catch {
        guard case .outOfRange(let s, let v, _) = error else { Issue.record("wrong error \(error)"); continue }
        #expect(s == setting && v == value)
        #expect(error.description.hasPrefix("\(setting.rawValue) \(value) is out of range") && !error.description.contains("--"), "\(error)")
        #expect(!error.description.contains("\n"))
      }
    }
    var ok = TrainingConfig()
    ok.weightDrop = 0
    ok.embedDropout = 0.99
    ok.weightDecay = 0
    ok.stateReset = 1
    try ok.validate()
  }

  /// A checkpoint of a run without the options has none of their fields, and reads back as
  /// unset (so files written before them load unchanged).
  @Test func aPlainRunRecordsNoOptions() throws {
    let dir = TempDir()
    defer { dir.cleanup() }
    let path = dir.file("p.safetensors")
    let (trainer, _) = try makeTrainer(steps: 2, path: path, options: { _ in })
    try trainer.run()
    let file = try SafeTensorsFile.load(contentsOf: path)
    let training = try #require(file.metadata["training"])
    for key in ["dropoutKind", "weightDrop", "embedDropout", "weightDecay", "stateReset"] { #expect(!training.contains(key), "\(key) in \(training)") }
    let ckpt = try Checkpoint.load(from: path)
    #expect(ckpt.training?.regularization == Regularization.none && ckpt.training?.weightDecay == nil && ckpt.training?.stateReset == nil)
  }
}
