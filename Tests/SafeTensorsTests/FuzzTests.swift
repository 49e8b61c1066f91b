import Foundation
import Testing

@testable import SafeTensors

/// Mutates a valid file thousands of ways; every load must either succeed with a consistent
/// layout or throw a `SafeTensorsError` (the typed `throws` guarantees nothing else escapes;
/// a trap or hang would fail the run).
@Suite struct FuzzTests {
  static func baseFile() -> [UInt8] {
    var w = SafeTensorsWriter(metadata: ["format": "pt", "step": "1200", "vocab": "abc\"\\\n"])
    w.add("embed.weight", floats: (0..<15).map { Float($0) / 7 }, shape: [5, 3])
    w.add("lstm.0.weight_ih", floats: (0..<8).map { -Float($0) }, shape: [4, 2])
    w.add("head.bias", doubles: [0.5, -1.5, 2.5], shape: [3])
    w.add("rng.state", uint64s: [1, 2, 3, 4], shape: [4])
    w.add("steps", int64s: [1200, -1], shape: [2])
    w.add("mask", uint8s: [1, 0, 1, 1, 0], shape: [5])
    w.add("counts", int32s: [7], shape: [])
    w.add("empty", floats: [], shape: [0])
    w.add("half", dtype: .f16, shape: [2], bytes: [0, 0x3C, 0, 0xC0])
    return w.serialized()
  }

  /// Checks everything an accepted file promises.
  static func checkConsistent(_ f: SafeTensorsFile, fileSize: Int) -> Bool {
    let dataSize = fileSize - f.dataStart
    var end = 0
    for t in f.tensors.sorted(by: { ($0.byteRange.lowerBound, $0.byteRange.upperBound) < ($1.byteRange.lowerBound, $1.byteRange.upperBound) }) {
      guard t.byteRange.lowerBound == end else { return false }
      end = t.byteRange.upperBound
    }
    guard end == dataSize, f.dataStart >= 8 else { return false }
    for t in f.tensors {
      guard t.byteCount == t.elementCount * t.dtype.byteSize, f.info(t.name) == t,
        (try? f.rawBytes(t.name).count) == t.byteCount
      else { return false }
      switch t.dtype {
      case .f32: guard (try? f.floats(t.name, shape: t.shape).count) == t.elementCount else { return false }
      case .f64: guard (try? f.doubles(t.name).count) == t.elementCount else { return false }
      case .u64: guard (try? f.uint64s(t.name).count) == t.elementCount else { return false }
      default: break
      }
    }
    return Set(f.tensorNames).count == f.tensorNames.count
  }

  /// Digit runs inside the header, as byte ranges of the file.
  static func numberRanges(_ bytes: [UInt8], headerEnd: Int) -> [Range<Int>] {
    var result: [Range<Int>] = []
    var i = 8
    while i < min(headerEnd, bytes.count) {
      if bytes[i] >= 0x30 && bytes[i] <= 0x39 {
        let s = i
        while i < headerEnd && bytes[i] >= 0x30 && bytes[i] <= 0x39 { i += 1 }
        result.append(s..<i)
      } else {
        i += 1
      }
    }
    return result
  }

