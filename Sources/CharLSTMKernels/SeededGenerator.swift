/// The one source of randomness in charlstm: xoshiro256** seeded through SplitMix64.
///
/// Its whole state is four `UInt64`s, so a checkpoint can store it and a resumed run continues
/// the exact same stream. Every random choice (initialization, dropout masks, sampling) draws
/// from an instance of this type passed in explicitly.
public struct SeededGenerator: RandomNumberGenerator, Sendable, Equatable {
  /// The raw generator state, for checkpoints.
  public var state: (UInt64, UInt64, UInt64, UInt64)

  /// A generator whose stream is fully determined by `seed`.
  public init(seed: UInt64) {
    let g: UInt64 = 0x9E37_79B9_7F4A_7C15
    state = (Self.mix(seed), Self.mix(seed &+ g), Self.mix(seed &+ 2 &* g), Self.mix(seed &+ 3 &* g))
  }

  /// One SplitMix64 step from `v`: v + 0x9E3779B97F4A7C15, then its finalizer, a bijection of
  /// 64-bit words that mixes every bit. Seeds the generator, and hashes tuples of integers into
  /// independent draws (``init(seed:stream:)``, the trainer's state resets).
  @inline(__always)
  public static func mix(_ v: UInt64) -> UInt64 {
    var z = v &+ 0x9E37_79B9_7F4A_7C15
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  /// Restores a generator from a saved ``state``. An all-zero state is invalid for xoshiro and
  /// is replaced by the state of seed 0.
  public init(state: (UInt64, UInt64, UInt64, UInt64)) {
    self.state = state == (0, 0, 0, 0) ? SeededGenerator(seed: 0).state : state
  }

  public static func == (l: SeededGenerator, r: SeededGenerator) -> Bool {
    l.state == r.state
  }

  @inline(__always)
  public mutating func next() -> UInt64 {
    let result = rotl(state.1 &* 5, 7) &* 9
    let t = state.1 << 17
    state.2 ^= state.0
    state.3 ^= state.1
    state.1 ^= state.2
    state.0 ^= state.3
    state.2 ^= t
    state.3 = rotl(state.3, 45)
    return result
  }

  @inline(__always) private func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 {
    (x << k) | (x >> (64 - k))
  }

  /// A uniform double in [0, 1) with 53 random bits.
  @inline(__always)
  public mutating func nextUnitDouble() -> Double {
    Double(next() >> 11) * 0x1.0p-53
  }

  /// A uniform float in [0, 1) with 24 random bits.
  @inline(__always)
  public mutating func nextUnitFloat() -> Float {
    Float(next() >> 40) * 0x1.0p-24
  }
}

extension SeededGenerator {
  /// Generator number `stream` of `seed`: stream 0 is `SeededGenerator(seed: seed)` itself, so
  /// one text drawn alone and the first of several draw the same; other streams are
  /// independent of it and of each other.
  public init(seed: UInt64, stream: Int) {
    if stream == 0 {
      self.init(seed: seed)
      return
    }
    self.init(seed: Self.mix(seed ^ Self.mix(UInt64(truncatingIfNeeded: stream) &* 0xD1B5_4A32_D192_ED03)))
  }
}
