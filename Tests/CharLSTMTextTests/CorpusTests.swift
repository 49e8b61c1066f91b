import CharLSTMText
import Testing

@Suite struct CorpusTests {
  @Test(arguments: [
    // (bytes, offset of the first bad byte)
    ([0xFF, 0x61, 0x62], 0),  // invalid at the start
    ([0x61, 0x62, 0xC3, 0x28, 0x63], 3),  // bad continuation in the middle
    ([0x61, 0x62, 0xE2, 0x82], 2),  // truncated sequence at the end: where it starts, not past the end
    ([0xF0, 0x9F, 0x98], 0),  // a 4-byte sequence cut after 3
    ([0x61, 0xC0, 0xAF], 1),  // overlong "/"
    ([0x61, 0xED, 0xA0, 0x80], 2),  // UTF-16 surrogate encoded in UTF-8
    ([0xF4, 0x90, 0x80, 0x80], 1),  // above U+10FFFF
    ([0x61, 0x80], 1),  // stray continuation byte
  ])
  func invalidUTF8NamesFileAndOffset(bytes: [UInt8], offset: Int) throws {
    let dir = TempDir()
    defer { dir.cleanup() }
    let file = dir.write("bad.txt", bytes)
    #expect(throws: TextError.invalidUTF8(path: file, offset: offset)) {
      try CorpusLoader.load(path: file)
    }
  }

  @Test func invalidUTF8DeepInALargeFileReportsTheAbsoluteOffset() throws {
    let dir = TempDir()
    defer { dir.cleanup() }
    // Past several decoding chunks, after multi-byte characters.
    var bytes = Array(String(repeating: "é😀abc\n", count: 400_000).utf8)
    let bad = bytes.count - 5
    bytes[bad] = 0xFF
    let file = dir.write("big.txt", bytes)
    #expect(throws: TextError.invalidUTF8(path: file, offset: bad)) { try CorpusLoader.load(path: file) }
  }

  @Test func byteOrderMarkIsDropped() throws {
    let dir = TempDir()
    defer { dir.cleanup() }
    let file = dir.write("bom.txt", [0xEF, 0xBB, 0xBF] + Array("ab".utf8))
    let corpus = try CorpusLoader.load(path: file)
    #expect(corpus.tokenizer.decode(corpus.tokens) == "ab")
    #expect(corpus.byteCount == 5)
  }

  @Test func missingEmptyAndBinaryInputsAreErrors() throws {
    let dir = TempDir()
    defer { dir.cleanup() }
    #expect(throws: TextError.notFound(path: dir.path + "/nope.txt")) { try CorpusLoader.load(path: dir.path + "/nope.txt") }
    let empty = dir.write("empty.txt", "")
    #expect(throws: TextError.emptyCorpus(path: empty)) { try CorpusLoader.load(path: empty) }
    let bin = dir.write("bin.dat", [0x61, 0x00, 0x62])
    #expect(throws: TextError.binaryFile(path: bin, offset: 1)) { try CorpusLoader.load(path: bin) }
    let sub = dir.path + "/only-binary"
    dir.write("only-binary/x.png", [0x89, 0x50, 0x00])
    #expect(throws: TextError.noTextFiles(path: sub, include: nil)) { try CorpusLoader.load(path: sub) }
    dir.write("emptydir/.hidden", "x")
    #expect(throws: TextError.noTextFiles(path: dir.path + "/emptydir", include: nil)) { try CorpusLoader.load(path: dir.path + "/emptydir") }
  }

  @Test func directoryIsReadRecursivelyInSortedOrderWithInclude() throws {
    let dir = TempDir()
    defer { dir.cleanup() }
    dir.write("b.swift", "B\n")
    dir.write("a/z.swift", "AZ")  // no trailing newline: a line break is added between files
    dir.write("a/y.txt", "skip\n")
    dir.write(".git/config", "hidden\n")
    dir.write("c.png", [0x89, 0x00])
    let corpus = try CorpusLoader.load(path: dir.path, include: "*.swift")
    #expect(corpus.files == [dir.path + "/a/z.swift", dir.path + "/b.swift"])
    #expect(corpus.tokenizer.decode(corpus.tokens) == "AZ\nB\n")
    let all = try CorpusLoader.load(path: dir.path)
    #expect(all.files == [dir.path + "/a/y.txt", dir.path + "/a/z.swift", dir.path + "/b.swift"])
    #expect(throws: TextError.noTextFiles(path: dir.path, include: "*.rs")) { try CorpusLoader.load(path: dir.path, include: "*.rs") }
  }

  @Test func roundTripGivesBackTheNormalizedText() throws {
    let dir = TempDir()
    defer { dir.cleanup() }
    let text = "Cafe\u{301} 👨‍👩‍👧 🇫🇷🇯🇵 नमस्ते ภาษาไทย 한국어 مَرْحَبًا\r\nend\u{200D}"
    let file = dir.write("mixed.txt", text)
    let corpus = try CorpusLoader.load(path: file)
    let nfc = "Caf\u{E9} 👨‍👩‍👧 🇫🇷🇯🇵 नमस्ते ภาษาไทย 한국어 مَرْحَبًا\r\nend\u{200D}"
    let decoded = corpus.tokenizer.decode(corpus.tokens)
    #expect(decoded.unicodeScalars.elementsEqual(nfc.unicodeScalars))
    #expect(try corpus.tokenizer.encode(decoded) == Array(corpus.tokens))
    let raw = try CorpusLoader.load(path: file, options: TokenizerOptions(normalization: .none))
    #expect(raw.tokenizer.decode(raw.tokens).unicodeScalars.elementsEqual(text.unicodeScalars))
  }

  @Test func enormousLineAcrossChunksSegmentsLikeOneString() throws {
    // No line feed for millions of units: chunks are cut inside a line, which must not split
    // or merge any cluster (decomposed é and flags straddle every possible cut).
    let dir = TempDir()
    defer { dir.cleanup() }
    let unit = "e\u{301}🇫🇷a"
    let text = String(repeating: unit, count: 300_001)
    let file = dir.write("line.txt", text)
    let corpus = try CorpusLoader.load(path: file)
    #expect(corpus.tokens.count == 3 * 300_001)
    #expect(corpus.tokenizer.vocabulary.symbols == ["a", "é", "🇫🇷"])
    #expect(corpus.tokens.prefix(6) == [1, 2, 0, 1, 2, 0])
  }

  @Test func vocabularyOrderIsCodePointOrderWithCounts() throws {
    let dir = TempDir()
    defer { dir.cleanup() }
    let file = dir.write("v.txt", "ba€a\nZ😀a")
    let corpus = try CorpusLoader.load(path: file)
    let v = corpus.tokenizer.vocabulary
    #expect(v.symbols == ["\n", "Z", "a", "b", "€", "😀"])
    #expect(v.counts == [1, 1, 3, 1, 1, 1])
    #expect(v.unknownIndex == nil)
    // The same text in another order of first appearance gives the same vocabulary.
    let other = dir.write("w.txt", "😀€Z\nbaaa")
    #expect(try CorpusLoader.load(path: other).tokenizer.vocabulary.symbols == v.symbols)
  }

  @Test func minCountMapsRareCharactersToUnknown() throws {
    let dir = TempDir()
    defer { dir.cleanup() }
    let file = dir.write("m.txt", "aaabbc😀")
    let corpus = try CorpusLoader.load(path: file, options: TokenizerOptions(minCount: 2))
    let v = corpus.tokenizer.vocabulary
    #expect(v.symbols == ["\u{FFFD}", "a", "b"])
    #expect(v.counts == [2, 3, 2])
    #expect(v.unknownIndex == 0)
    #expect(corpus.tokens == [1, 1, 1, 2, 2, 0, 0])
    #expect(corpus.tokenizer.decode(corpus.tokens) == "aaabb\u{FFFD}\u{FFFD}")
    // Prompts: unknown characters are an error naming them, dropped, or mapped on request.
    #expect(throws: TextError.unknownCharacters(["c", "z"])) { try corpus.tokenizer.encode("acz") }
    #expect(try corpus.tokenizer.encode("acz", unknown: .drop) == [1])
    #expect(try corpus.tokenizer.encode("acz", unknown: .mapToUnknown) == [1, 0, 0])
    // The literal U+FFFD is the unknown symbol's own text: it encodes to it (and decodes back).
    #expect(try corpus.tokenizer.encode("a\u{FFFD}") == [1, 0])
    #expect(corpus.tokenizer.decode(try corpus.tokenizer.encode("a\u{FFFD}")) == "a\u{FFFD}")
  }

  @Test func largeVocabulariesBeyond65536Symbols() throws {
    // 74,884 distinct characters: CJK unified ideographs (BMP and extension B, outside the
    // BMP) and Hangul syllables, all NFC-stable: ids go past 16 bits.
    var text = ""
    for range in [0x4E00...0x9FFF, 0xAC00...0xD7A3, 0x20000...0x2A6DF] {
      for cp in range { text.unicodeScalars.append(Unicode.Scalar(cp)!) }
    }
    let dir = TempDir()
    defer { dir.cleanup() }
    let file = dir.write("cjk.txt", text)
    let corpus = try CorpusLoader.load(path: file)
    #expect(corpus.tokenizer.vocabulary.count == 74_884)
    #expect(corpus.tokens.last == 74_883)
    #expect(corpus.tokenizer.decode(corpus.tokens) == text)
  }

  @Test func splitIsAContiguousTail() throws {
    let dir = TempDir()
    defer { dir.cleanup() }
    let corpus = try CorpusLoader.load(path: dir.write("s.txt", String(repeating: "abcd", count: 25)))
    let (train, val) = try corpus.split(validationFraction: 0.05)
    #expect(train.count == 95 && val.count == 5)
    #expect(Array(train) + Array(val) == Array(corpus.tokens))
    #expect(throws: TextError.self) { try corpus.split(validationFraction: 1.0) }
  }

  @Test func invalidOptionsAreRejected() throws {
    #expect(throws: TextError.self) { try TokenizerOptions(minCount: 0).validate() }
    #expect(throws: TextError.self) { try TokenizerOptions(locale: "../../etc").validate() }
  }
}