  static func mutate(_ base: [UInt8], _ rng: inout SplitMix64) -> [UInt8] {
    var b = base
    guard b.count > 9 else {
      b.append(UInt8.random(in: 0...255, using: &rng))
      return b
    }
    // The length field may already be garbage when mutations are stacked: clamp everything.
    let field = b[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
    let headerLength = Int(min(field, UInt64(b.count - 8)))
    let headerEnd = 8 + headerLength
    func fixLength(_ delta: Int) {
      if Bool.random(using: &rng) || delta == 0 { return }  // sometimes keep the stale length
      b.replaceSubrange(0..<8, with: lengthField(UInt64(max(0, headerLength + delta))))
    }
    func flip() {
      let at = headerEnd > 8 && Bool.random(using: &rng)
        ? Int.random(in: 8..<headerEnd, using: &rng) : Int.random(in: 0..<b.count, using: &rng)
      b[at] = UInt8.random(in: 0...255, using: &rng)
    }
    switch Int.random(in: 0..<9, using: &rng) {
    case 0:  // replace random bytes, mostly in the header
      for _ in 0..<Int.random(in: 1...3, using: &rng) { flip() }
    case 1:  // flip single bits
      let at = Int.random(in: 0..<b.count, using: &rng)
      b[at] ^= 1 << UInt8.random(in: 0..<8, using: &rng)
    case 2:  // insert random bytes
      let n = Int.random(in: 1...8, using: &rng)
      let at = Int.random(in: 0...b.count, using: &rng)
      b.insert(contentsOf: (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }, at: at)
      if at >= 8 && at <= headerEnd { fixLength(n) }
    case 3:  // delete a range
      let at = Int.random(in: 0..<b.count, using: &rng)
      let n = Int.random(in: 1...min(16, b.count - at), using: &rng)
      b.removeSubrange(at..<at + n)
      if at >= 8 && at + n <= headerEnd { fixLength(-n) }
    case 4, 5:  // edit a number in the header (shape dims, offsets)
      let ranges = numberRanges(b, headerEnd: headerEnd)
      guard let r = ranges.randomElement(using: &rng), let other = ranges.randomElement(using: &rng) else {
        flip()
        break
      }
      let old = Int(String(decoding: b[r], as: UTF8.self)) ?? 0
      let replacements = [
        "0", "1", "\(old &+ 1)", "\(max(old &- 1, 0))", "\(old &* 2)", "-\(old)", "\(old).0", "\(old)e0",
        "99999999999999999999999", "18446744073709551615", "9223372036854775807", "9223372036854775808",
        "4294967296", "2305843009213693952", String(decoding: b[other], as: UTF8.self), "",
      ]
      let text = Array(replacements.randomElement(using: &rng)!.utf8)
      if Int.random(in: 0..<4, using: &rng) == 0 && r != other {
        // Swap two numbers.
        let (first, second) = r.lowerBound < other.lowerBound ? (r, other) : (other, r)
        let a = Array(b[first]), c = Array(b[second])
        b.replaceSubrange(second, with: a)
        b.replaceSubrange(first, with: c)
      } else {
        b.replaceSubrange(r, with: text)
        fixLength(text.count - r.count)
      }
    case 6:  // absurd or off-by-some header length
      let h = UInt64(headerLength)
      let values: [UInt64] = [
        0, 1, 7, 8, h &- 1, h + 1, h + 8, UInt64(b.count), UInt64(b.count - 8), UInt64(b.count - 7),
        .max, UInt64(Int.max), UInt64(Int.max) + 1, 1 << 40, 100 << 20, (100 << 20) + 1,
        UInt64.random(in: 0...UInt64.max, using: &rng),
      ]
      b.replaceSubrange(0..<8, with: lengthField(values.randomElement(using: &rng)!))
    case 7:  // swap JSON punctuation
      let punctuation = Array("{}[],:\" ".utf8)
      guard let at = (8..<headerEnd).filter({ punctuation.contains(b[$0]) }).randomElement(using: &rng) else {
        flip()
        break
      }
      b[at] = punctuation.randomElement(using: &rng)!
    default:  // several mutations at once
      for _ in 0..<Int.random(in: 2...4, using: &rng) {
        b = mutate(b, &rng)
      }
    }
    return b
  }

  @Test func mutatedFilesLoadConsistentlyOrThrowTypedErrors() throws {
    let base = Self.baseFile()
    let original = try SafeTensorsFile(bytes: base)
    #expect(Self.checkConsistent(original, fileSize: base.count))

    var accepted = 0
    var rejected = 0
    var errorKinds: [String: Int] = [:]
    func run(_ bytes: [UInt8]) {
      do {
        let f = try SafeTensorsFile(bytes: bytes, path: "fuzz.safetensors")
        accepted += 1
        #expect(Self.checkConsistent(f, fileSize: bytes.count), "inconsistent accepted file: \(bytes)")
      } catch {
        rejected += 1
        errorKinds[caseName(error) ?? "?", default: 0] += 1
        let d = error.description
        #expect(d.hasPrefix("fuzz.safetensors") && !d.contains("\n"))
      }
    }

    // Every truncation length.
    for n in 0..<base.count { run(Array(base.prefix(n))) }
    // Seeded random mutations.
    var rng = SplitMix64(seed: 0x5AFE_7E45)
    let mutations = 6000
    for _ in 0..<mutations { run(Self.mutate(base, &rng)) }
    // Random garbage after a plausible length field.
    for _ in 0..<500 {
      let n = Int.random(in: 0..<200, using: &rng)
      let garbage = (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
      run(lengthField(UInt64(Int.random(in: 0...n, using: &rng))) + garbage)
    }

    let total = base.count + mutations + 500
    #expect(accepted + rejected == total)
    #expect(accepted > 0)
    #expect(rejected > 0)
    #expect(errorKinds.count >= 8, "\(errorKinds)")
    print("SafeTensors fuzz: \(total) inputs, \(accepted) accepted, \(rejected) rejected; errors: \(errorKinds.sorted { $0.key < $1.key })")
  }

  @Test func largeHostileHeadersStayBounded() {
    // A 4 MB header of one huge valid shape, and one of nested empty arrays at the depth limit.
    let ones = Array(repeating: "1", count: 1_000_000).joined(separator: ",")
    let big = makeFile(header: #"{"a":{"dtype":"U8","shape":[\#(ones)],"data_offsets":[0,1]}}"#, data: [7])
    let f = try? SafeTensorsFile(bytes: big)
    #expect(f?.info("a")?.shape.count == 1_000_000)
    #expect((try? f?.uint8s("a")) == [7])
    let wide = makeFile(header: "{\"a\":[" + Array(repeating: "[]", count: 500_000).joined(separator: ",") + "]}")
    #expect(caseName(loadError(wide)) == "invalidTensorEntry")
    let longString = makeFile(header: "{\"" + String(repeating: "\\u00e9", count: 500_000) + "\":1}")
    #expect(caseName(loadError(longString)) == "invalidTensorEntry")
  }
}
