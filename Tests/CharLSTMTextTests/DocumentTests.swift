import CharLSTMText
import Foundation
import Testing

/// Documents mode: one text per line or per paragraph, each ended by the end-of-text symbol.
@Suite struct DocumentTests {
  /// The documents of a corpus read in `mode`: its text cut at the end-of-text symbol.
  private func documents(_ c: Corpus) throws -> [String] {
    let end = try #require(c.tokenizer.endOfTextID)
    #expect(c.tokens.first == end && c.tokens.last == end, "the stream starts and ends with the symbol")
    return c.tokens.dropFirst().split(separator: end, omittingEmptySubsequences: false).map(c.tokenizer.decode)
  }

  @Test func linesAreDocumentsAndBlankLinesAreSkipped() throws {
    let dir = TempDir()
    defer { dir.cleanup() }
    let file = dir.write("n.txt", "ab\n\ncd\r\n  \n\t\n ef \nlast")
    let c = try CorpusLoader.load(path: file, documents: .lines)
    #expect(try documents(c) == ["ab", "cd", " ef ", "last", ""])
    #expect(c.documentCount == 4)
    let v = c.tokenizer.vocabulary
    #expect(v.symbols.first == Vocabulary.endOfTextSymbol && v.endOfTextIndex == 0)
    #expect(v.counts[0] == 5, "one symbol before the first document and one after each")
    #expect(!v.symbols.contains("\n") && !v.symbols.contains("\r\n"), "line breaks separate documents, they are not characters")
  }

  @Test func paragraphsAreSeparatedByBlankLines() throws {
    let dir = TempDir()
    defer { dir.cleanup() }
    let file = dir.write("p.txt", "\n\np1 l1\np1 l2\n\n\n  \n  indented\nnext line\n \n\nlast\n")
    let c = try CorpusLoader.load(path: file, documents: .blankLines)
    #expect(try documents(c) == ["p1 l1\np1 l2", "  indented\nnext line", "last", ""])
  }

  @Test func eachFileOfADirectoryEndsADocument() throws {
    let dir = TempDir()
    defer { dir.cleanup() }
    dir.write("d/a.txt", "first para\nstill first")  // no final line break
    dir.write("d/b.txt", "second\n\nthird\n")
    let c = try CorpusLoader.load(path: dir.path + "/d", documents: .blankLines)
    #expect(try documents(c) == ["first para\nstill first", "second", "third", ""])
    #expect(c.addedLineBreaks == 0)
  }

  @Test func endOfTextIsNeverProducedByText() throws {
    let dir = TempDir()
    defer { dir.cleanup() }
    let literal = Vocabulary.endOfTextSymbol
    let file = dir.write("e.txt", "x\(literal)y\nz\n")
    let c = try CorpusLoader.load(path: file, documents: .lines)
    let t = c.tokenizer
    let end = try #require(t.endOfTextID)
    #expect(literal.count == 13)
    // The literal string is 13 characters of text, in the corpus and in a prompt.
    #expect(c.tokens.filter { $0 == end }.count == 3)
    let ids = try t.encode(literal)
    #expect(ids.count == 13 && !ids.contains(end))
    #expect(t.decode(ids) == literal)
    // The symbol itself decodes to that string.
    #expect(t.symbol(end) == literal && t.decode([end]) == literal)
    // Reading the same text with the tokenizer gives the same ids (what a resume does).
    let (again, _) = try CorpusLoader.encode(path: file, with: t, documents: .lines)
    #expect(again == c.tokens)
    // A stream model has no symbol, so it cannot read documents.
    let stream = try CorpusLoader.load(path: file)
    #expect(stream.tokenizer.endOfTextID == nil && stream.tokenizer.vocabulary.endOfTextIndex == nil)
    #expect(throws: TextError.self) { try CorpusLoader.encode(path: file, with: stream.tokenizer, documents: .lines) }
  }

  @Test func inMemoryCorpusReadsDocumentsLikeAFile() throws {
    let dir = TempDir()
    defer { dir.cleanup() }
    let text = "one\ntwo\n\nthree"
    let file = dir.write("m.txt", text)
    let fromFile = try CorpusLoader.load(path: file, documents: .lines)
    let fromBytes = try Array(text.utf8).withUnsafeBufferPointer { b in try CorpusLoader.load(bytes: b, name: "m", documents: .lines) }
    #expect(fromBytes.tokens == fromFile.tokens && fromBytes.tokenizer.vocabulary == fromFile.tokenizer.vocabulary)
    let encoded = try Array(text.utf8).withUnsafeBufferPointer { b in try CorpusLoader.encode(bytes: b, name: "m", with: fromFile.tokenizer, documents: .lines) }
    #expect(encoded.tokens == fromFile.tokens)
  }

