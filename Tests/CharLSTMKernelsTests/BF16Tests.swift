import CharLSTMKernels
import Testing

/// bf16 numerics: operands rounded to bfloat16 (nearest even), fp32 accumulation.
@Suite struct BF16Tests {
  /// Round to nearest even on the bit pattern, checked against an independent formulation:
  /// the two bf16 neighbours of x and the distance to each.
  @Test func roundingIsNearestEvenOnEveryEdge() {
    var g = SeededGenerator(seed: 3)
    var xs: [Float] = [0, -0, 1, -1, .infinity, -.infinity, .greatestFiniteMagnitude, .leastNonzeroMagnitude,
                       Float(bitPattern: 0x3F80_8000), Float(bitPattern: 0x3F81_8000), Float(bitPattern: 0x3F80_7FFF),
                       Float(bitPattern: 0x7F7F_8000)]
    for _ in 0..<20_000 { xs.append(Float(bitPattern: UInt32(truncatingIfNeeded: g.next()))) }
    for x in xs where !x.isNaN {
      let r = Kernels.roundedToBF16(x)
      #expect(r.bitPattern & 0xFFFF == 0 || r.isNaN, "\(x) → \(r) keeps low bits")
      let lo = Float(bitPattern: x.bitPattern & 0xFFFF_0000)
      let hi = Float(bitPattern: (x.bitPattern & 0xFFFF_0000) &+ 0x1_0000)
      // IEEE: past the largest finite bf16 the next value up counts as 2^128 (rounds to inf).
      let hiValue = hi.isInfinite ? (hi < 0 ? -0x1p128 : 0x1p128) : Double(hi)
      let dLo = abs(Double(x) - Double(lo)), dHi = hi.isNaN ? .infinity : abs(hiValue - Double(x))
      let want: Float = dLo < dHi ? lo : dHi < dLo ? hi : ((lo.bitPattern >> 16) & 1 == 0 ? lo : hi)
      #expect(r.bitPattern == want.bitPattern, "\(x) (\(String(x.bitPattern, radix: 16))) → \(r), want \(want)")
    }
    #expect(Kernels.roundedToBF16(.nan).isNaN)
    #expect(Kernels.roundedToBF16(Float(bitPattern: 0x7F80_0001)).isNaN, "a NaN with only low payload bits stays NaN")
  }

  /// Each bf16 product against the Double reference over the rounded inputs (tight: only fp32
  /// accumulation error), and against the fp32 product of the raw inputs (loose: bf16's 8-bit
  /// significand), on every path, odd shapes included (m, n, k not multiples of any tile; m = 1;
  /// k = 65), with 1 and 2 threads.
  @Test func gemmMatchesTheRoundedReference() {
    let shapes: [(Int, Int, Int)] = [(1, 1, 1), (1, 37, 65), (23, 1, 19), (5, 7, 3), (14, 32, 8), (29, 65, 33), (50, 512, 128), (150, 300, 70), (3, 520, 9), (141, 70, 513), (2, 33, 300)]
    var seed: UInt64 = 400
    for (m, n, k) in shapes {
      for (transA, transB) in [(false, false), (false, true), (true, false), (true, true)] {
        for (alpha, beta) in [(Float(1), Float(0)), (1, 1), (2, -0.5)] {
          seed += 1
          let cs = GemmCase(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, beta: beta, pad: Int(seed % 3), seed: seed)
          var rounded = cs
          rounded.a = cs.a.map(Kernels.roundedToBF16)
          rounded.b = cs.b.map(Kernels.roundedToBF16)
          let exact = rounded.reference()
          let raw = cs.reference()
          forEachPath { isa, threads in
            let got = Kernels.withPrecision(.bf16) { cs.runFloat() }
            if let msg = cs.check(got, exact) {
              Issue.record("bf16 \(cs) on \(isa) threads=\(threads) vs rounded reference: \(msg)")
            }
            // Loose: relative to Σ|a·b|, bf16 rounding of both operands (2 × 2⁻⁹) dominates.
            var g: [Float] = [], w: [Double] = [], bd: [Double] = []
            for i in 0..<m { for j in 0..<n { g.append(got[i * cs.ldc + j]); w.append(raw.value[i * cs.ldc + j]); bd.append(raw.bound[i * cs.ldc + j]) } }
            if let msg = firstMismatch(g, w, abs: 1e-6, rel: 8e-3, bound: bd) {
              Issue.record("bf16 \(cs) on \(isa) vs fp32: \(msg)")
            }
          }
        }
      }
    }
  }

