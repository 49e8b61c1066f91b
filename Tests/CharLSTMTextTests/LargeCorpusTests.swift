import Foundation
import Testing

@testable import CharLSTMText

/// Reading a corpus in chunks and storing its ids in 16 bits give the same ids as reading it
/// whole: no code point, cluster or error offset depends on where the chunks fall.
@Suite struct LargeCorpusTests {
  /// Every cut point, on text mixing 1- to 4-byte sequences: the chunks are the file's bytes
  /// in order, and each chunk but the last ends on a code point boundary.
  @Test(arguments: [4, 5, 6, 7, 9, 64])
  func chunksEndOnCodePointBoundaries(chunk: Int) throws {
    let dir = TempDir()
    defer { dir.cleanup() }
    let text = String(repeating: "aé€😀\n", count: 40) + "ok"
    let path = dir.write("mixed.txt", text)
    let file = try CorpusFile(path, chunkBytes: chunk)
    var seen: [UInt8] = []
    var chunks = 0
    try file.chunks { (c, offset, last) throws(TextError) in
      #expect(offset == seen.count)
      #expect(c.count <= chunk)
      seen.append(contentsOf: c)
      chunks += 1
      if !last {
        #expect(String(validating: Array(c), as: UTF8.self) != nil, "chunk \(chunks) at \(offset) splits a code point")
      }
    }
    #expect(seen == Array(text.utf8))
    #expect(chunks >= text.utf8.count / chunk)
  }

  @Test func sequenceBoundaryCutsBeforeAnIncompleteSequence() {
    func cut(_ b: [UInt8]) -> Int { b.withUnsafeBufferPointer { CorpusFile.sequenceBoundary($0) } }
    #expect(cut([0x61, 0x62]) == 2)
    #expect(cut([0x61, 0xC3]) == 1)  // é's lead byte alone
    #expect(cut([0x61, 0xC3, 0xA9]) == 3)
    #expect(cut([0x61, 0xE2, 0x82]) == 1)  // € cut after 2 of 3
    #expect(cut([0x61, 0xF0, 0x9F, 0x98]) == 1)  // 😀 cut after 3 of 4
    #expect(cut([0xF0, 0x9F, 0x98, 0x80]) == 4)
    #expect(cut([0x80, 0x80, 0x80, 0x80, 0x80]) == 5)  // ill-formed: left to the decoder
  }

  /// A file larger than one 4 MiB chunk, with multi-byte characters at every alignment around
  /// the chunk edge: the loader's ids equal the in-memory loader's, which decodes it whole.
  @Test func aFileOfSeveralChunksTokenizesLikeOneBuffer() throws {
    let dir = TempDir()
    defer { dir.cleanup() }
    var bytes: [UInt8] = []
    let edge = CorpusFile.defaultChunkBytes
    bytes.append(contentsOf: Array(repeating: UInt8(ascii: "x"), count: edge - 7))
    bytes.append(contentsOf: Array("é€😀e\u{301}\r\n".utf8))  // straddles the edge
    while bytes.count < 2 * edge + 100 { bytes.append(contentsOf: Array("To be, or not — 生存か 😀\n".utf8)) }
    let path = dir.write("big.txt", bytes)
    let fromFile = try CorpusLoader.load(path: path)
    let inMemory = try bytes.withUnsafeBufferPointer { try CorpusLoader.load(bytes: $0, name: path) }
    #expect(fromFile.tokenizer.vocabulary == inMemory.tokenizer.vocabulary)
    #expect(fromFile.tokens == inMemory.tokens)
    #expect(fromFile.byteCount == bytes.count)
    #expect(!fromFile.tokens.isWide && fromFile.tokens.bytesPerID == 2)
    let encoded = try CorpusLoader.encode(path: path, with: fromFile.tokenizer)
    #expect(encoded.tokens == fromFile.tokens)
    // Against the tokenizer's own path, which emits cluster by cluster (no runs).
    #expect(Array(fromFile.tokens) == (try fromFile.tokenizer.encode(String(decoding: bytes, as: UTF8.self))))
  }

  /// Runs of ASCII resolve unknown characters as single clusters do: refused, dropped or mapped.
  @Test func unknownCharactersInRuns() throws {
    let dir = TempDir()
    defer { dir.cleanup() }
    let vocab = try CorpusLoader.load(path: dir.write("w.txt", "aabbcc\n\n")).tokenizer
    let path = dir.write("x.txt", "abxc\nzz\n")
    #expect(throws: TextError.unknownCharacters(["x", "z"])) { try CorpusLoader.encode(path: path, with: vocab) }
    let dropped = try CorpusLoader.encode(path: path, with: vocab, unknown: .drop)
    #expect(vocab.decode(dropped.tokens) == "abc\n\n")
    let withUnknown = try CorpusLoader.load(path: dir.write("u.txt", "aabbcc\n\nq"), options: TokenizerOptions(minCount: 2)).tokenizer
    let mapped = try CorpusLoader.encode(path: path, with: withUnknown, unknown: .mapToUnknown)
    #expect(withUnknown.decode(mapped.tokens) == "ab\u{FFFD}c\n\u{FFFD}\u{FFFD}\n")
  }

  /// Errors past the first chunk name the byte's offset in the file, not in its chunk.
  @Test func errorsPastTheFirstChunkNameFileOffsets() throws {
    let dir = TempDir()
    defer { dir.cleanup() }
    let at = CorpusFile.defaultChunkBytes + 12_345
    var bad = Array(repeating: UInt8(ascii: "a"), count: at + 10)
    bad[at] = 0xFF
    let badPath = dir.write("bad.txt", bad)
    #expect(throws: TextError.invalidUTF8(path: badPath, offset: at)) { try CorpusLoader.load(path: badPath) }
    bad[at] = 0
    let binPath = dir.write("bin.txt", bad)
    #expect(throws: TextError.binaryFile(path: binPath, offset: at)) { try CorpusLoader.load(path: binPath) }
  }

  /// Progress is reported while a large file is read, not only when it is done.
  @Test func progressIsReportedPerChunk() throws {
    let dir = TempDir()
    defer { dir.cleanup() }
    let n = 3 * CorpusFile.defaultChunkBytes + 5
    let path = dir.write("p.txt", Array(repeating: UInt8(ascii: "b"), count: n))
    var reports: [Int] = []
    _ = try CorpusLoader.load(path: path) { done, _ in reports.append(done) }
    #expect(reports.count >= 3)
    #expect(reports == reports.sorted() && reports.last == n)
  }

  @Test func idsAre16BitUntilOneIsNot() {
    var ids: TokenIDs = [1, 65_535, 0]
    #expect(!ids.isWide && ids.bytesPerID == 2)
    ids.append(65_536)
    #expect(ids.isWide && Array(ids) == [1, 65_535, 0, 65_536])
    var narrow = TokenIDs([3, 2, 1, 0])
    narrow.renumber([10, 11, 12, 13])
    #expect(!narrow.isWide && Array(narrow) == [13, 12, 11, 10])
    narrow.renumber(Array(repeating: 0, count: 10) + [70_000, 70_001, 70_002, 70_003])
    #expect(narrow.isWide && Array(narrow) == [70_003, 70_002, 70_001, 70_000])
    let slice = narrow[1..<3]
    #expect(slice.startIndex == 1 && Array(slice) == [70_002, 70_001] && slice[2] == 70_001)
    #expect(TokenSlice([5, 6]) == [5, 6])
  }
}