  @Test func aCorpusOfBlankLinesIsEmpty() throws {
    let dir = TempDir()
    defer { dir.cleanup() }
    let file = dir.write("b.txt", "\n  \n\n")
    #expect(throws: TextError.emptyCorpus(path: file)) { try CorpusLoader.load(path: file, documents: .lines) }
  }

  /// The validation split cuts at the end-of-text symbol nearest the fraction; both parts hold it.
  @Test func validationIsCutBetweenDocuments() throws {
    let dir = TempDir()
    defer { dir.cleanup() }
    var text = ""
    for i in 0..<50 { text += String(repeating: "abcdefg".map(String.init)[i % 7], count: 1 + i % 9) + "\n" }
    let c = try CorpusLoader.load(path: dir.write("w.txt", text), documents: .lines)
    let end = try #require(c.tokenizer.endOfTextID)
    let ends = c.tokens.indices.filter { c.tokens[$0] == end }
    for fraction in [0.01, 0.05, 0.1, 0.3, 0.5, 0.9] {
      let (train, val) = try c.split(validationFraction: fraction)
      #expect(train.last == end && val.first == end, "fraction \(fraction): both parts hold the cut's symbol")
      #expect(train.endIndex - 1 == val.startIndex && val.endIndex == c.tokens.count)
      // No interior end is nearer to the stream's cut.
      let target = c.tokens.count - Int((Double(c.tokens.count) * fraction).rounded())
      let nearest = ends.dropFirst().dropLast().map { abs($0 - target) }.min()!
      #expect(abs(val.startIndex - target) == nearest, "fraction \(fraction)")
    }
    let (all, none) = try c.split(validationFraction: 0)
    #expect(all.count == c.tokens.count && none.isEmpty)
    // A stream split is the old one, exactly.
    let (t, v) = try Corpus.split(c.tokens, validationFraction: 0.1, documentEnd: nil)
    #expect(t.count == c.tokens.count - Int((Double(c.tokens.count) * 0.1).rounded()) && t.count + v.count == c.tokens.count)
    // One document cannot be cut between documents.
    let one = try CorpusLoader.load(path: dir.write("one.txt", "a single line of text\n"), documents: .lines)
    #expect(throws: TextError.self) { try one.split(validationFraction: 0.1) }
  }

  /// Fine-tuning's vocabulary: old ids kept, new symbols appended, rare new ones unknown.
  @Test func mergedVocabularyKeepsIdsAndAppends() throws {
    let base = Vocabulary(symbols: ["\n", "a", "b"], counts: [5, 6, 7], unknownIndex: nil)
    let other = Vocabulary(symbols: [Vocabulary.endOfTextSymbol, "a", "c", "d", "é"], counts: [4, 1, 9, 1, 3], unknownIndex: nil, endOfTextIndex: 0)
    let (merged, map) = base.merged(with: other, minCount: 2)
    #expect(merged.symbols == ["\n", "a", "b", Vocabulary.endOfTextSymbol, "c", "\u{FFFD}", "é"])
    #expect(merged.counts == [5, 7, 7, 4, 9, 1, 3])
    #expect(merged.endOfTextIndex == 3 && merged.unknownIndex == 5)
    #expect(map == [3, 1, 4, 5, 6])
    // Growing again by the same text adds nothing.
    #expect(merged.merged(with: other, minCount: 2).vocabulary.symbols == merged.symbols)
  }

  /// A corpus renumbered onto a model's vocabulary reads back identically through the merged
  /// tokenizer, which is what a resumed fine-tuning run checks.
  @Test func extendedCorpusEncodesLikeTheMergedTokenizer() throws {
    let dir = TempDir()
    defer { dir.cleanup() }
    let parent = try CorpusLoader.load(path: dir.write("p.txt", "aaab\nbbbc\nxyz"), options: TokenizerOptions(minCount: 2))
    let file = dir.write("n.txt", "abz\nqqq\nwabé\n")  // z: rare here, known to the parent; w, é: rare and new
    let read = try CorpusLoader.load(path: file, options: TokenizerOptions(minCount: 1), documents: .lines)
    let grown = try read.extendingVocabulary(of: parent.tokenizer)
    let v = grown.tokenizer.vocabulary
    #expect(Array(v.symbols.prefix(parent.tokenizer.vocabulary.count)) == parent.tokenizer.vocabulary.symbols)
    #expect(v.symbols.contains("q") && !v.symbols.contains("w") && !v.symbols.contains("é") && v.endOfTextIndex != nil)
    let (again, _) = try CorpusLoader.encode(path: file, with: grown.tokenizer, documents: .lines, unknown: .mapToUnknown)
    #expect(again == grown.tokens)
    #expect(throws: TextError.self, "a corpus read with another normalization is refused") {
      try CorpusLoader.load(path: file, options: TokenizerOptions(normalization: .nfkc)).extendingVocabulary(of: parent.tokenizer)
    }
  }
}
