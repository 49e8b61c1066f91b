import Foundation
import Testing

@Suite struct VocabCLITests {
  @Test func jsonReportsCountsAndVocabulary() throws {
    let dir = Scratch()
    defer { dir.cleanup() }
    let file = dir.write("t.txt", Array("e\u{301}e\u{301}a 🇫🇷\r\n".utf8))
    let r = try CLI.run(["vocab", file, "--json"])
    #expect(r.status == 0, "\(r.stderr)")
    let object = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
    #expect(object["bytes"] as? Int == 18)  // 3+3 (e + U+0301) + a + space + 8 (flag) + CRLF
    #expect(object["characters"] as? Int == 6)  // é é a ␠ 🇫🇷 CRLF
    #expect(object["distinct"] as? Int == 5)
    #expect(object["vocabulary"] as? [String] == ["\r\n", " ", "a", "é", "🇫🇷"])
  }

  @Test func textOutputListsMostFrequent() throws {
    let dir = Scratch()
    defer { dir.cleanup() }
    let file = dir.write("t.txt", Array("aab\n".utf8))
    let r = try CLI.run(["vocab", file, "--top", "2"])
    #expect(r.status == 0)
    #expect(r.stdout.contains("characters  4"))
    #expect(r.stdout.contains("distinct    3"))
    #expect(r.stdout.contains("'a'"))
  }

  /// A directory corpus joins files with a line break when one does not end with it: the added
  /// characters are counted and said, not passed off as text; one file is "1 file".
  @Test func lineBreaksAddedBetweenFilesAreReported() throws {
    let dir = Scratch()
    defer { dir.cleanup() }
    try FileManager.default.createDirectory(atPath: dir.path + "/d", withIntermediateDirectories: true)
    _ = dir.write("d/a.txt", Array("ab".utf8))
    _ = dir.write("d/b.txt", Array("cd\n".utf8))
    _ = dir.write("d/c.txt", Array("e".utf8))
    let json = try CLI.run(["vocab", dir.path + "/d", "--json"])
    let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
    #expect(object["bytes"] as? Int == 6)
    #expect(object["characters"] as? Int == 8, "ab⏎ cd⏎ e⏎")
    #expect(object["added_line_breaks"] as? Int == 2)
    let text = try CLI.run(["vocab", dir.path + "/d"])
    #expect(text.stdout.contains("characters  8 (including 2 line breaks added between files that do not end with one)"), "\(text.stdout)")
    let one = try CLI.run(["vocab", dir.path + "/d/b.txt"])
    #expect(one.stdout.contains("(1 file)") && !one.stdout.contains("added"), "\(one.stdout)")
  }

  @Test func userErrorsGiveOneLineAndNonZeroStatus() throws {
    let dir = Scratch()
    defer { dir.cleanup() }
    let bad = dir.write("bad.txt", [0x61, 0x62, 0xFF])
    let cases: [([String], String)] = [
      (["vocab", dir.path + "/missing.txt"], "no such file"),
      (["vocab", bad], "invalid UTF-8 at byte offset 2"),
      (["vocab", dir.write("e.txt", [])], "empty"),
      (["vocab", bad, "--min-count", "0"], "--min-count"),
      (["vocab", bad, "--normalize", "nfx"], "nfx"),
    ]
    for (args, needle) in cases {
      let r = try CLI.run(args)
      #expect(r.status != 0, "\(args) should fail")
      #expect(r.stderr.contains(needle), "\(args): \(r.stderr)")
      #expect(!r.stderr.contains("Fatal error"), "\(args) crashed: \(r.stderr)")
    }
  }
}
