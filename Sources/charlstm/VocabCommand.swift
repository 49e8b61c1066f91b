import ArgumentParser
import CharLSTMKit
import Foundation

/// `charlstm vocab CORPUS`: what the tokenizer sees in a corpus.
struct VocabCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "vocab",
    abstract: "Show the characters of a corpus: bytes, characters, distinct, most frequent.",
    discussion: """
      Examples:
        charlstm vocab ../shared/corpora/tinyshakespeare.txt
        charlstm vocab Sources --include '*.swift' --json
      """)

  @Argument(help: "A UTF-8 text file, or a directory of them.")
  var corpus: String

  @OptionGroup var tokenizer: TokenizerFlags

  @Option(help: "How many of the most frequent characters to list (0 or more; more than the vocabulary lists all).")
  var top: Int = 20

  @Flag(help: "Print one JSON object instead of text.")
  var json = false

  func validate() throws {
    guard top >= 0 else { throw ValidationError("--top \(top) is invalid: expected an integer ≥ 0 (more than the vocabulary lists all)") }
  }

  func run() throws {
    let corpus = try CorpusLoader.load(path: self.corpus, options: tokenizer.options, include: tokenizer.include)
    let vocab = corpus.tokenizer.vocabulary
    let frequent = vocab.mostFrequent(top)
    if json {
      var object: [String: Any] = [
        "bytes": corpus.byteCount,
        "characters": corpus.tokens.count,
        "added_line_breaks": corpus.addedLineBreaks,
        "distinct": vocab.count,
        "files": corpus.files.count,
        "vocabulary": vocab.symbols,
        "counts": vocab.counts,
        "normalization": tokenizer.normalize.rawValue,
        "lowercase": tokenizer.lowercase,
        "min_count": tokenizer.minCount,
        "most_frequent": frequent.map { ["character": vocab.symbols[$0], "count": vocab.counts[$0]] },
      ]
      if let u = vocab.unknownIndex { object["unknown_index"] = u }
      let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
      Output.write(String(decoding: data, as: UTF8.self) + "\n")
      return
    }
    let fileNote = counted(corpus.files.count, "file")
    var lines = [
      "corpus      \(self.corpus) (\(fileNote))",
      "bytes       \(grouped(corpus.byteCount))",
      "characters  \(grouped(corpus.tokens.count))" + (corpus.addedLineBreaks == 0 ? "" : " (including \(counted(corpus.addedLineBreaks, "line break")) added between files that do not end with one)"),
      "distinct    \(grouped(vocab.count))" + (vocab.unknownIndex == nil ? "" : " (including the unknown symbol)"),
    ]
    if !frequent.isEmpty {
      lines.append("most frequent:")
      for id in frequent {
        let share = 100 * Double(vocab.counts[id]) / Double(max(1, corpus.tokens.count))
        lines.append("  \(display(vocab.symbols[id]).padding(toLength: 10, withPad: " ", startingAt: 0)) \(grouped(vocab.counts[id]).leftPad(10))  \(String(format: "%5.2f", share))%")
      }
    }
    Output.write(lines.joined(separator: "\n") + "\n")
  }
}

/// 1234567 → "1,234,567".
/// "1 character", "2 characters", "1,000 characters".
func counted(_ n: Int, _ noun: String) -> String { "\(grouped(n)) \(noun)\(n == 1 ? "" : "s")" }

func grouped(_ n: Int) -> String {
  let s = String(n.magnitude)
  var out = ""
  for (i, ch) in s.enumerated() {
    if i > 0 && (s.count - i) % 3 == 0 { out.append(",") }
    out.append(ch)
  }
  return (n < 0 ? "-" : "") + out
}

/// A character made visible: quotes, and escapes for whitespace and controls.
func display(_ s: String) -> String {
  switch s {
  case "\n": return "'\\n'"
  case "\r\n": return "'\\r\\n'"
  case "\t": return "'\\t'"
  case " ": return "' '"
  default:
    if s.unicodeScalars.allSatisfy({ $0.properties.generalCategory == .control || $0.properties.generalCategory == .format }) {
      return s.unicodeScalars.map { "U+" + String($0.value, radix: 16, uppercase: true) }.joined(separator: " ")
    }
    return "'\(s)'"
  }
}

extension String {
  func leftPad(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
}
