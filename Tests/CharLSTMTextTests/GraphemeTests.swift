import CharLSTMText
import Testing

/// Splits `text` and compares the characters one by one, reporting the first that differs.
private func expectCharacters(
  _ text: String, _ expected: [String], options: TokenizerOptions = TokenizerOptions(),
  sourceLocation: SourceLocation = #_sourceLocation
) throws {
  let got = try Tokenizer.characters(text, options: options)
  let codes = { (s: String) in s.unicodeScalars.map { String($0.value, radix: 16) }.joined(separator: " ") }
  for (k, (g, e)) in zip(got, expected).enumerated() where !g.unicodeScalars.elementsEqual(e.unicodeScalars) {
    Issue.record("character \(k): got [\(codes(g))], expected [\(codes(e))]", sourceLocation: sourceLocation)
    return
  }
  #expect(got.count == expected.count, "got \(got.count) characters, expected \(expected.count): \(got.map(codes))", sourceLocation: sourceLocation)
}

@Suite struct GraphemeTests {
  @Test func combiningMarkComposesUnderNFC() throws {
    // e + COMBINING ACUTE ACCENT → one NFC character U+00E9.
    try expectCharacters("e\u{301}x", ["\u{E9}", "x"])
    // Kept decomposed (but still one character) without normalization.
    try expectCharacters("e\u{301}x", ["e\u{301}", "x"], options: TokenizerOptions(normalization: .none))
    // A mark with no precomposed form stays attached: q + U+0307 is one character.
    try expectCharacters("q\u{307}a", ["q\u{307}", "a"])
  }

  @Test func nfkcFoldsCompatibilityForms() throws {
    // The ﬁ ligature becomes f, i; full-width Ａ becomes A; under NFC they stay.
    try expectCharacters("\u{FB01}\u{FF21}", ["f", "i", "A"], options: TokenizerOptions(normalization: .nfkc))
    try expectCharacters("\u{FB01}\u{FF21}", ["\u{FB01}", "\u{FF21}"])
  }

  @Test func emojiZWJSequences() throws {
    let family = "\u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467}\u{200D}\u{1F466}"  // 👨‍👩‍👧‍👦
    let scientist = "\u{1F469}\u{1F3FD}\u{200D}\u{1F52C}"  // 👩🏽‍🔬 (profession with skin tone)
    let firefighter = "\u{1F9D1}\u{200D}\u{1F692}"  // 🧑‍🚒
    try expectCharacters("a" + family + scientist + firefighter + "b", ["a", family, scientist, firefighter, "b"])
  }

  @Test func skinToneModifiers() throws {
    let wave = "\u{1F44B}\u{1F3FF}"  // 👋🏿
    try expectCharacters(wave + wave + "\u{1F44D}", [wave, wave, "\u{1F44D}"])
  }

  @Test func regionalIndicatorFlagsPairUp() throws {
    let fr = "\u{1F1EB}\u{1F1F7}"
    let jp = "\u{1F1EF}\u{1F1F5}"
    try expectCharacters(fr + jp, [fr, jp])  // two flags in a row are two characters
    try expectCharacters(fr + jp + "\u{1F1FA}", [fr, jp, "\u{1F1FA}"])  // odd one out stands alone
  }

  @Test func hangulSyllablesAndConjoiningJamo() throws {
    try expectCharacters("한국어", ["한", "국", "어"])
    // Conjoining jamo ᄒ ᅡ ᆫ compose to 한 under NFC and form one character either way.
    try expectCharacters("\u{1112}\u{1161}\u{11AB}", ["한"])
    try expectCharacters("\u{1112}\u{1161}\u{11AB}", ["\u{1112}\u{1161}\u{11AB}"], options: TokenizerOptions(normalization: .none))
  }

  @Test func devanagariWithVirama() throws {
    // A consonant + virama + consonant conjunct is one user-perceived character (ICU's rules;
    // Unicode 15.1 made it rule GB9c): न | म | स्ते and हि | न्दी.
    try expectCharacters("नमस्ते", ["न", "म", "स्ते"])
    try expectCharacters("हिन्दी", ["हि", "न्दी"])
    // A virama with nothing after it stays with its consonant.
    try expectCharacters("क्", ["क्"])
  }

  @Test func thai() throws {
    // ภาษาไทย: vowel signs above/below attach to their consonant; leading vowels stand alone.
    try expectCharacters("ภาษาไทย", ["ภ", "า", "ษ", "า", "ไ", "ท", "ย"])
    try expectCharacters("กิ่ง", ["กิ่", "ง"])
  }

  @Test func arabicWithHarakat() throws {
    // مَرْحَبًا: each harakah attaches to the letter before it.
    try expectCharacters("مَرْحَبًا", ["مَ", "رْ", "حَ", "بً", "ا"])
  }

  @Test func crlfIsOneCharacter() throws {
    try expectCharacters("a\r\nb\n\rc", ["a", "\r\n", "b", "\n", "\r", "c"])
  }

  @Test func loneZWJ() throws {
    // A ZWJ at the start is a character of its own; after a letter it extends it.
    try expectCharacters("\u{200D}", ["\u{200D}"])
    try expectCharacters("a\u{200D}b", ["a\u{200D}", "b"])
  }

  @Test func emptyText() throws {
    try expectCharacters("", [])
  }

  @Test func lowercasingIsLocaleAware() throws {
    try expectCharacters("IÉ", ["i", "é"], options: TokenizerOptions(lowercase: true))
    try expectCharacters("I", ["ı"], options: TokenizerOptions(lowercase: true, locale: "tr"))
    // Greek final sigma: ΟΔΟΣ → οδος with a final ς.
    try expectCharacters("ΟΔΟΣ", ["ο", "δ", "ο", "ς"], options: TokenizerOptions(lowercase: true))
  }
}
