import ArgumentParser
import CharLSTMKit
import Foundation

/// `charlstm-bench tokenize FILE`: time to read and tokenize a corpus, and peak memory.
struct TokenizeBench: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "tokenize",
    abstract: "Time corpus loading (UTF-8 check, NFC, grapheme split, vocabulary) and report peak RSS.",
    discussion: "Example: swift run -c release charlstm-bench tokenize ../shared/corpora/tinyshakespeare.txt")

  @Argument(help: "Corpus file or directory.")
  var corpus: String = "../shared/corpora/tinyshakespeare.txt"

  @Option(help: "Timed repetitions (after one warm-up), 1 to 1000.")
  var repeats: Int = 5

  @Option(help: "Unicode normalization: nfc, nfkc or none.")
  var normalize: Normalization = .nfc

  func validate() throws {
    if repeats < 1 || repeats > 1000 { throw ValidationError("--repeats \(repeats) is invalid: expected an integer from 1 to 1000") }
  }

  func run() throws {
    let options = TokenizerOptions(normalization: normalize)
    let rssBefore = ProcessMetrics.peakResidentMiB()
    var corpusResult = try CorpusLoader.load(path: corpus, options: options)
    var times: [Double] = []
    for _ in 0..<repeats {
      let t0 = ProcessMetrics.monotonicSeconds()
      corpusResult = try CorpusLoader.load(path: corpus, options: options)
      times.append(ProcessMetrics.monotonicSeconds() - t0)
    }
    times.sort()
    let median = times[times.count / 2]
    let chars = corpusResult.tokens.count
    let result: [String: Any] = [
      "corpus": corpus, "bytes": corpusResult.byteCount, "characters": chars,
      "distinct": corpusResult.tokenizer.vocabulary.count, "normalization": normalize.rawValue,
      "seconds": ["median": median, "min": times.first!, "max": times.last!],
      "mb_per_s_median": Double(corpusResult.byteCount) / median / 1e6,
      "peak_rss_mib": ProcessMetrics.peakResidentMiB(), "rss_before_load_mib": rssBefore,
      "icu": Tokenizer.icuVersion,
    ]
    let data = try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys])
    emit(String(decoding: data, as: UTF8.self))
  }
}

extension Normalization: ExpressibleByArgument {}
