import Foundation
import Testing

@testable import CharLSTMServer

/// The hand-written stream chunks are byte for byte what the JSON encoder writes for the same
/// body, on texts with every kind of character a JSON string treats specially.
@Suite struct ChunkEncodingTests {
  static let texts: [String] = [
    "", "a", "ROMEO:\nHe jests", "\"quoted\" \\ back/slash", "tab\there\r\n", "\u{0}\u{1}\u{8}\u{b}\u{c}\u{1f}\u{7f}",
    "é e\u{301} 한국어 日本 ΑΒΓ Кириллица", "👩‍👩‍👧 🇫🇷", "\u{2028}\u{2029}", "</script>",
  ]

  @Test func textChunksEqualTheEncodersBytes() {
    var g = SystemRandomNumberGenerator()
    var texts = Self.texts
    // Random mixes of all the special characters and some ordinary ones.
    let pool = Array("a\"\\/\n\r\t\u{0}\u{1f}\u{7f}é😀\u{2028}")
    for _ in 0..<200 { texts.append(String((0..<Int.random(in: 0...12, using: &g)).map { _ in pool.randomElement(using: &g)! })) }
    for (model, id) in [("M", "cmpl-1f"), ("tiny \"shakespeare\"/v2", "cmpl-ffffffffffffffff")] {
      let writer = TextChunkWriter(id: id, created: 1_764_000_000, model: model)
      for text in texts {
        for (index, reason) in [(0, nil), (3, "length"), (15, "stop")] as [(Int, String?)] {
          var fast: [UInt8] = []
          writer.append(text: text, index: index, finishReason: reason, to: &fast)
          let body = CompletionBody(id: id, created: 1_764_000_000, model: model, choices: [ChoiceBody(text: text, index: index, logprobs: nil, finishReason: reason)])
          let want = Array("data: ".utf8) + JSON.encode(body) + [10, 10]
          #expect(fast == want, "text \(text.debugDescription): \(String(decoding: fast, as: UTF8.self)) vs \(String(decoding: want, as: UTF8.self))")
        }
      }
    }
  }
}
