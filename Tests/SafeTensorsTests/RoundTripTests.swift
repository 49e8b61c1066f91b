import Foundation
import Testing

@testable import SafeTensors

@Suite struct RoundTripTests {
  @Test func everyDTypeMetadataEmptyAndScalar() throws {
    var w = SafeTensorsWriter(metadata: ["format": "pt", "step": "1200", "note": "ünïcode \"q\"\n"])
    let f32: [Float] = [1, -2.5, .pi, .infinity, -0.0, .leastNonzeroMagnitude]
    w.add("f32", floats: f32, shape: [2, 3])
    w.add("f64", doubles: [1.0 / 3.0, -1e300], shape: [2])
    w.add("i64", int64s: [.min, -1, .max], shape: [3])
    w.add("u64", uint64s: [0, .max], shape: [2, 1])
    w.add("i32", int32s: [.min, 7, .max, 0], shape: [2, 2])
    w.add("u8", uint8s: [0, 1, 255], shape: [3])
    w.add("f16", dtype: .f16, shape: [2], bytes: [0x00, 0x3C, 0x00, 0xC0])
    w.add("bf16", dtype: .bf16, shape: [1], bytes: [0x80, 0x3F])
    w.add("i16", dtype: .i16, shape: [2], bytes: [0xFF, 0xFF, 0x01, 0x00])
    w.add("i8", dtype: .i8, shape: [1], bytes: [0x80])
    w.add("u16", dtype: .u16, shape: [1], bytes: [0x34, 0x12])
    w.add("u32", dtype: .u32, shape: [1], bytes: [1, 2, 3, 4])
    w.add("bool", dtype: .bool, shape: [3], bytes: [1, 0, 1])
    w.add("f8", dtype: .f8e4m3, shape: [1], bytes: [0x38])
    w.add("f8b", dtype: .f8e5m2, shape: [1], bytes: [0x3C])
    w.add("empty", floats: [], shape: [0])
    w.add("empty2d", int64s: [], shape: [3, 0])
    w.add("scalar", floats: [42], shape: [])
    w.add("名前 \"quoted\"\\", uint8s: [9], shape: [1])

    let bytes = w.serialized()
    let f = try SafeTensorsFile(bytes: bytes)
    #expect(f.tensorNames == w.tensorNames)
    #expect(f.metadata == w.metadata)
    #expect(f.dataStart % 8 == 0)
    #expect(try f.floats("f32", shape: [2, 3]).map(\.bitPattern) == f32.map(\.bitPattern))
    #expect(try f.doubles("f64") == [1.0 / 3.0, -1e300])
    #expect(try f.int64s("i64") == [.min, -1, .max])
    #expect(try f.uint64s("u64", shape: [2, 1]) == [0, .max])
    #expect(try f.int32s("i32") == [.min, 7, .max, 0])
    #expect(try f.uint8s("u8") == [0, 1, 255])
    #expect(try f.rawBytes("f16") == [0x00, 0x3C, 0x00, 0xC0])
    #expect(try f.rawBytes("bf16") == [0x80, 0x3F])
    #expect(try f.rawBytes("bool") == [1, 0, 1])
    #expect(try f.rawBytes("u32") == [1, 2, 3, 4])
    #expect(try f.floats("empty", shape: [0]) == [])
    #expect(try f.int64s("empty2d", shape: [3, 0]) == [])
    #expect(try f.floats("scalar", shape: []) == [42])
    #expect(try f.uint8s("名前 \"quoted\"\\") == [9])
    for dtype in SafeTensorsDType.allCases {
      #expect(f.tensors.contains { $0.dtype == dtype }, "dtype \(dtype) not covered")
    }
    #expect(f.info("i16") == TensorInfo(name: "i16", dtype: .i16, shape: [2], byteRange: f.info("i16")!.byteRange))
    #expect(f.info("nope") == nil)

    // Through the file system too.
    let dir = try makeTempDirectory()
    defer { removeTree(dir) }
    try w.write(to: dir + "/model.safetensors")
    #expect(readBytes(dir + "/model.safetensors") == bytes)
    let g = try SafeTensorsFile.load(contentsOf: dir + "/model.safetensors")
    #expect(g.tensorNames == f.tensorNames)
    #expect(try g.floats("f32") == (try f.floats("f32")))
    #expect(directoryEntries(dir) == ["model.safetensors"])
  }

