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

  /// Checks everything an accepted file promises, from the file's own bytes: the tensors tile
  /// the data section exactly; each tensor's element count is the product of its shape (0 with
  /// a 0 dimension), its byte count is dtype size × element count, `rawBytes` are exactly the
  /// file's bytes at `dataStart + byteRange`, and the typed reader of its dtype returns that
  /// many elements, bit for bit the little-endian bytes; names are unique. nil when consistent,
  /// else what is wrong.
  static func inconsistency(_ f: SafeTensorsFile, bytes: [UInt8]) -> String? {
    let dataSize = bytes.count - f.dataStart
    guard f.dataStart >= 8, dataSize >= 0 else { return "dataStart \(f.dataStart) of \(bytes.count) bytes" }
    let field = bytes[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
    guard field == UInt64(f.dataStart - 8) else { return "dataStart \(f.dataStart) but length field \(field)" }
    var end = 0
    for t in f.tensors.sorted(by: { ($0.byteRange.lowerBound, $0.byteRange.upperBound) < ($1.byteRange.lowerBound, $1.byteRange.upperBound) }) {
      guard t.byteRange.lowerBound == end else { return "\(t.name) starts at \(t.byteRange.lowerBound), previous ends at \(end)" }
      end = t.byteRange.upperBound
    }
    guard end == dataSize else { return "tensors end at \(end) of \(dataSize) data bytes" }
    for t in f.tensors {
      let elements = t.shape.contains(0) ? 0 : t.shape.reduce(1, *)
      guard t.elementCount == elements, t.byteCount == elements * t.dtype.byteSize, f.info(t.name) == t else {
        return "\(t.name): \(t.dtype) \(t.shape) has \(t.elementCount) elements, \(t.byteCount) bytes"
      }
      let expected = Array(bytes[(f.dataStart + t.byteRange.lowerBound)..<(f.dataStart + t.byteRange.upperBound)])
      guard let raw = try? f.rawBytes(t.name), raw == expected else { return "\(t.name): rawBytes differ from the file" }
      /// The little-endian integer of element `i` of `expected`, `size` bytes wide.
      func word(_ i: Int, _ size: Int) -> UInt64 {
        (0..<size).reduce(UInt64(0)) { $0 | UInt64(expected[i * size + $1]) << (8 * UInt64($1)) }
      }
      let typed: [UInt64]?
      switch t.dtype {
      case .f32: typed = (try? f.floats(t.name, shape: t.shape))?.map { UInt64($0.bitPattern) }
      case .f64: typed = (try? f.doubles(t.name, shape: t.shape))?.map(\.bitPattern)
      case .u64: typed = try? f.uint64s(t.name, shape: t.shape)
      case .i64: typed = (try? f.int64s(t.name, shape: t.shape))?.map { UInt64(bitPattern: $0) }
      case .i32: typed = (try? f.int32s(t.name, shape: t.shape))?.map { UInt64(UInt32(bitPattern: $0)) }
      case .u8: typed = (try? f.uint8s(t.name, shape: t.shape))?.map { UInt64($0) }
      default: continue
      }
      guard let typed, typed == (0..<elements).map({ word($0, t.dtype.byteSize) }) else {
        return "\(t.name): the \(t.dtype) reader does not return the file's \(elements) elements"
      }
    }
    guard Set(f.tensorNames).count == f.tensorNames.count else { return "repeated names \(f.tensorNames)" }
    return nil
  }

  /// Whether a message is one line of text: no control characters (C0, DEL, C1) and no
  /// Unicode line or paragraph separators.
  static func isOneCleanLine(_ s: String) -> Bool {
    !s.isEmpty && s.unicodeScalars.allSatisfy {
      $0.value >= 0x20 && !(0x7F...0x9F).contains($0.value) && $0.value != 0x2028 && $0.value != 0x2029
    }
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
    #expect(Self.inconsistency(original, bytes: base) == nil)

    var accepted = 0
    var rejected = 0
    var errorKinds: [String: Int] = [:]
    /// Loads `bytes`: an accepted file must be consistent with its bytes and survive being
    /// written again (same tensors, dtypes, shapes, bytes and metadata); a rejection must be one
    /// clean line naming the path. Returns the error's case name (nil when accepted).
    @discardableResult
    func run(_ bytes: [UInt8]) -> String? {
      let path = "fuzz/\u{1}dir\n.safetensors"  // control characters in the path must be escaped
      do {
        let f = try SafeTensorsFile(bytes: bytes, path: path)
        accepted += 1
        if let why = Self.inconsistency(f, bytes: bytes) {
          Issue.record("inconsistent accepted file (\(why)): \(bytes)")
          return nil
        }
        var w = SafeTensorsWriter(metadata: f.metadata)
        for t in f.tensors { w.add(t.name, dtype: t.dtype, shape: t.shape, bytes: (try? f.rawBytes(t.name)) ?? []) }
        let again = try? SafeTensorsFile(bytes: w.serialized())
        #expect(again?.metadata == f.metadata && again?.tensorNames == f.tensorNames, "rewritten file differs: \(bytes)")
        for t in f.tensors {
          let u = again?.info(t.name)
          #expect(u?.dtype == t.dtype && u?.shape == t.shape && (try? again?.rawBytes(t.name)) == (try? f.rawBytes(t.name)))
        }
        return nil
      } catch {
        rejected += 1
        let kind = caseName(error) ?? "?"
        errorKinds[kind, default: 0] += 1
        let d = error.description
        #expect(d.hasPrefix("fuzz/\\u{1}dir\\n.safetensors: ") && Self.isOneCleanLine(d), "\(kind): \(d.debugDescription)")
        #expect(error.errorDescription == d)
        return kind
      }
    }

    // Every truncation length: a strict prefix of a valid file is always refused, as too short
    // below the 8-byte length field and as truncated from there on.
    for n in 0..<base.count {
      let kind = run(Array(base.prefix(n)))
      #expect(kind == (n < 8 ? "fileTooShort" : "truncated"), "prefix of \(n) bytes: \(kind ?? "accepted")")
    }
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

    // The mutations must exercise both outcomes and many kinds of refusal (these counts are
    // properties of the seeded inputs: a validator that accepts or refuses too much fails them).
    #expect(accepted >= 50, "only \(accepted) mutated files accepted")
    #expect(rejected >= 5000, "only \(rejected) inputs refused")
    #expect(errorKinds.count >= 10, "\(errorKinds)")
    for kind in ["fileTooShort", "truncated", "headerTooLarge", "invalidHeaderUTF8", "invalidHeaderJSON", "offsetsOutOfRange",
                 "invalidTensorEntry", "unknownDType", "badShape", "sizeMismatch", "gapInData"] {
      #expect(errorKinds[kind, default: 0] > 0, "no input refused as \(kind): \(errorKinds)")
    }
    print("SafeTensors fuzz: \(accepted + rejected) inputs, \(accepted) accepted, \(rejected) rejected; errors: \(errorKinds.sorted { $0.key < $1.key })")
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
