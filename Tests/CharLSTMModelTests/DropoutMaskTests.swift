// The dropout mask: its keep rate, its values and how far it advances the generator.

import CharLSTMKernels
import Testing

@testable import CharLSTMModel

@Suite("Dropout mask")
struct DropoutMaskTests {
  @Test("keeps 1 − p of the entries at 1/(1 − p), advancing the generator one draw per entry", arguments: [0.1, 0.3, 0.5, 0.9])
  func keepRate(p: Double) {
    let n = 200_001
    let mask = UnsafeMutablePointer<Double>.allocate(capacity: n)
    defer { mask.deallocate() }
    var g = SeededGenerator(seed: 7)
    Dropout.drawMask(count: n, p: p, generator: &g, mask: mask)
    var reference = SeededGenerator(seed: 7)
    for _ in 0..<n { _ = reference.next() }
    #expect(g == reference)
    let values = UnsafeBufferPointer(start: mask, count: n)
    #expect(values.allSatisfy { $0 == 0 || $0 == 1 / (1 - p) })
    let kept = Double(values.filter { $0 != 0 }.count) / Double(n)
    // 5 standard deviations of a binomial proportion.
    let sigma = (p * (1 - p) / Double(n)).squareRoot()
    #expect(abs(kept - (1 - p)) < 5 * sigma, "kept \(kept), expected \(1 - p)")
    // Neighbours are independent: P(both kept) ≈ (1 − p)².
    var both = 0
    for i in stride(from: 0, to: n - 1, by: 2) where values[i] != 0 && values[i + 1] != 0 { both += 1 }
    let pairs = Double(n / 2)
    let q = (1 - p) * (1 - p)
    #expect(abs(Double(both) / pairs - q) < 5 * (q * (1 - q) / pairs).squareRoot())
  }
}