  /// Both F32 `add` overloads (array and buffer) against bytes written out by hand: the
  /// IEEE 754 binary32 patterns of the values, least significant byte first. A bug shared by
  /// both overloads (byte order, a wrong element size, a dropped element) fails.
  @Test func unsafeBufferOverloadMatchesArray() throws {
    let values: [Float] = [1, -2, 0.5, 0.1, -0.0, .infinity, 3.1415927, .leastNonzeroMagnitude, 3, -1.5, 1e-3, .greatestFiniteMagnitude]
    let littleEndian: [UInt8] = [
      0x00, 0x00, 0x80, 0x3F,  // 1        0x3F800000
      0x00, 0x00, 0x00, 0xC0,  // −2       0xC0000000
      0x00, 0x00, 0x00, 0x3F,  // 0.5      0x3F000000
      0xCD, 0xCC, 0xCC, 0x3D,  // 0.1      0x3DCCCCCD
      0x00, 0x00, 0x00, 0x80,  // −0       0x80000000
      0x00, 0x00, 0x80, 0x7F,  // +∞       0x7F800000
      0xDB, 0x0F, 0x49, 0x40,  // 3.1415927 0x40490FDB (π to nearest)
      0x01, 0x00, 0x00, 0x00,  // 2^−149   0x00000001
      0x00, 0x00, 0x40, 0x40,  // 3        0x40400000
      0x00, 0x00, 0xC0, 0xBF,  // −1.5     0xBFC00000
      0x6F, 0x12, 0x83, 0x3A,  // 0.001    0x3A83126F
      0xFF, 0xFF, 0x7F, 0x7F,  // max      0x7F7FFFFF
    ]
    // The header this writer produces for one F32 [3, 4] tensor "w", padded to 8 bytes.
    let json = #"{"w":{"dtype":"F32","shape":[3,4],"data_offsets":[0,48]}}"#
    var header = Array(json.utf8)
    while header.count % 8 != 0 { header.append(0x20) }
    let expected = lengthField(UInt64(header.count)) + header + littleEndian

    var a = SafeTensorsWriter()
    a.add("w", floats: values, shape: [3, 4])
    var b = SafeTensorsWriter()
    values.withUnsafeBufferPointer { b.add("w", floats: $0, shape: [3, 4]) }
    #expect(a.serialized() == expected)
    #expect(b.serialized() == expected)
    // And the reader turns those bytes back into the same bit patterns.
    let f = try SafeTensorsFile(bytes: expected)
    #expect(try f.rawBytes("w") == littleEndian)
    #expect(try f.floats("w", shape: [3, 4]).map(\.bitPattern) == values.map(\.bitPattern))
  }

  @Test func byteExactSmallExample() {
    var w = SafeTensorsWriter()
    w.metadata["format"] = "pt"
    w.add("a", floats: [1.0, -2.0], shape: [2])
    w.add("b", uint8s: [1, 2, 3], shape: [3])
    let header =
      #"{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"U8","shape":[3],"data_offsets":[8,11]}}"#
      + "      "  // 138 bytes of JSON + 6 spaces = 144
    var expected: [UInt8] = [144, 0, 0, 0, 0, 0, 0, 0]
    expected += Array(header.utf8)
    expected += [0x00, 0x00, 0x80, 0x3F]  // 1.0f
    expected += [0x00, 0x00, 0x00, 0xC0]  // -2.0f
    expected += [1, 2, 3]
    #expect(w.serialized() == expected)

    // No tensors, no metadata: "{}" plus six spaces.
    #expect(SafeTensorsWriter().serialized() == [8, 0, 0, 0, 0, 0, 0, 0] + Array("{}      ".utf8))
  }

  @Test func metadataKeysAreSortedAndOutputDeterministic() {
    var keys = (0..<40).map { "k\($0)" }
    var rng = SplitMix64(seed: 7)
    var outputs = Set<[UInt8]>()
    for _ in 0..<5 {
      keys.shuffle(using: &rng)
      var w = SafeTensorsWriter()
      for k in keys { w.metadata[k] = "v" + k }
      w.add("x", floats: [1], shape: [1])
      outputs.insert(w.serialized())
    }
    #expect(outputs.count == 1)
    let header = String(decoding: outputs.first!, as: UTF8.self)
    #expect(header.contains(#"{"__metadata__":{"k0":"vk0","k1":"vk1","k10":"vk10","#))
  }

  @Test func jsonEscapesRoundTrip() throws {
    let names = ["tab\there", "nl\nx", "ctl\u{01}\u{1F}", "quote\"back\\slash/", "emoji😀", "", " "]
    var w = SafeTensorsWriter(metadata: ["k\u{0}": "v\u{7F}\u{2028}"])
    for (k, n) in names.enumerated() { w.add(n, uint8s: [UInt8(k)], shape: []) }
    let f = try SafeTensorsFile(bytes: w.serialized())
    #expect(f.tensorNames == names)
    #expect(f.metadata == ["k\u{0}": "v\u{7F}\u{2028}"])
    for (k, n) in names.enumerated() { #expect(try f.uint8s(n) == [UInt8(k)]) }
  }

  @Test func headerEscapesAreDecoded() throws {
    // \u escapes, a surrogate pair and \/ in a hand-written header, plus leading whitespace.
    let header = #"  {"\u0061\/\ud83d\ude00":{"data_offsets":[0,1],"shape":[],"dtype":"U8"}}"#
    let f = try SafeTensorsFile(bytes: makeFile(header: header, data: [5]))
    #expect(f.tensorNames == ["a/😀"])
    #expect(try f.uint8s("a/😀") == [5])
  }

  @Test func accessorErrorsNameWhatDidNotMatch() throws {
    var w = SafeTensorsWriter()
    w.add("w", floats: [1, 2, 3, 4, 5, 6], shape: [2, 3])
    let f = try SafeTensorsFile(bytes: w.serialized(), path: "m.safetensors")
    #expect(throws: SafeTensorsError.missingTensor(path: "m.safetensors", name: "v")) { try f.floats("v") }
    #expect(throws: SafeTensorsError.missingTensor(path: "m.safetensors", name: "v")) { try f.rawBytes("v") }
    #expect(throws: SafeTensorsError.wrongDType(path: "m.safetensors", name: "w", expected: .f64, found: .f32)) {
      try f.doubles("w")
    }
    #expect(throws: SafeTensorsError.wrongShape(path: "m.safetensors", name: "w", expected: [3, 2], found: [2, 3])) {
      try f.floats("w", shape: [3, 2])
    }
    let message = SafeTensorsError.wrongShape(path: "m.safetensors", name: "w", expected: [3, 2], found: [2, 3]).description
    #expect(message.contains("m.safetensors") && message.contains("'w'") && message.contains("[3, 2]"))
  }
}
