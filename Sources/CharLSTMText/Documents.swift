/// How a corpus is cut into documents: texts the model learns as units, each ending with the
/// end-of-text symbol (``Vocabulary/endOfTextSymbol``).
///
/// In a documents mode the token stream is `<eot> d₁ <eot> d₂ <eot> … dₙ <eot>`: every document
/// follows one end-of-text symbol and is followed by one, so the model learns how a text starts
/// (after the symbol) and where it ends (by predicting it). The symbol is a vocabulary entry that
/// no text produces: the tokenizer turns the literal string `<|endoftext|>` into its 13
/// characters, never into the symbol. Each file of a directory corpus ends a document.
public enum DocumentMode: String, Codable, CaseIterable, Sendable {
  /// No documents: the corpus is one stream of characters (line breaks are characters).
  case stream = "none"
  /// One document per line (names, titles, one-line texts). The line break ends the document and
  /// is not part of it; blank lines (empty, or only spaces and tabs) are skipped.
  case lines
  /// One document per paragraph: paragraphs are separated by one or more blank lines (empty, or
  /// only spaces and tabs); single line breaks inside a paragraph are characters of it.
  case blankLines = "blank-lines"
}

/// Cuts a stream of grapheme clusters into documents (see ``DocumentMode``): characters go to
/// `character`, the end of each non-empty document to `end`.
///
/// Line breaks are the clusters "\n", "\r\n" and "\r". Spaces and tabs after a line break are
/// held until the next character shows whether the line was blank.
struct DocumentSplitter {
  let mode: DocumentMode
  /// Whether the current document has characters.
  private var inDocument = false
  /// Line breaks held since the last character.
  private var breaks = 0
  /// Held clusters (breaks, and spaces or tabs), and where the ones after the last break start.
  private var held: [[UInt16]] = []
  private var afterLastBreak = 0

  init(mode: DocumentMode) { self.mode = mode }

  @inline(__always)
  static func isLineBreak(_ c: UnsafeBufferPointer<UInt16>) -> Bool {
    (c.count == 1 && (c[0] == 0x0A || c[0] == 0x0D)) || (c.count == 2 && c[0] == 0x0D && c[1] == 0x0A)
  }

  @inline(__always)
  static func isBlank(_ c: UnsafeBufferPointer<UInt16>) -> Bool {
    c.count == 1 && (c[0] == 0x20 || c[0] == 0x09)
  }

  /// Takes the next cluster of a file.
  @inline(__always)
  mutating func feed(
    _ c: UnsafeBufferPointer<UInt16>, character: (UnsafeBufferPointer<UInt16>) -> Void, end: () -> Void
  ) {
    if mode == .stream { return character(c) }
    if Self.isLineBreak(c) {
      switch mode {
      case .lines:
        if inDocument { end() }
        inDocument = false
        held.removeAll(keepingCapacity: true)
      case .blankLines:
        if inDocument {
          held.append(Array(c))
          breaks += 1
          afterLastBreak = held.count
        } else {
          held.removeAll(keepingCapacity: true)  // blanks before the first character
        }
      case .stream: break
      }
      return
    }
    if Self.isBlank(c) && (!inDocument || breaks > 0) {
      held.append(Array(c))
      return
    }
    // A character: what was held is resolved now.
    if breaks >= 2 {
      end()  // a blank line: the paragraph ended; the new one keeps its indentation
      for h in held[afterLastBreak...] { h.withUnsafeBufferPointer(character) }
    } else {
      for h in held { h.withUnsafeBufferPointer(character) }
    }
    held.removeAll(keepingCapacity: true)
    breaks = 0
    afterLastBreak = 0
    character(c)
    inDocument = true
  }

  /// The file ended: so does its last document.
  mutating func endFile(end: () -> Void) {
    held.removeAll(keepingCapacity: true)
    breaks = 0
    afterLastBreak = 0
    if inDocument { end() }
    inDocument = false
  }
}
