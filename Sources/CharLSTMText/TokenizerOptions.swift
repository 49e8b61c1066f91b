/// The Unicode normalization applied to text before it is split into characters.
public enum Normalization: String, Codable, CaseIterable, Sendable {
  /// Canonical composition (the default): `e` + U+0301 becomes `é`.
  case nfc
  /// Compatibility composition: also folds ligatures, full-width forms, superscripts.
  case nfkc
  /// No normalization: text is kept as written.
  case none
}

/// How text becomes characters; stored in every checkpoint so prompts are tokenized the same way.
public struct TokenizerOptions: Codable, Equatable, Sendable {
  /// Unicode normalization form.
  public var normalization: Normalization
  /// Lowercase the text (locale-aware, see ``locale``) before normalizing.
  public var lowercase: Bool
  /// ICU locale for lowercasing: "" is the root locale; "tr" or "az" lowercase I to ı.
  public var locale: String
  /// Characters seen fewer than this many times in the corpus become the unknown symbol.
  public var minCount: Int

  /// Options with the given values; the defaults keep text as read, in NFC, with every character.
  public init(
    normalization: Normalization = .nfc, lowercase: Bool = false, locale: String = "",
    minCount: Int = 1
  ) {
    self.normalization = normalization
    self.lowercase = lowercase
    self.locale = locale
    self.minCount = minCount
  }

  /// Throws ``TextError/outOfRange(_:value:expected:)`` naming the setting out of range.
  public func validate() throws(TextError) {
    guard minCount >= 1 else {
      throw .outOfRange(.minCount, value: "\(minCount)", expected: "an integer ≥ 1")
    }
    guard locale.utf8.count < 64, locale.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }) else {
      throw .outOfRange(.locale, value: locale, expected: "an ICU locale id such as tr or de_DE")
    }
  }
}
