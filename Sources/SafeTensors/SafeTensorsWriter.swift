#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Builds a safetensors file from tensors and metadata, and saves it atomically.
///
/// The output is what HuggingFace's `safetensors` and PyTorch load unchanged: an 8-byte
/// little-endian header length, a compact JSON header padded with spaces to a multiple of 8
/// bytes, then the tensors' little-endian bytes laid out contiguously in the order they were
/// added. `__metadata__` comes first with its keys sorted by UTF-8 bytes, so equal inputs give
/// byte-identical files.
///
/// ```swift
/// var writer = SafeTensorsWriter(metadata: ["step": "1200"])
/// writer.add("embed.weight", floats: weights, shape: [vocab, dim])
/// try writer.write(to: "checkpoints/step-1200.safetensors")
/// ```
public struct SafeTensorsWriter: Sendable {
  /// String metadata stored under `__metadata__`; omitted from the header when empty.
  public var metadata: [String: String]

  private struct Entry: Sendable {
    var name: String
    var dtype: SafeTensorsDType
    var shape: [Int]
    var bytes: [UInt8]
  }

  private var entries: [Entry] = []
  private var names: Set<String> = []

  /// Creates an empty writer.
  ///
  /// - Parameter metadata: Initial `__metadata__` strings.
  public init(metadata: [String: String] = [:]) {
    self.metadata = metadata
  }

  /// The names added so far, in order.
  public var tensorNames: [String] { entries.map(\.name) }

  /// Adds a tensor from raw little-endian bytes of any dtype (e.g. F16, BF16, BOOL).
  ///
  /// - Parameters:
  ///   - name: A name not used yet and not `__metadata__`.
  ///   - dtype: The element type.
  ///   - shape: Non-negative dimensions; `[]` is a scalar.
  ///   - bytes: Exactly `shape.product * dtype.byteSize` bytes, little-endian.
  /// - Precondition: The name is new and not `__metadata__`, the dimensions are non-negative and
  ///   the byte count matches the shape. Violations are programming errors and trap.
  public mutating func add(_ name: String, dtype: SafeTensorsDType, shape: [Int], bytes: [UInt8]) {
    let count = Self.elementCount(name, shape)
    let (expected, overflow) = count.multipliedReportingOverflow(by: dtype.byteSize)
    precondition(
      !overflow && expected == bytes.count,
      "SafeTensorsWriter: tensor '\(name)' has \(bytes.count) bytes but shape \(shape) of \(dtype) needs \(expected)")
    insert(Entry(name: name, dtype: dtype, shape: shape, bytes: bytes))
  }

  private mutating func insert(_ entry: Entry) {
    precondition(entry.name != "__metadata__", "SafeTensorsWriter: '__metadata__' is reserved")
    precondition(names.insert(entry.name).inserted, "SafeTensorsWriter: tensor '\(entry.name)' added twice")
    entries.append(entry)
  }

  private static func elementCount(_ name: String, _ shape: [Int]) -> Int {
    precondition(shape.allSatisfy { $0 >= 0 }, "SafeTensorsWriter: tensor '\(name)' has a negative dimension in \(shape)")
    if shape.contains(0) { return 0 }
    var count = 1
    for d in shape {
      let (p, o) = count.multipliedReportingOverflow(by: d)
      precondition(!o, "SafeTensorsWriter: tensor '\(name)' shape \(shape) overflows")
      count = p
    }
    return count
  }

  private mutating func addScalars<T: BitwiseCopyable>(
    _ name: String, _ dtype: SafeTensorsDType, _ values: UnsafeBufferPointer<T>, _ shape: [Int]
  ) {
    precondition(MemoryLayout<T>.size == dtype.byteSize)
    let count = Self.elementCount(name, shape)
    precondition(
      count == values.count,
      "SafeTensorsWriter: tensor '\(name)' has \(values.count) values but shape \(shape) needs \(count)")
    var bytes = Array(UnsafeRawBufferPointer(values))
    bytes.withUnsafeMutableBytes { swapToOrFromLittleEndian($0, elementSize: dtype.byteSize) }
    insert(Entry(name: name, dtype: dtype, shape: shape, bytes: bytes))
  }

  /// Adds an F32 tensor.
  ///
  /// - Parameters:
  ///   - name: A name not used yet and not `__metadata__`.
  ///   - floats: The elements in row-major order.
  ///   - shape: Non-negative dimensions whose product is `floats.count`; `[]` is a scalar.
  /// - Precondition: New name, non-negative dimensions, matching count (violations trap).
  public mutating func add(_ name: String, floats: [Float], shape: [Int]) {
    floats.withUnsafeBufferPointer { addScalars(name, .f32, $0, shape) }
  }

  /// Adds an F32 tensor from a buffer (copied), e.g. a model's parameter storage.
  ///
  /// - Parameters:
  ///   - name: A name not used yet and not `__metadata__`.
  ///   - floats: The elements in row-major order.
  ///   - shape: Non-negative dimensions whose product is `floats.count`; `[]` is a scalar.
  /// - Precondition: New name, non-negative dimensions, matching count (violations trap).
  public mutating func add(_ name: String, floats: UnsafeBufferPointer<Float>, shape: [Int]) {
    addScalars(name, .f32, floats, shape)
  }

  /// Adds an F64 tensor.
  ///
  /// - Parameters:
  ///   - name: A name not used yet and not `__metadata__`.
  ///   - doubles: The elements in row-major order.
  ///   - shape: Non-negative dimensions whose product is `doubles.count`; `[]` is a scalar.
  /// - Precondition: New name, non-negative dimensions, matching count (violations trap).
  public mutating func add(_ name: String, doubles: [Double], shape: [Int]) {
    doubles.withUnsafeBufferPointer { addScalars(name, .f64, $0, shape) }
  }