  /// Packed right-hand matrices: packing under bf16 rounds; a product under bf16 rounds A.
  @Test func packedGemmInBF16MatchesTheRoundedReference() {
    for (m, n, k) in [(1, 2048, 512), (50, 2048, 576), (7, 65, 300), (1, 1, 1)] {
      let cs = GemmCase(transA: false, transB: true, m: m, n: n, k: k, alpha: 1, beta: 1, pad: 0, seed: UInt64(m * 7 + n))
      var rounded = cs
      rounded.a = cs.a.map(Kernels.roundedToBF16)
      rounded.b = cs.b.map(Kernels.roundedToBF16)
      let exact = rounded.reference()
      forEachPath { isa, threads in
        let got: [Float] = Kernels.withPrecision(.bf16) {
          let bytes = Float.packedByteCount(k: k, n: n)
          let p = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
          defer { p.deallocate() }
          Float.pack(transB: true, k: k, n: n, b: cs.b, ldb: cs.ldb, into: p)
          var c = cs.c0
          Float.gemmPacked(m: m, n: n, k: k, alpha: 1, a: cs.a, lda: cs.lda, packed: p, beta: 1, c: &c, ldc: cs.ldc)
          return c
        }
        if let msg = cs.check(got, exact) { Issue.record("packed bf16 m=\(m) n=\(n) k=\(k) on \(isa) threads=\(threads): \(msg)") }
      }
    }
  }

  /// Results do not depend on the thread count in bf16 either, and the scope is per thread.
  /// (A row-major product split into column tiles, and a transposed-A one over 3 k blocks.)
  @Test func bf16IsBitIdenticalAcrossThreadCountsAndScoped() {
    let threads = Kernels.threads
    defer { Kernels.setThreads(threads) }
    for cs in [
      GemmCase(transA: false, transB: true, m: 300, n: 290, k: 300, alpha: 1, beta: 0, pad: 1, seed: 12),
      GemmCase(transA: true, transB: false, m: 150, n: 70, k: 601, alpha: 1, beta: 0, pad: 0, seed: 13),
    ] { for isa in supportedISAs {
      Kernels.withISA(isa) {
        Kernels.setThreads(1)
        let base = Kernels.withPrecision(.bf16) { cs.runFloat() }
        for t in [2, 2, 3] {
          Kernels.setThreads(t)
          let again = Kernels.withPrecision(.bf16) { cs.runFloat() }
          if let msg = firstBitDifference(base, again) { Issue.record("bf16 on \(isa): threads 1 vs \(t): \(msg)") }
        }
        #expect(Kernels.precision == .fp32)
        #expect(firstBitDifference(base, cs.runFloat()) != nil, "outside the scope the product is fp32 again")
      }
    } }
  }

  /// Where the path has a bf16 unit, bf16 products run on it: VDPBF16PS treats a subnormal
  /// bf16 operand as zero, the emulation on fp32 kernels does not. So 1e-39 · 1e30 is 0 on the
  /// unit and ≈ 1e-9 emulated (and in fp32).
  @Test func bf16ProductsRunOnTheUnitWhereThePathHasOne() {
    let threads = Kernels.threads
    defer { Kernels.setThreads(threads) }
    Kernels.setThreads(1)
    for isa in supportedISAs {
      Kernels.withISA(isa) {
        var c: [Float] = [0]
        Kernels.withPrecision(.bf16) {
          Float.gemm(transA: false, transB: false, m: 1, n: 1, k: 2, alpha: 1, a: [1e-39, 1], lda: 2, b: [1e30, 0], ldb: 1, beta: 0, c: &c, ldc: 1)
        }
        #expect(Kernels.bf16DotAvailable == (isa == .avx512bf16), "\(isa)")
        if Kernels.bf16DotAvailable {
          #expect(c[0] == 0, "\(isa): the unit flushes the subnormal operand, got \(c[0])")
        } else {
          #expect(c[0] > 9e-10 && c[0] < 1.1e-9, "\(isa): emulated bf16 keeps it, got \(c[0])")
        }
      }
    }
  }

  /// `auto` takes bf16 only where the unit outruns the FMAs: false without the unit; with it,
  /// the answer agrees with a longer measurement of the two loops (on the CPUs this runs on the
  /// ratio is about 2 (Zen 4/5) or 0.5 (Sapphire Rapids); an ambiguous reading is not judged).
  @Test func bf16DotIsFasterAgreesWithTheCeilings() {
    guard Kernels.ISA.avx512bf16.isSupported else {
      #expect(!Kernels.bf16DotIsFaster)
      #expect(Kernels.fastestProvenPrecision == .fp32)
      return
    }
    let ratio = Kernels.withISA(.avx512bf16) {
      Kernels.measuredBF16DotPeak(seconds: 0.05) / Kernels.measuredFMAPeak(seconds: 0.05)
    }
    if ratio > 1.6 || ratio < 0.9 {
      #expect(Kernels.bf16DotIsFaster == (ratio > 1.25), "VDPBF16PS ÷ FMA measured \(ratio)")
    }
    Kernels.withISA(.avx512bf16) {
      #expect(Kernels.fastestProvenPrecision == (Kernels.bf16DotIsFaster ? .bf16 : .fp32))
    }
    Kernels.withISA(.avx512) { #expect(Kernels.fastestProvenPrecision == .fp32, "emulated bf16 is never faster") }
  }
}
