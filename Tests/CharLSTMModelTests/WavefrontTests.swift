// The model with its layers as a wavefront (two or more threads, small layers) against the same
// model walking its layers one after the other (one thread): the same bits, regularizers and all.

import CharLSTMKernels
import Foundation
import Testing

@testable import CharLSTMModel

@Suite(.serialized) struct WavefrontModelTests {
  /// Two training windows (state carried from one to the next) and an evaluation window;
  /// returns the losses, the gradients, the final state and the dropout generator's next draw.
  private func windows(_ config: ModelConfig, _ regularization: Regularization, threads: Int) -> ([Double], [Float], [Float], UInt64) {
    let saved = Kernels.threads
    defer { Kernels.setThreads(saved) }
    Kernels.setThreads(threads)
    var g = SeededGenerator(seed: 5)
    let model = CharModel<Float>(config: config, generator: &g)
    let (B, T) = (6, 7)
    var state = LSTMState<Float>.zeros(for: config, batch: B)
    var dropout = SeededGenerator(seed: 6)
    var losses: [Double] = []
    for w in 0..<2 {
      let win = Window(config: config, batch: B, steps: T, seed: 10 + UInt64(w), nonZeroState: false)
      losses.append(win.inputs.withUnsafeBufferPointer { x in
        win.targets.withUnsafeBufferPointer { y in
          model.trainWindow(
            inputs: x, targets: y, batch: B, steps: T, state: &state, dropoutGenerator: &dropout,
            regularization: regularization)
        }
      })
    }
    let eval = Window(config: config, batch: B, steps: T, seed: 20, nonZeroState: false)
    losses.append(eval.inputs.withUnsafeBufferPointer { x in
      eval.targets.withUnsafeBufferPointer { y in
        model.evaluateWindow(inputs: x, targets: y, batch: B, steps: T, state: &state)
      }
    })
    return (losses, model.gradients, state.h + state.c, dropout.next())
  }

  @Test(arguments: [
    (2, 64, Regularization.none, 0.0), (2, 128, Regularization(dropoutKind: .locked, weightDrop: 0.3, embedDropout: 0.2), 0.25),
    (3, 64, Regularization(weightDrop: 0.2), 0.3),
  ])
  func wavefrontEqualsTheLayerWalk(layers: Int, hidden: Int, regularization: Regularization, dropout: Double) {
    var config = ModelConfig(vocabSize: 11, embedSize: 8, hiddenSize: hidden, layers: layers)
    config.dropout = dropout
    let runs = Float.lstmStackRuns(layers: layers, hidden: hidden, batch: 6, threads: 2)
    // Where the kernels have no wavefront (the portable path) both runs walk the layers.
    #expect(runs || Kernels.isa == .portable, "the wavefront should run for \(layers)×\(hidden) on 2 threads")
    let walk = windows(config, regularization, threads: 1)
    let wave = windows(config, regularization, threads: 2)
    #expect(walk.0.map(\.bitPattern) == wave.0.map(\.bitPattern), "losses \(walk.0) vs \(wave.0)")
    #expect(firstDifference(walk.1, wave.1) == nil, "gradients: \(firstDifference(walk.1, wave.1) ?? "")")
    #expect(firstDifference(walk.2, wave.2) == nil, "final states: \(firstDifference(walk.2, wave.2) ?? "")")
    #expect(walk.3 == wave.3, "the dropout generator advanced differently")
  }

  /// The thread count is one value for the process, and the wavefront runs only from two
  /// threads up: a window whose forward pass walked the layers (one thread) must not run its
  /// backward pass as a wavefront (two threads, set meanwhile by another thread), whose buffers
  /// the forward pass never filled. Trains fresh models (a model allocates those buffers the
  /// first time its forward pass is a wavefront) one window each while another thread keeps
  /// flipping the count between 1 and 2; the results must equal those at a fixed count (both
  /// paths give the same bits). Before each window asked once, this trapped in
  /// `stackBackward` (index out of range) in 4 of 5 runs of this test alone.
  @Test func aWindowKeepsItsPathWhenTheThreadCountChanges() {
    var config = ModelConfig(vocabSize: 11, embedSize: 8, hiddenSize: 64, layers: 2)
    config.dropout = 0.2
    let saved = Kernels.threads
    defer { Kernels.setThreads(saved) }
    func train(flipping: Bool) -> [Float] {
      var out: [Float] = []
      let stop = Flag()
      let flipper = Thread {
        var n = 1
        while flipping && !stop.isSet {
          Kernels.setThreads(n)
          n = 3 - n
        }
        stop.done.signal()
      }
      flipper.start()
      for m in 0..<64 {
        var g = SeededGenerator(seed: 9 + UInt64(m))
        let model = CharModel<Float>(config: config, generator: &g)
        let (B, T) = (32, 25)
        var state = LSTMState<Float>.zeros(for: config, batch: B)
        var dropout = SeededGenerator(seed: 3)
        let win = Window(config: config, batch: B, steps: T, seed: 30 + UInt64(m), nonZeroState: false)
        let loss = win.inputs.withUnsafeBufferPointer { x in
          win.targets.withUnsafeBufferPointer { y in
            model.trainWindow(
              inputs: x, targets: y, batch: B, steps: T, state: &state, dropoutGenerator: &dropout,
              regularization: Regularization(weightDrop: 0.1))
          }
        }
        out += [Float(loss)] + model.gradients + state.h + state.c
      }
      stop.set()
      stop.done.wait()
      return out
    }
    Kernels.setThreads(2)
    let fixed = train(flipping: false)
    let flipped = train(flipping: true)
    #expect(firstDifference(fixed, flipped) == nil, "\(firstDifference(fixed, flipped) ?? "")")
  }

  /// The first index where two arrays differ in bits, as a message.
  private func firstDifference(_ a: [Float], _ b: [Float]) -> String? {
    if a.count != b.count { return "counts \(a.count) vs \(b.count)" }
    return a.indices.first { a[$0].bitPattern != b[$0].bitPattern }.map { "index \($0): \(a[$0]) vs \(b[$0])" }
  }
}

/// A stop request and its acknowledgement, shared with a flipping thread.
private final class Flag: @unchecked Sendable {
  private let lock = NSLock()
  private var value = false
  let done = DispatchSemaphore(value: 0)
  var isSet: Bool { lock.withLock { value } }
  func set() { lock.withLock { value = true } }
}
