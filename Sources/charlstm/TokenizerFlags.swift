import ArgumentParser
import CharLSTMKit

/// The options that decide how text becomes characters (shared by vocab and train).
struct TokenizerFlags: ParsableArguments {
  @Option(help: "Unicode normalization: nfc, nfkc or none.")
  var normalize: Normalization = .nfc

  @Flag(help: "Lowercase the text (locale-aware, see --locale).")
  var lowercase = false

  @Option(help: "ICU locale for --lowercase, e.g. tr (dotless ı). Default: root locale.")
  var locale: String = ""

  @Option(help: "Characters seen fewer than K times become one unknown symbol (U+FFFD).")
  var minCount: Int = 1

  @Option(help: "Only read files matching this glob inside a directory corpus, e.g. '*.swift'.")
  var include: String?

  var options: TokenizerOptions {
    TokenizerOptions(normalization: normalize, lowercase: lowercase, locale: locale, minCount: minCount)
  }

  func validate() throws {
    guard minCount >= 1 else { throw ValidationError("--min-count must be at least 1 (1 keeps every character)") }
    do { try options.validate() } catch { throw ValidationError(userMessage(error)) }
  }
}

extension Normalization: ExpressibleByArgument {}
