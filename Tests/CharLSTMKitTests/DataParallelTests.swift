import CharLSTMKit
import Foundation
import Testing

/// Data parallelism without MPI: a batch split into stream shards (threads standing in for
/// ranks) learns what the whole batch learns in one process.
@Suite(.serialized) struct DataParallelTests {
  init() { Kernels.setThreads(1) }

  /// B 6 × T 5, 2 layers with dropout, in Double so that only summation order differs.
  private func window(seed: UInt64) -> (CharModel<Double>, [Int32], [Int32], LSTMState<Double>) {
    let config = ModelConfig(vocabSize: 11, embedSize: 4, hiddenSize: 7, layers: 2, dropout: 0.3)
    var g = SeededGenerator(seed: seed)
    let model = CharModel<Double>(config: config, generator: &g)
    let (B, T) = (6, 5)
    let x = (0..<(B * T)).map { _ in Int32(g.next() % 11) }
    let y = (0..<(B * T)).map { _ in Int32(g.next() % 11) }
    var state = LSTMState<Double>.zeros(for: config, batch: B)
    for i in state.h.indices { state.h[i] = g.nextUnitDouble() - 0.5; state.c[i] = g.nextUnitDouble() - 0.5 }
    return (model, x, y, state)
  }

  /// Streams `r` of a time-major [T·B] window, and of a state [L, B, H].
  private func slice(_ v: [Int32], _ r: Range<Int>, B: Int, T: Int) -> [Int32] {
    (0..<T).flatMap { t in r.map { v[t * B + $0] } }
  }
  private func slice(_ s: LSTMState<Double>, _ r: Range<Int>) -> LSTMState<Double> {
    var out = LSTMState<Double>(layers: s.layers, batch: r.count, hidden: s.hidden)
    for l in 0..<s.layers {
      for (j, b) in r.enumerated() {
        for k in 0..<s.hidden {
          out.h[(l * r.count + j) * s.hidden + k] = s.h[(l * s.batch + b) * s.hidden + k]
          out.c[(l * r.count + j) * s.hidden + k] = s.c[(l * s.batch + b) * s.hidden + k]
        }
      }
    }
    return out
  }

  /// Also with every regularizer: locked masks are the whole batch's rows for the shard's
  /// streams, weight-drop and embedding masks are the whole batch's.
  @Test(arguments: [[0..<6], [0..<3, 3..<6], [0..<1, 1..<4, 4..<6]], [Regularization.none, Regularization(dropoutKind: .locked, weightDrop: 0.3, embedDropout: 0.3)])
  func shardsOfAWindowSumToTheWholeWindow(shards: [Range<Int>], regularization: Regularization) {
    let (B, T) = (6, 5)
    let (whole, x, y, state) = window(seed: 7)
    var g = SeededGenerator(seed: 99)
    var s = state
    let wholeLoss = x.withUnsafeBufferPointer { xp in
      y.withUnsafeBufferPointer { yp in whole.trainWindow(inputs: xp, targets: yp, batch: B, steps: T, state: &s, dropoutGenerator: &g, regularization: regularization) }
    }
    var sum = [Double](repeating: 0, count: whole.parameters.count)
    var lossSum = 0.0
    var naive = sum  // the same shards with their own masks and normalization: what must not happen
    for r in shards {
      for own in [false, true] {
        let (part, _, _, _) = window(seed: 7)
        var pg = SeededGenerator(seed: 99)
        var ps = slice(state, r)
        let px = slice(x, r, B: B, T: T), py = slice(y, r, B: B, T: T)
        let loss = px.withUnsafeBufferPointer { xp in
          py.withUnsafeBufferPointer { yp in
            part.trainWindow(inputs: xp, targets: yp, batch: r.count, steps: T, state: &ps, dropoutGenerator: &pg,
                             shard: own ? nil : StreamShard(total: B, range: r), regularization: regularization)
          }
        }
        if own {
          for i in naive.indices { naive[i] += part.gradients[i] * Double(r.count) / Double(B) }
          continue
        }
        lossSum += loss
        for i in sum.indices { sum[i] += part.gradients[i] }
        #expect(pg == g, "a shard must advance the dropout generator by the whole batch's draws")
        // Its final state is the whole batch's state for those streams.
        let expected = slice(s, r)
        #expect(zip(ps.h, expected.h).allSatisfy { abs($0 - $1) < 1e-12 })
      }
    }
    #expect(abs(lossSum - wholeLoss) < 1e-12, "loss \(lossSum) vs \(wholeLoss)")
    let worst = zip(sum, whole.gradients).map { abs($0 - $1) }.max()!
    #expect(worst < 1e-12, "gradients of the shards differ from the whole batch's by \(worst)")
    if shards.count > 1 {
      // The check can fail: shards that drew their own dropout masks learn something else.
      let off = zip(naive, whole.gradients).map { abs($0 - $1) }.max()!
      #expect(off > 1e-3, "shards with their own masks should not match (max difference \(off))")
    }
  }

