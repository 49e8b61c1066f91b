import CharLSTMKit
import Testing

/// ``StateReset``: how often it resets, which streams, and that a shard of the batch makes the
/// same draws as the whole batch.
struct StateResetTests {
  /// The reset frequency is P within 5 standard deviations over 3 epochs × 200 windows × 50
  /// streams, for P = 0.02, 0.1 and 0.5; P = 1 resets every stream, P = 0 is off.
  @Test func resetsStreamsWithProbabilityP() throws {
    for p in [0.02, 0.1, 0.5] {
      let r = try #require(StateReset(probability: p, seed: 7))
      var hits = 0, n = 0
      for epoch in 1...3 {
        for window in 0..<200 {
          for stream in 0..<50 {
            n += 1
            if r.resets(epoch: epoch, window: window, stream: stream) { hits += 1 }
          }
        }
      }
      let mean = Double(n) * p, sd = (Double(n) * p * (1 - p)).squareRoot()
      #expect(abs(Double(hits) - mean) < 5 * sd, "P \(p): \(hits) resets of \(n), expected \(mean) ± \(sd)")
    }
    let all = try #require(StateReset(probability: 1, seed: 7))
    #expect((0..<1000).allSatisfy { all.resets(epoch: 1, window: $0, stream: $0 % 7) })
    #expect(StateReset(probability: 0, seed: 7) == nil)
  }

  /// Draws differ between seeds, windows and streams (no fixed pattern): two seeds agree on
  /// about P² + (1-P)² of the draws, not all of them.
  @Test func drawsDependOnSeedWindowAndStream() throws {
    let a = try #require(StateReset(probability: 0.5, seed: 1)), b = try #require(StateReset(probability: 0.5, seed: 2))
    var same = 0
    for w in 0..<100 { for s in 0..<40 where a.resets(epoch: 1, window: w, stream: s) == b.resets(epoch: 1, window: w, stream: s) { same += 1 } }
    #expect(abs(Double(same) - 2000) < 5 * 31.7, "two seeds agree on \(same) of 4000 draws")
    let byWindow = (0..<40).map { a.resets(epoch: 1, window: 3, stream: $0) }
    let nextWindow = (0..<40).map { a.resets(epoch: 1, window: 4, stream: $0) }
    let nextEpoch = (0..<40).map { a.resets(epoch: 2, window: 3, stream: $0) }
    #expect(byWindow.contains(true) && byWindow.contains(false), "one window resets some streams, not all or none")
    #expect(byWindow != nextWindow && byWindow != nextEpoch)
  }

  /// `apply` zeroes h and c of exactly the drawn streams in every layer and leaves the others'
  /// bits as they were; two shards of the batch, each applied with its first stream's index,
  /// give the whole batch's result.
  @Test func applyZeroesTheDrawnStreamsInEveryLayerAndShardsAgree() throws {
    let (L, B, H) = (3, 10, 5)
    let r = try #require(StateReset(probability: 0.4, seed: 11))
    var generator = SeededGenerator(seed: 3)
    var whole = LSTMState<Float>(layers: L, batch: B, hidden: H)
    for i in whole.h.indices {
      whole.h[i] = generator.nextUnitFloat() + 0.5
      whole.c[i] = -generator.nextUnitFloat() - 0.5
    }
    let before = whole
    let count = r.apply(to: &whole, first: 0, epoch: 2, window: 9)
    let drawn = (0..<B).filter { r.resets(epoch: 2, window: 9, stream: $0) }
    #expect(count == drawn.count && count > 0 && count < B, "\(count) of \(B) reset: pick a seed that resets some")
    for l in 0..<L {
      for b in 0..<B {
        for k in 0..<H {
          let i = (l * B + b) * H + k
          if drawn.contains(b) {
            #expect(whole.h[i] == 0 && whole.c[i] == 0, "layer \(l) stream \(b) not reset")
          } else {
            #expect(whole.h[i].bitPattern == before.h[i].bitPattern && whole.c[i].bitPattern == before.c[i].bitPattern)
          }
        }
      }
    }
    // Shards [0, 4) and [4, 10), as two processes of a distributed run hold them.
    for (first, count) in [(0, 4), (4, 6)] {
      var shard = LSTMState<Float>(layers: L, batch: count, hidden: H)
      for l in 0..<L {
        for j in 0..<count {
          for k in 0..<H {
            shard.h[(l * count + j) * H + k] = before.h[(l * B + first + j) * H + k]
            shard.c[(l * count + j) * H + k] = before.c[(l * B + first + j) * H + k]
          }
        }
      }
      r.apply(to: &shard, first: first, epoch: 2, window: 9)
      for l in 0..<L {
        for j in 0..<count {
          for k in 0..<H {
            #expect(shard.h[(l * count + j) * H + k] == whole.h[(l * B + first + j) * H + k])
            #expect(shard.c[(l * count + j) * H + k] == whole.c[(l * B + first + j) * H + k])
          }
        }
      }
    }
  }
}
