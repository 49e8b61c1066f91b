import Foundation
import Testing

@testable import SafeTensors

/// One crafted file per validation rule; each must fail with the right typed error.
@Suite struct ValidationTests {
  static let p = testPath

  /// `{"a": {...}}` with an F32 [2] tensor at [0, 8] unless overridden.
  func one(_ entry: String = #"{"dtype":"F32","shape":[2],"data_offsets":[0,8]}"#, data: Int = 8) -> [UInt8] {
    makeFile(header: #"{"a":"# + entry + "}", data: [UInt8](repeating: 0, count: data))
  }

  @Test func baselineLoads() throws {
    let f = try SafeTensorsFile(bytes: one())
    #expect(f.tensorNames == ["a"])
    // Trailing whitespace (the writer's padding) and no padding at all are both fine.
    #expect(loadError(makeFile(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, data: .init(repeating: 0, count: 8), pad: false)) == nil)
    #expect(loadError(makeFile(header: "{}", pad: false)) == nil)
  }

  @Test func shortFileAndHeaderLength() {
    #expect(loadError([]) == .fileTooShort(path: Self.p, size: 0))
    #expect(loadError([1, 2, 3]) == .fileTooShort(path: Self.p, size: 3))
    // Length field larger than the file.
    var bytes = one()
    bytes.replaceSubrange(0..<8, with: lengthField(1000))
    #expect(loadError(bytes) == .truncated(path: Self.p, expected: 1008, found: bytes.count))
    // Absurd lengths are rejected by the limit before anything is allocated.
    bytes.replaceSubrange(0..<8, with: lengthField(.max))
    #expect(loadError(bytes) == .headerTooLarge(path: Self.p, length: .max, limit: 100 << 20))
    // A header within the file but over a caller's limit.
    #expect(loadError(one(), maxHeaderBytes: 16) == .headerTooLarge(path: Self.p, length: 56, limit: 16))
    // Zero-length header.
    #expect(caseName(loadError(lengthField(0))) == "invalidHeaderJSON")
  }

  @Test func truncatedData() {
    let bytes = one()
    let cut = Array(bytes.dropLast(3))
    #expect(loadError(cut) == .truncated(path: Self.p, expected: bytes.count, found: cut.count))
    let message = loadError(cut)!.description
    #expect(message.contains("truncated") && message.contains("copy it again"))
  }

  @Test func headerNotUTF8() {
    var h = Array(#"{"a\#u{E9}":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#.utf8)
    #expect(loadError(makeFile(headerBytes: h, data: .init(repeating: 0, count: 8))) == nil)
    let at = h.firstIndex(of: 0xC3)!
    h[at] = 0xFF
    #expect(loadError(makeFile(headerBytes: h, data: .init(repeating: 0, count: 8))) == .invalidHeaderUTF8(path: Self.p, offset: at))
    // Overlong encoding of '/', a UTF-8 encoded surrogate, a truncated sequence.
    for bad: [UInt8] in [[0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xE2, 0x82], [0xF4, 0x90, 0x80, 0x80]] {
      let header = Array(#"{"x":""#.utf8) + bad + Array(#""}"#.utf8)
      #expect(caseName(loadError(makeFile(headerBytes: header))) == "invalidHeaderUTF8")
    }
  }

  @Test(arguments: [
    "hello", "[]", "\"str\"", "12", "null", "{", "{\"a\"", "{\"a\":}", "{,}", "{\"a\":1,}",
    "{} x", "{}{}", "{'a':1}", "{\"a\":[1,]}", "{\"a\":01}", "{\"a\":1.}", "{\"a\":-}", "{\"a\":1e}",
    "{\"a\":tru}", "{\"a\":NaN}", "{\"a\":\"\\x\"}", "{\"a\":\"\\u12G4\"}", "{\"a\":\"\\ud800\"}",
    "{\"a\":\"\\udc00\"}", "{\"a\":\"\\ud800\\u0041\"}", "{\"a\":\"tab\there\"}", "{\"a\":\"unterminated}",
    "\u{0}{}",
  ])
  func notAJSONObject(header: String) {
    let error = loadError(makeFile(header: header))
    #expect(caseName(error) == "invalidHeaderJSON", "\(header) -> \(String(describing: error))")
  }

  @Test func deepNestingIsRejectedWithoutRecursingForever() {
    for opener in ["[", "{\"k\":"] {
      let header = "{\"a\":" + String(repeating: opener, count: 100_000)
      #expect(caseName(loadError(makeFile(header: header))) == "invalidHeaderJSON")
    }
  }

  @Test func duplicateKeys() {
    let e = #"{"dtype":"F32","shape":[1],"data_offsets":[0,4]}"#
    #expect(loadError(makeFile(header: #"{"a":\#(e),"a":\#(e)}"#, data: .init(repeating: 0, count: 8))) == .duplicateKey(path: Self.p, key: "a"))
    // The same key spelled with an escape is still the same key.
    #expect(loadError(makeFile(header: #"{"a":\#(e),"\u0061":\#(e)}"#, data: .init(repeating: 0, count: 8))) == .duplicateKey(path: Self.p, key: "a"))
    #expect(loadError(one(#"{"dtype":"F32","dtype":"F32","shape":[2],"data_offsets":[0,8]}"#)) == .duplicateKey(path: Self.p, key: "dtype"))
    #expect(loadError(makeFile(header: #"{"__metadata__":{"k":"1","k":"2"}}"#)) == .duplicateKey(path: Self.p, key: "k"))
    #expect(loadError(makeFile(header: #"{"__metadata__":{},"__metadata__":{}}"#)) == .duplicateKey(path: Self.p, key: "__metadata__"))
  }

  @Test func malformedEntries() {
    for entry in [
      "[]", "1", "\"F32\"", "null",
      #"{"shape":[2],"data_offsets":[0,8]}"#,
      #"{"dtype":"F32","data_offsets":[0,8]}"#,
      #"{"dtype":"F32","shape":[2]}"#,
      #"{"dtype":"F32","shape":[2],"data_offsets":[0,8],"extra":1}"#,
      #"{"dtype":32,"shape":[2],"data_offsets":[0,8]}"#,
      #"{"dtype":"F32","shape":[2],"data_offsets":[0]}"#,
      #"{"dtype":"F32","shape":[2],"data_offsets":[0,8,8]}"#,
      #"{"dtype":"F32","shape":[2],"data_offsets":{"0":8}}"#,
      #"{"dtype":"F32","shape":[2],"data_offsets":[-1,8]}"#,
      #"{"dtype":"F32","shape":[2],"data_offsets":[0,8.0]}"#,
      #"{"dtype":"F32","shape":[2],"data_offsets":["0",8]}"#,
      #"{"dtype":"F32","shape":[2],"data_offsets":[0,99999999999999999999999]}"#,
      #"{"dtype":"F32","shape":[2],"data_offsets":[0,9223372036854775808]}"#,
    ] {
      let error = loadError(one(entry))
      #expect(caseName(error) == "invalidTensorEntry", "\(entry) -> \(String(describing: error))")
    }
  }

  @Test func unknownDType() {
    #expect(loadError(one(#"{"dtype":"Q4","shape":[2],"data_offsets":[0,8]}"#)) == .unknownDType(path: Self.p, name: "a", dtype: "Q4"))
    #expect(loadError(one(#"{"dtype":"f32","shape":[2],"data_offsets":[0,8]}"#)) == .unknownDType(path: Self.p, name: "a", dtype: "f32"))
  }

  @Test func badShapes() {
    for shape in [
      "[-1]", "[2.0]", "[2e0]", "[\"2\"]", "[null]", "[[2]]", "2", "{}",
      "[99999999999999999999999]", "[9223372036854775808]",
      "[4294967296,4294967296,4]",  // element count overflows Int
      "[2305843009213693952]",  // count fits, count × 4 bytes overflows
    ] {
      let error = loadError(one(#"{"dtype":"F32","shape":\#(shape),"data_offsets":[0,8]}"#))
      #expect(caseName(error) == "badShape", "\(shape) -> \(String(describing: error))")
    }
    // An overflowing product that a later 0 brings back to 0 is a valid empty tensor.
    let empty = makeFile(header: #"{"a":{"dtype":"F32","shape":[4294967296,4294967296,0],"data_offsets":[0,0]}}"#)
    #expect(loadError(empty) == nil)
    let f = try? SafeTensorsFile(bytes: empty)
    #expect(f?.info("a")?.elementCount == 0)
    #expect((try? f?.floats("a")) == [])
  }

  @Test func offsetsAndSizes() {
    #expect(loadError(one(#"{"dtype":"F32","shape":[2],"data_offsets":[8,0]}"#)) == .offsetsOutOfRange(path: Self.p, name: "a", begin: 8, end: 0, dataSize: 8))
    #expect(loadError(one(#"{"dtype":"F32","shape":[2],"data_offsets":[0,4]}"#, data: 4)) == .sizeMismatch(path: Self.p, name: "a", expected: 8, found: 4))
    #expect(loadError(one(#"{"dtype":"F32","shape":[3],"data_offsets":[0,8]}"#)) == .sizeMismatch(path: Self.p, name: "a", expected: 12, found: 8))
    // Offsets past the data: consistent but the file is too short.
    #expect(loadError(one(#"{"dtype":"F32","shape":[2],"data_offsets":[0,8]}"#, data: 6)) == .truncated(path: Self.p, expected: 8 + 56 + 8, found: 8 + 56 + 6))
  }

  @Test func overlapsAndGaps() {
    func two(_ a: String, _ b: String, data: Int) -> [UInt8] {
      makeFile(
        header: #"{"a":{"dtype":"U8","shape":[4],"data_offsets":\#(a)},"b":{"dtype":"U8","shape":[4],"data_offsets":\#(b)}}"#,
        data: .init(repeating: 0, count: data))
    }
    #expect(loadError(two("[0,4]", "[4,8]", data: 8)) == nil)
    #expect(loadError(two("[4,8]", "[0,4]", data: 8)) == nil)  // order in the header is free
    #expect(loadError(two("[0,4]", "[2,6]", data: 6)) == .overlappingTensors(path: Self.p, first: "a", second: "b"))
    #expect(loadError(two("[0,4]", "[0,4]", data: 4)) == .overlappingTensors(path: Self.p, first: "a", second: "b"))
    #expect(loadError(two("[0,4]", "[6,10]", data: 10)) == .gapInData(path: Self.p, after: "a", start: 4, end: 6))
    #expect(loadError(two("[2,6]", "[6,10]", data: 10)) == .gapInData(path: Self.p, after: nil, start: 0, end: 2))
    #expect(loadError(two("[0,4]", "[4,8]", data: 11)) == .gapInData(path: Self.p, after: "b", start: 8, end: 11))
    // Bytes after an empty header belong to nothing.
    #expect(loadError(makeFile(header: "{}", data: [1])) == .gapInData(path: Self.p, after: nil, start: 0, end: 1))
    // An empty tensor inside another tensor's bytes overlaps it.
    let inside = makeFile(
      header: #"{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"e":{"dtype":"U8","shape":[0],"data_offsets":[2,2]}}"#,
      data: [0, 0, 0, 0])
    #expect(loadError(inside) == .overlappingTensors(path: Self.p, first: "a", second: "e"))
  }

  @Test func metadataMustMapStringsToStrings() {
    for meta in [#"[]"#, #""x""#, #"{"k":1}"#, #"{"k":null}"#, #"{"k":{"a":"b"}}"#, #"{"k":["v"]}"#] {
      let error = loadError(makeFile(header: #"{"__metadata__":\#(meta)}"#))
      #expect(caseName(error) == "invalidMetadata", "\(meta) -> \(String(describing: error))")
    }
    let ok = try? SafeTensorsFile(bytes: makeFile(header: #"{"__metadata__":{"k":"v","e":""}}"#))
    #expect(ok?.metadata == ["k": "v", "e": ""])
    #expect(ok?.tensorNames == [])
  }

  @Test func unreadableFiles() throws {
    let dir = try makeTempDirectory()
    defer { removeTree(dir) }
    let missing = dir + "/nope.safetensors"
    #expect(throws: SafeTensorsError.fileUnreadable(path: missing, reason: "No such file or directory (errno 2)")) {
      try SafeTensorsFile.load(contentsOf: missing)
    }
    #expect(throws: SafeTensorsError.fileUnreadable(path: dir, reason: "it is a directory")) {
      try SafeTensorsFile.load(contentsOf: dir)
    }
    // A text file passed by mistake: its first 8 bytes read as an absurd header length.
    let text = dir + "/corpus.txt"
    #expect(FileManager.default.createFile(atPath: text, contents: Data(String(repeating: "To be, or not to be. ", count: 1000).utf8)))
    let expectedLength = lengthField(0).indices.reduce(UInt64(0)) { $0 | UInt64(Array("To be, o".utf8)[$1]) << (8 * UInt64($1)) }
    #expect(throws: SafeTensorsError.headerTooLarge(path: text, length: expectedLength, limit: 100 << 20)) {
      try SafeTensorsFile.load(contentsOf: text)
    }
    // Short and truncated files on disk report the real file size.
    let short = dir + "/short.safetensors"
    #expect(FileManager.default.createFile(atPath: short, contents: Data([1, 2, 3])))
    #expect(throws: SafeTensorsError.fileTooShort(path: short, size: 3)) { try SafeTensorsFile.load(contentsOf: short) }
    let cut = dir + "/cut.safetensors"
    #expect(FileManager.default.createFile(atPath: cut, contents: Data(lengthField(1000) + [0x7B, 0x7D])))
    #expect(throws: SafeTensorsError.truncated(path: cut, expected: 1008, found: 10)) { try SafeTensorsFile.load(contentsOf: cut) }
  }

  @Test func descriptionsAreOneLineNamingTheFile() {
    let hostile = "evil\nname\u{1B}[31m"
    let errors: [SafeTensorsError] = [
      .fileUnreadable(path: "p", reason: "r"), .fileTooShort(path: "p", size: 3),
      .truncated(path: "p", expected: 1200, found: 980), .headerTooLarge(path: "p", length: 1 << 40, limit: 100),
      .invalidHeaderUTF8(path: "p", offset: 3), .invalidHeaderJSON(path: "p", detail: "d\n"),
      .duplicateKey(path: "p", key: hostile), .invalidTensorEntry(path: "p", name: hostile, detail: "d"),
      .unknownDType(path: "p", name: hostile, dtype: "Q\n"), .badShape(path: "p", name: hostile, detail: "d"),
      .offsetsOutOfRange(path: "p", name: hostile, begin: 8, end: 0, dataSize: 8),
      .sizeMismatch(path: "p", name: hostile, expected: 8, found: 4),
      .overlappingTensors(path: "p", first: hostile, second: "b"), .gapInData(path: "p", after: nil, start: 0, end: 2),
      .gapInData(path: "p", after: hostile, start: 0, end: 2), .invalidMetadata(path: "p", detail: "d"),
      .missingTensor(path: "p", name: hostile), .wrongDType(path: "p", name: "n", expected: .f32, found: .f16),
      .wrongShape(path: "p", name: "n", expected: [1], found: [2]), .writeFailed(path: "p\n", reason: "No space left on device"),
      .duplicateKey(path: "p", key: String(repeating: "x", count: 10_000)),
    ]
    for e in errors {
      let d = e.description
      #expect(!d.contains { $0.isNewline || ($0.asciiValue.map { $0 < 0x20 } ?? false) }, "\(d)")
      #expect(d.hasPrefix("p"), "\(d)")
      #expect(d.count < 600, "\(d)")
      #expect(e.errorDescription == d)
    }
    #expect(SafeTensorsError.truncated(path: "p", expected: 1200, found: 980).description.contains("header says 1200 bytes, file has 980"))
  }
}
