import Foundation
import Testing

@testable import SafeTensors

/// A small deterministic generator (SplitMix64) so fuzz runs are reproducible.
struct SplitMix64: RandomNumberGenerator {
  var state: UInt64
  init(seed: UInt64) { state = seed }
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}

/// A file from a header string (padded with spaces to a multiple of 8 unless `pad` is false)
/// and data bytes.
func makeFile(header: String, data: [UInt8] = [], pad: Bool = true) -> [UInt8] {
  var h = Array(header.utf8)
  if pad { while h.count % 8 != 0 { h.append(0x20) } }
  return lengthField(UInt64(h.count)) + h + data
}

func makeFile(headerBytes h: [UInt8], data: [UInt8] = []) -> [UInt8] {
  lengthField(UInt64(h.count)) + h + data
}

func lengthField(_ n: UInt64) -> [UInt8] {
  (0..<8).map { UInt8(truncatingIfNeeded: n >> (8 * UInt64($0))) }
}

let testPath = "t.safetensors"

/// The error thrown by loading `bytes`, or nil if it loads.
func loadError(_ bytes: [UInt8], maxHeaderBytes: Int = 100 << 20) -> SafeTensorsError? {
  do {
    _ = try SafeTensorsFile(bytes: bytes, path: testPath, maxHeaderBytes: maxHeaderBytes)
    return nil
  } catch {
    return error
  }
}

/// The enum case name of an error (e.g. "badShape"), to match cases without their payloads.
func caseName(_ e: SafeTensorsError?) -> String? {
  guard let e else { return nil }
  return Mirror(reflecting: e).children.first?.label
}

/// A fresh empty directory under the system temporary directory.
func makeTempDirectory() throws -> String {
  let url = FileManager.default.temporaryDirectory
    .appendingPathComponent("safetensors-tests-\(UUID().uuidString)")
  try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
  return url.path
}

func removeTree(_ path: String) {
  _ = chmod(path, 0o755)
  try? FileManager.default.removeItem(atPath: path)
}

func readBytes(_ path: String) -> [UInt8]? {
  FileManager.default.contents(atPath: path).map { [UInt8]($0) }
}

func directoryEntries(_ path: String) -> [String] {
  ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
}
