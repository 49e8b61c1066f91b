import Testing

@testable import CharLSTMText

/// The ASCII fast path gives ICU's clusters exactly, on text that switches between ASCII and
/// other scripts line by line and inside lines.
@Suite struct ASCIIFastPathTests {
  /// The clusters of `text` fed `chunk` units at a time; with `runs`, runs of single-unit
  /// clusters arrive through `singles` and are split here.
  static func clusters(_ text: [UInt16], _ options: TokenizerOptions, fast: Bool, chunk: Int, runs: Bool = false) throws -> [[UInt16]] {
    var seg = Segmenter(options: options)
    seg.asciiFastPath = fast
    var out: [[UInt16]] = []
    var at = 0
    while at < text.count {
      let end = min(text.count, at + chunk)
      if runs {
        try seg.feed(text[at..<end], final: end == text.count, emit: { out.append(Array($0)) }, singles: { run in
          for u in run { out.append([u]) }
        })
      } else {
        try seg.feed(text[at..<end], final: end == text.count) { out.append(Array($0)) }
      }
      at = end
    }
    return out
  }

  /// Pieces that stress the rules: CR LF, lone CR, controls, capital I and J, a combining mark
  /// right after an ASCII letter (one cluster, and NFC composes it), a prepended mark before
  /// an ASCII digit, ZWJ emoji, Hangul jamo, Greek sigma before ASCII, fullwidth letters
  /// (NFKC maps them to ASCII), Devanagari, Thai.
  static let pieces: [String] = [
    "plain ascii words", "\r\n", "\r", "\n", "\t", "\u{7}", "IJ Istanbul", "Jij", "e\u{301}", "A\u{30A}", "\u{600}1",
    "👩‍👩‍👧", "\u{1100}\u{1161}\u{11A8}", "ΣΑΣ a", "Σa", "ＡＢＣ", "नमस्ते", "ภาษาไทย", "ﬁ", "I\u{307}", "x\u{308}\n\u{301}",
  ]

  @Test(arguments: [
    TokenizerOptions(), TokenizerOptions(normalization: .nfkc), TokenizerOptions(normalization: .none),
    TokenizerOptions(lowercase: true), TokenizerOptions(lowercase: true, locale: "tr"),
    TokenizerOptions(normalization: .nfkc, lowercase: true, locale: "lt_LT"), TokenizerOptions(lowercase: true, locale: "az"),
  ])
  func fastPathEqualsICU(options: TokenizerOptions) throws {
    var g = SeededGenerator64(seed: 11)
    for round in 0..<40 {
      var text = ""
      for _ in 0..<(20 + round * 3) { text += Self.pieces[Int(g.next() % UInt64(Self.pieces.count))] + (g.next() % 3 == 0 ? "\n" : "") }
      let units = Array(text.utf16)
      for chunk in [units.count + 1, 7, 64] {
        let fast = try Self.clusters(units, options, fast: true, chunk: chunk)
        let runs = try Self.clusters(units, options, fast: true, chunk: chunk, runs: true)
        let icu = try Self.clusters(units, options, fast: false, chunk: chunk)
        #expect(fast == icu, "round \(round), chunk \(chunk), \(options)")
        #expect(runs == icu, "runs: round \(round), chunk \(chunk), \(options)")
      }
    }
  }
}

extension ASCIIFastPathTests {
  /// ASCII lines arrive as runs (a CR LF ending a line as one cluster between them); other
  /// lines cluster by cluster.
  @Test func asciiLinesArriveAsRuns() throws {
    var seg = Segmenter(options: TokenizerOptions())
    var events: [String] = []
    try seg.feed(Array("ab\r\ncd\nxé\nef".utf16)[...], final: true, emit: { events.append("c:" + String(decoding: $0, as: UTF16.self)) }, singles: { events.append("r:" + String(decoding: $0, as: UTF16.self)) })
    #expect(events == ["r:ab", "c:\r\n", "r:cd\n", "c:x", "c:é", "c:\n", "r:ef"])
  }
}

/// SplitMix64, for test texts.
struct SeededGenerator64 {
  var state: UInt64
  init(seed: UInt64) { state = seed }
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}