  @Test func evaluationPartsAddUpToTheWhole() throws {
    let (tok, ids) = try smallCorpus()
    var g = SeededGenerator(seed: 3)
    let model = CharModel<Float>(config: ModelConfig(vocabSize: tok.vocabulary.count, embedSize: 8, hiddenSize: 16, layers: 2), generator: &g)
    let text = ids[..<1003]  // 1,002 predictions: 7 streams of 143 and a tail of 1
    let (mean, count) = Evaluation.meanLoss(model: model, tokens: text, batch: 7, seqLength: 20)
    for parts in [1, 2, 3, 7, 9] {
      var total = 0.0
      for p in 0..<parts {
        let (sum, n) = Evaluation.lossSum(model: model, tokens: text, batch: 7, seqLength: 20, part: p, of: parts)
        #expect(n == count)
        total += sum
      }
      #expect(abs(total / Double(count) - mean) < 1e-6, "\(parts) parts: \(total / Double(count)) vs \(mean)")
    }
  }

  private func trainer(steps: Int, ranks: Int?, path: String? = nil, ema: Double? = nil) throws -> (Trainer, TokenIDs) {
    try smallTrainer(steps: steps, dropout: 0.25, path: path) { t in
      t.batch = 5  // shards of 2 and 3 streams
      t.evalEvery = 4
      t.ranks = ranks
      t.emaDecay = ema
    }
  }