  /// Adds an I64 tensor.
  ///
  /// - Parameters:
  ///   - name: A name not used yet and not `__metadata__`.
  ///   - int64s: The elements in row-major order.
  ///   - shape: Non-negative dimensions whose product is `int64s.count`; `[]` is a scalar.
  /// - Precondition: New name, non-negative dimensions, matching count (violations trap).
  public mutating func add(_ name: String, int64s: [Int64], shape: [Int]) {
    int64s.withUnsafeBufferPointer { addScalars(name, .i64, $0, shape) }
  }

  /// Adds a U64 tensor (e.g. a random generator's state).
  ///
  /// - Parameters:
  ///   - name: A name not used yet and not `__metadata__`.
  ///   - uint64s: The elements in row-major order.
  ///   - shape: Non-negative dimensions whose product is `uint64s.count`; `[]` is a scalar.
  /// - Precondition: New name, non-negative dimensions, matching count (violations trap).
  public mutating func add(_ name: String, uint64s: [UInt64], shape: [Int]) {
    uint64s.withUnsafeBufferPointer { addScalars(name, .u64, $0, shape) }
  }

  /// Adds an I32 tensor.
  ///
  /// - Parameters:
  ///   - name: A name not used yet and not `__metadata__`.
  ///   - int32s: The elements in row-major order.
  ///   - shape: Non-negative dimensions whose product is `int32s.count`; `[]` is a scalar.
  /// - Precondition: New name, non-negative dimensions, matching count (violations trap).
  public mutating func add(_ name: String, int32s: [Int32], shape: [Int]) {
    int32s.withUnsafeBufferPointer { addScalars(name, .i32, $0, shape) }
  }

  /// Adds a U8 tensor.
  ///
  /// - Parameters:
  ///   - name: A name not used yet and not `__metadata__`.
  ///   - uint8s: The elements in row-major order.
  ///   - shape: Non-negative dimensions whose product is `uint8s.count`; `[]` is a scalar.
  /// - Precondition: New name, non-negative dimensions, matching count (violations trap).
  public mutating func add(_ name: String, uint8s: [UInt8], shape: [Int]) {
    uint8s.withUnsafeBufferPointer { addScalars(name, .u8, $0, shape) }
  }

  // MARK: - Serialization

  /// The 8-byte length field followed by the padded JSON header.
  func headerBytes() -> [UInt8] {
    var json = "{"
    var first = true
    if !metadata.isEmpty {
      json += "\"__metadata__\":{"
      let keys = metadata.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
      json += keys.map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }.joined(separator: ",")
      json += "}"
      first = false
    }
    var offset = 0
    for e in entries {
      if !first { json += "," }
      first = false
      let shape = e.shape.map(String.init).joined(separator: ",")
      json += "\(jsonString(e.name)):{\"dtype\":\"\(e.dtype.rawValue)\",\"shape\":[\(shape)],"
      json += "\"data_offsets\":[\(offset),\(offset + e.bytes.count)]}"
      offset += e.bytes.count
    }
    json += "}"
    var header = Array(json.utf8)
    while header.count % 8 != 0 { header.append(0x20) }
    var out: [UInt8] = []
    out.reserveCapacity(8 + header.count)
    let n = UInt64(header.count)
    for k in 0..<8 { out.append(UInt8(truncatingIfNeeded: n >> (8 * UInt64(k)))) }
    out += header
    return out
  }

  /// The complete file contents.
  ///
  /// - Returns: Header length, padded header and tensor data, ready to write or to load with
  ///   ``SafeTensorsFile/init(bytes:path:maxHeaderBytes:)``.
  public func serialized() -> [UInt8] {
    var out = headerBytes()
    out.reserveCapacity(out.count + entries.reduce(0) { $0 + $1.bytes.count })
    for e in entries { out += e.bytes }
    return out
  }

  /// Saves the file atomically: readers see either the previous file or the complete new one.
  ///
  /// Writes to a uniquely named temporary file in the same directory
  /// (`.NAME.tmp-PID-RANDOM`), retrying short writes and `EINTR`, `fsync`s it, renames it over
  /// `path` and `fsync`s the directory. On failure before the rename the temporary file is
  /// removed and any existing file at `path` is left byte-identical. The new file gets mode
  /// 0644 minus the umask.
  ///
  /// - Parameter path: The destination file.
  /// - Throws: ``SafeTensorsError/writeFailed(path:reason:)`` naming the step and the system
  ///   error, e.g. "No space left on device", "Permission denied", "No such file or directory".
  public func write(to path: String) throws(SafeTensorsError) {
    try write(to: path, io: .system)
  }

  /// ``write(to:)`` with injectable system calls, so tests can simulate disk-full and friends.
  func write(to path: String, io: FileIO) throws(SafeTensorsError) {
    var chunks = [headerBytes()]
    for e in entries where !e.bytes.isEmpty { chunks.append(e.bytes) }
    try atomicWrite(chunks, to: path, io: io)
  }
}

/// A JSON string literal for `s`: quotes, backslashes and control characters escaped (also
/// how messages quote a user's text, so that a line break shows as `\n`).
public func jsonString(_ s: String) -> String {
  var out = "\""
  for scalar in s.unicodeScalars {
    switch scalar {
    case "\"": out += "\\\""
    case "\\": out += "\\\\"
    case "\n": out += "\\n"
    case "\r": out += "\\r"
    case "\t": out += "\\t"
    case "\u{08}": out += "\\b"
    case "\u{0C}": out += "\\f"
    case _ where scalar.value < 0x20:
      let hex = String(scalar.value, radix: 16)
      out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
    default: out.unicodeScalars.append(scalar)
    }
  }
  return out + "\""
}
