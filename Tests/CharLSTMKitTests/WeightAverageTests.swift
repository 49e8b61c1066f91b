import CharLSTMKit
import Foundation
import Testing

/// The moving average of the weights (`--ema`): its formula against a Double replay of the
/// trained weights' history, training left unchanged, validation and checkpoints holding the
/// average, and exact resume.
@Suite(.serialized) struct WeightAverageTests {
  init() { Kernels.setThreads(1) }

  private func makeTrainer(steps: Int, ema: Double?, path: String? = nil) throws -> (Trainer, TokenIDs) {
    try smallTrainer(steps: steps, dropout: 0.2, path: path) { $0.emaDecay = ema }
  }

  /// dₙ = min(D, (1 + n)/(10 + n)); D = 0 is off.
  @Test func decayWarmsUpToD() throws {
    let a = try #require(WeightAverage(decay: 0.99))
    #expect(a.keep(atUpdate: 1) == 2.0 / 11)
    #expect(a.keep(atUpdate: 80) == 81.0 / 90)
    #expect(a.keep(atUpdate: 890) == 0.99 && a.keep(atUpdate: 100_000) == 0.99)
    #expect(WeightAverage(decay: 0) == nil)
  }

  /// The trained weights of a run with the average equal those of the same run without it, bit
  /// for bit, at every step; the average equals a Double replay of a ← a + (1 − dₙ)(p − a) over
  /// that history, from the initial weights.
  @Test func theAverageFollowsTheTrainedWeightsAndChangesNothingElse() throws {
    let steps = 30
    let (plain, _) = try makeTrainer(steps: steps, ema: nil)
    var reference = plain.model.parameters.map(Double.init)
    let average = try #require(WeightAverage(decay: 0.9))
    var history: [[Float]] = []
    try plain.run { e in
      guard case .step(let r) = e else { return }
      history.append(plain.model.parameters)
      let keep = average.keep(atUpdate: r.step)
      for i in reference.indices { reference[i] = keep * reference[i] + (1 - keep) * Double(plain.model.parameters[i]) }
    }
    let (averaged, _) = try makeTrainer(steps: steps, ema: 0.9)
    #expect(averaged.averagedParameters == averaged.model.parameters, "the average starts at the initial weights")
    var step = 0
    try averaged.run { e in
      guard case .step = e else { return }
      #expect(firstBitDifference(averaged.model.parameters, history[step]) == nil, "trained weights differ at step \(step + 1)")
      step += 1
    }
    #expect(step == steps)
    let got = try #require(averaged.averagedParameters)
    var worst = 0.0
    for i in got.indices { worst = max(worst, abs(Double(got[i]) - reference[i]) / (1e-3 + abs(reference[i]))) }
    #expect(worst < 1e-5, "average vs Double replay: relative error \(worst)")
    // The average really differs from the trained weights.
    #expect(firstBitDifference(got, averaged.model.parameters) != nil)
  }

  /// Validation scores the average (and reports the trained weights' loss beside it); the
  /// checkpoints hold the average as the model and the trained weights for resuming; a model
  /// loaded from them evaluates to the reported losses.
  @Test func validationAndCheckpointsUseTheAverage() throws {
    let dir = TempDir()
    defer { dir.cleanup() }
    let path = dir.file("ema.safetensors")
    let (trainer, ids) = try makeTrainer(steps: 20, ema: 0.95, path: path)
    var reported: [(Double, Double?)] = []
    try trainer.run { if case .validation(_, let l, _, _, let trained) = $0 { reported.append((l, trained)) } }
    let (loss, trained) = try #require(reported.last)
    let c = trainer.config
    let val = ids[(ids.count - ids.count / 10)...]
    let ckpt = try Checkpoint.load(from: path)
    #expect(ckpt.training?.emaDecay == 0.95)
    #expect(try SafeTensorsFile.load(contentsOf: path).metadata["format_version"] == "3")
    #expect(ckpt.parameters == trainer.averagedParameters && ckpt.trainingParameters == trainer.model.parameters)
    let (ofAverage, _) = Evaluation.meanLoss(model: ckpt.makeModel(), tokens: val, batch: c.batch, seqLength: c.seqLength)
    let (ofTrained, _) = Evaluation.meanLoss(model: trainer.model, tokens: val, batch: c.batch, seqLength: c.seqLength)
    #expect(loss == ofAverage && trained == ofTrained && ofAverage != ofTrained, "\(loss) \(ofAverage) · \(String(describing: trained)) \(ofTrained)")
    // The best copy holds the average that scored best.
    let best = try Checkpoint.load(from: Trainer.bestPath(for: path))
    let (ofBest, _) = Evaluation.meanLoss(model: best.makeModel(), tokens: val, batch: c.batch, seqLength: c.seqLength)
    #expect(ofBest == trainer.state.bestValidationLoss)
    // A run without the average reports no second loss and writes no trained-weights tensors.
    let (plain, _) = try makeTrainer(steps: 10, ema: nil, path: dir.file("plain.safetensors"))
    var seconds: [Double?] = []
    try plain.run { if case .validation(_, _, _, _, let t) = $0 { seconds.append(t) } }
    #expect(!seconds.isEmpty && seconds.allSatisfy { $0 == nil })
    let file = try SafeTensorsFile.load(contentsOf: dir.file("plain.safetensors"))
    #expect(!file.tensorNames.contains { $0.hasPrefix("training.") })
    #expect(try SafeTensorsFile.load(contentsOf: path).tensorNames.contains("training.lstm.weight_hh_l0"))
  }