  @Test func twoRanksLearnLikeOneProcess() throws {
    let dir = TempDir()
    defer { dir.cleanup() }
    let (one, _) = try trainer(steps: 12, ranks: nil, path: dir.file("one.safetensors"))
    var oneValidations: [Double] = []
    try one.run { if case .validation(_, let l, _, _, _) = $0 { oneValidations.append(l) } }

    let path = dir.file("two.safetensors")
    let results = LocalGroup(size: 2).run { rank -> ([Float], [Double], Int) in
      let (t, _) = try trainer(steps: 12, ranks: 2, path: rank.rank == 0 ? path : nil)
      try t.distribute(over: rank)
      #expect(t.shard.count == [2, 3][rank.rank])
      var validations: [Double] = []
      try t.run { if case .validation(_, let l, _, _, _) = $0 { validations.append(l) } }
      return (t.model.parameters, validations, rank.calls)
    }
    let two = try results.map { try $0.get() }
    #expect(two[0].2 == two[1].2, "ranks made different numbers of collective calls")
    #expect(firstBitDifference(two[0].0, two[1].0) == nil, "the ranks' weights must be identical")
    let worst = zip(one.model.parameters, two[0].0).map { abs($0 - $1) / (abs($0) + 1e-2) }.max()!
    #expect(worst < 1e-4, "2 ranks drifted from 1 process by \(worst) (relative)")
    #expect(oneValidations.count == two[0].1.count)
    for (a, b) in zip(oneValidations, two[0].1) { #expect(abs(a - b) < 1e-5, "validation \(a) vs \(b)") }

    // The checkpoint rank 0 wrote holds the whole batch's state and the same generators.
    let a = try Checkpoint.load(from: dir.file("one.safetensors"))
    let b = try Checkpoint.load(from: path)
    #expect(b.training?.ranks == 2)
    #expect(b.hidden?.batch == 5)
    #expect(a.state?.dropoutGenerator == b.state?.dropoutGenerator && a.state?.dataGenerator == b.state?.dataGenerator)
    let h = zip(a.hidden!.h, b.hidden!.h).map { abs($0 - $1) }.max()!
    #expect(h < 1e-4, "gathered state differs by \(h)")
  }

  /// With a weight average too: every rank keeps the same average, the checkpoint holds it.
  @Test func twoRankResumeIsBitIdenticalAndADifferentCountIsRefused() throws {
    let dir = TempDir()
    defer { dir.cleanup() }
    let straight = LocalGroup(size: 2).run { rank -> [Float] in
      let (t, _) = try trainer(steps: 12, ranks: 2, ema: 0.9)
      try t.distribute(over: rank)
      try t.run()
      return t.model.parameters + t.optimizer.first + t.optimizer.second + t.averagedParameters!
    }
    let path = dir.file("half.safetensors")
    _ = LocalGroup(size: 2).run { rank in
      let (t, _) = try trainer(steps: 6, ranks: 2, path: rank.rank == 0 ? path : nil, ema: 0.9)
      try t.distribute(over: rank)
      try t.run()
    }
    let ckpt = try Checkpoint.load(from: path)
    var resumedConfig = try #require(ckpt.training)
    resumedConfig.steps = 12
    let config = resumedConfig
    let (_, ids) = try smallCorpus()
    let cut = ids.count - ids.count / 10
    let resumed = LocalGroup(size: 2).run { rank -> [Float] in
      let t = try Trainer(resuming: ckpt, config: config, training: ids[..<cut], validation: ids[cut...], checkpointPath: nil)
      try t.distribute(over: rank)
      try t.run()
      return t.model.parameters + t.optimizer.first + t.optimizer.second + t.averagedParameters!
    }
    #expect(firstBitDifference(try straight[0].get(), try straight[1].get()) == nil, "the ranks' weights and averages must be identical")
    for r in 0..<2 {
      let (s, z) = (try straight[r].get(), try resumed[r].get())
      if let i = firstBitDifference(s, z) { Issue.record("rank \(r): value \(i) differs after resume: \(s[i]) vs \(z[i])") }
    }
    var single = config
    single.ranks = nil
    #expect(throws: TrainingError.ranksChanged(checkpoint: 2, now: 1)) {
      try Trainer(resuming: ckpt, config: single, training: ids[..<cut], validation: ids[cut...], checkpointPath: nil)
    }
    // A configuration of 2 ranks that was never distributed refuses to train.
    let undistributed = try Trainer(resuming: ckpt, config: config, training: ids[..<cut], validation: ids[cut...], checkpointPath: nil)
    #expect(throws: TrainingError.ranksChanged(checkpoint: 2, now: 1)) { try undistributed.run() }
  }

  @Test func ranksAgreeOrAllFailWithTheLowestFailingRanksMessage() {
    struct Broken: Error, CustomStringConvertible { var description: String }
    let ok = LocalGroup(size: 3).run { rank in
      try rank.agreeing({ 42 }, fingerprint: { UInt64($0) }, describe: { "\($0)" })
    }
    #expect(ok.allSatisfy { (try? $0.get()) == 42 })
    let failed = LocalGroup(size: 3).run { rank in
      try rank.agreeing({ () throws -> Int in
        if rank.rank >= 1 { throw Broken(description: "rank \(rank.rank) cannot read corpus.txt") }
        return 1
      }, fingerprint: { UInt64($0) }, describe: { "\($0)" })
    }
    for f in failed {
      #expect(throws: RunAgreementError.rankFailed(rank: 1, ranks: 3, message: "rank 1 cannot read corpus.txt")) { try f.get() }
    }
    let mismatched = LocalGroup(size: 3).run { rank in
      try rank.agreeing({ rank.rank == 2 ? 7 : 5 }, fingerprint: { UInt64($0) }, describe: { "\($0)" })
    }
    for m in mismatched {
      #expect(throws: RunAgreementError.mismatch(rank: 2, ranks: 3, fingerprint: 7, expected: 5)) { try m.get() }
    }
  }
}
