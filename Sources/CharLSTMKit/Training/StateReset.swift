import CharLSTMKernels
import CharLSTMModel

/// Random resets of the carried state (``TrainingConfig/stateReset``): at the start of a window
/// each stream's state is zeroed with probability P.
///
/// Truncated BPTT with carried state trains a model that almost never sees an empty context,
/// while nanoGPT's measure scores every window from one. Resetting a few streams per window
/// teaches the model to start from zero too, and costs nothing at inference.
///
/// A draw is a pure function of (seed, epoch, window, stream): no generator state to
/// checkpoint, so a resumed run makes the same draws, and so does a distributed one, whose
/// processes name streams by their index in the whole batch.
public struct StateReset: Sendable, Equatable {
  /// P, in (0, 1].
  public let probability: Double
  /// The run's seed.
  public let seed: UInt64

  /// - Parameters:
  ///   - probability: P in [0, 1]; 0 gives nil (off).
  ///   - seed: the run's seed.
  public init?(probability: Double, seed: UInt64) {
    guard probability > 0 else { return nil }
    self.probability = probability
    self.seed = seed
  }

  /// Whether `stream` (its index in the whole batch) starts window `window` of epoch `epoch`
  /// from a zero state.
  public func resets(epoch: Int, window: Int, stream: Int) -> Bool {
    typealias G = SeededGenerator
    var x = G.mix(seed ^ 0x5245_5345_5453_5441)  // "RESETSTA": apart from the other uses of the seed
    x = G.mix(x ^ UInt64(truncatingIfNeeded: epoch))
    x = G.mix(x ^ UInt64(truncatingIfNeeded: window))
    x = G.mix(x ^ UInt64(truncatingIfNeeded: stream))
    return Double(x >> 11) * 0x1.0p-53 < probability
  }

  /// Zeroes, in `state` ([L, B_local, H]), the streams that start this window from zero.
  /// - Parameters:
  ///   - state: the carried state of streams `first ..< first + state.batch`.
  ///   - first: the whole-batch index of `state`'s first stream.
  /// - Returns: how many streams were reset.
  @discardableResult
  public func apply<S>(to state: inout LSTMState<S>, first: Int, epoch: Int, window: Int) -> Int {
    var count = 0
    for j in 0..<state.batch where resets(epoch: epoch, window: window, stream: first + j) {
      state.reset(stream: j)
      count += 1
    }
    return count
  }
}