  /// 35 steps in one go equal 12, save, load, resume to 35, bit for bit: trained weights,
  /// moments and the average.
  @Test func exactResumeKeepsTheAverage() throws {
    let dir = TempDir()
    defer { dir.cleanup() }
    let (whole, ids) = try makeTrainer(steps: 35, ema: 0.9)
    try whole.run()
    let path = dir.file("r.safetensors")
    let (first, _) = try makeTrainer(steps: 12, ema: 0.9, path: path)
    try first.run()
    let (resumed, ckpt) = try resumedTrainer(from: path, steps: 35, ids: ids)
    try resumed.run()
    expectSameRun(whole, resumed)
    #expect(whole.averagedParameters != nil)
    // Turning the average on or off, or changing D, on resume is refused.
    let cut = ids.count - ids.count / 10
    for d in [nil, 0.5] as [Double?] {
      var other = try #require(ckpt.training)
      other.emaDecay = d
      #expect(throws: TrainingError.averagingChanged(checkpoint: 0.9, now: d)) {
        try Trainer(resuming: ckpt, config: other, training: ids[..<cut], validation: ids[cut...], checkpointPath: nil)
      }
    }
  }

  /// A checkpoint that says it averages but lacks the trained weights, and a decay out of
  /// range, are refused with a message naming the problem.
  @Test func malformedAveragingIsRefused() throws {
    let dir = TempDir()
    defer { dir.cleanup() }
    let path = dir.file("m.safetensors")
    let (plain, _) = try makeTrainer(steps: 3, ema: nil, path: path)
    try plain.run()
    let file = try SafeTensorsFile.load(contentsOf: path)
    let claims = try rewritingMetadata(of: file, in: dir) { meta in
      meta["training"] = meta["training"]!.replacingOccurrences(of: "\"batch\":", with: "\"emaDecay\":0.9,\"batch\":")
      meta["format_version"] = "3"
    }
    // An averaging run's file without its trained weights, and one with them whose version
    // predates averages (an older build would resume it from the average).
    let (averaged, _) = try makeTrainer(steps: 3, ema: 0.9, path: dir.file("a.safetensors"))
    try averaged.run()
    let old = try rewritingMetadata(of: try SafeTensorsFile.load(contentsOf: dir.file("a.safetensors")), in: dir) { $0["format_version"] = "2" }
    for (bad, needle) in [(claims, "training.embedding.weight"), (old, "format version 2 cannot hold a weight average")] {
      #expect(throws: CheckpointError.self) { try Checkpoint.load(from: bad) }
      do {
        _ = try Checkpoint.load(from: bad)
      } catch {
        #expect("\(error)".contains(needle), "\(error)")
      }
    }
    for d in [1.0, -0.1, .nan, .infinity] {
      var t = TrainingConfig()
      t.emaDecay = d
      #expect(throws: TrainingError.self) { try t.validate() }
      do { try t.validate() } catch { #expect(error == .outOfRange(.emaDecay, value: "\(d)", expected: "a number in [0, 1), e.g. 0.999 (0 turns it off)")) }
    }
  }

  /// The validation loss of an averaged run (the average's) falls as the run learns.
  @Test func anAveragedRunLearns() throws {
    let (trainer, _) = try makeTrainer(steps: 120, ema: 0.95)
    var validations: [Double] = []
    try trainer.run { if case .validation(_, let l, _, _, _) = $0 { validations.append(l) } }
    #expect(validations.count >= 2 && validations.last! < validations.first! - 0.5, "\(validations)")
  }
}
