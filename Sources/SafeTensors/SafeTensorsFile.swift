#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Where one tensor lives in a safetensors file and how to interpret its bytes.
///
/// Produced by the loader only after the entry passed validation, so `byteRange` is always
/// inside the data section and `byteRange.count == elementCount * dtype.byteSize`.
public struct TensorInfo: Sendable, Equatable {
  /// The tensor's name (its key in the header).
  public let name: String
  /// The element type.
  public let dtype: SafeTensorsDType
  /// The dimensions; `[]` is a scalar (one element), a `0` anywhere makes an empty tensor.
  public let shape: [Int]
  /// The byte range relative to the start of the data section (the header's `data_offsets`).
  public let byteRange: Range<Int>

  /// The number of elements: the product of ``shape`` (1 for a scalar, 0 if any dimension is 0).
  public let elementCount: Int

  /// Creates a description; `elementCount` is computed from `shape`, which the caller has
  /// already checked for overflow.
  init(name: String, dtype: SafeTensorsDType, shape: [Int], byteRange: Range<Int>) {
    self.name = name
    self.dtype = dtype
    self.shape = shape
    self.byteRange = byteRange
    self.elementCount = shape.contains(0) ? 0 : shape.reduce(1, *)
  }

  /// The number of data bytes: `byteRange.count`.
  ///
  /// - Returns: `elementCount * dtype.byteSize`.
  public var byteCount: Int { byteRange.count }
}

/// A validated, in-memory safetensors file.
///
/// Loading reads the whole file and checks every byte of the header before returning: the 8-byte
/// header length, UTF-8, a strict JSON parse (no duplicate keys, bounded nesting), the exact
/// fields of each tensor entry, known dtypes, overflow-checked shapes and offsets, and that the
/// tensors tile the data section exactly (no overlap, no gap, no trailing bytes). Any problem
/// throws a ``SafeTensorsError``; a malformed file never traps, hangs or triggers an allocation
/// larger than the file itself.
public struct SafeTensorsFile: Sendable {
  /// The path the file was loaded from (or the label given to ``init(bytes:path:maxHeaderBytes:)``).
  public let path: String
  /// The `__metadata__` string map (empty when the file has none).
  public let metadata: [String: String]
  /// Tensor names in the order they appear in the header.
  public var tensorNames: [String] { tensors.map(\.name) }
  /// All tensors, in header order.
  public let tensors: [TensorInfo]
  /// The absolute file offset where the data section starts (8 + header length).
  public let dataStart: Int

  private let bytes: [UInt8]
  private let index: [String: Int]

  /// Reads and validates a safetensors file from disk.
  ///
  /// The whole file is read into memory, then validated as described on ``SafeTensorsFile``.
  ///
  /// - Parameters:
  ///   - path: The file to read.
  ///   - maxHeaderBytes: The largest header length accepted; larger length fields are rejected
  ///     before anything is parsed. Defaults to 100 MiB, the limit of the reference implementation.
  /// - Returns: The validated file.
  /// - Throws: ``SafeTensorsError/fileUnreadable(path:reason:)`` when the file cannot be read, or
  ///   any validation error from ``init(bytes:path:maxHeaderBytes:)``.
  public static func load(contentsOf path: String, maxHeaderBytes: Int = 100 << 20)
    throws(SafeTensorsError) -> SafeTensorsFile
  {
    // Check the length field before reading everything, so that a wrong file (a corpus, an
    // image) is rejected at once instead of being read into memory first.
    let bytes = try readWholeFile(path) { (size, prefix) throws(SafeTensorsError) in
      _ = try headerLength(prefix, fileSize: size, path: path, maxHeaderBytes: maxHeaderBytes)
    }
    return try SafeTensorsFile(bytes: bytes, path: path, maxHeaderBytes: maxHeaderBytes)
  }

  /// Validates a safetensors file held in memory.
  ///
  /// Used by ``load(contentsOf:maxHeaderBytes:)``, and directly by tests and fuzzers.
  ///
  /// - Parameters:
  ///   - bytes: The complete file contents.
  ///   - path: A label used in error messages.
  ///   - maxHeaderBytes: The largest header length accepted (default 100 MiB).
  /// - Throws: A ``SafeTensorsError`` naming the first problem found: ``SafeTensorsError/fileTooShort(path:size:)``,
  ///   ``SafeTensorsError/headerTooLarge(path:length:limit:)``, ``SafeTensorsError/truncated(path:expected:found:)``,
  ///   ``SafeTensorsError/invalidHeaderUTF8(path:offset:)``, ``SafeTensorsError/invalidHeaderJSON(path:detail:)``,
  ///   ``SafeTensorsError/duplicateKey(path:key:)``, ``SafeTensorsError/invalidTensorEntry(path:name:detail:)``,
  ///   ``SafeTensorsError/unknownDType(path:name:dtype:)``, ``SafeTensorsError/badShape(path:name:detail:)``,
  ///   ``SafeTensorsError/offsetsOutOfRange(path:name:begin:end:dataSize:)``,
  ///   ``SafeTensorsError/sizeMismatch(path:name:expected:found:)``,
  ///   ``SafeTensorsError/overlappingTensors(path:first:second:)``, ``SafeTensorsError/gapInData(path:after:start:end:)``
  ///   or ``SafeTensorsError/invalidMetadata(path:detail:)``.
  public init(bytes: [UInt8], path: String = "<memory>", maxHeaderBytes: Int = 100 << 20)
    throws(SafeTensorsError)
  {
    let fileSize = bytes.count
    let headerLength = try Self.headerLength(
      bytes.prefix(8), fileSize: fileSize, path: path, maxHeaderBytes: maxHeaderBytes)
    let dataStart = 8 + headerLength
    let dataSize = fileSize - dataStart

    let parsed: Result<JSONValue, SafeTensorsError> = bytes.withUnsafeBufferPointer { all in
      let header = UnsafeBufferPointer(rebasing: all[8..<dataStart])
      if let bad = firstInvalidUTF8Offset(header) {
        return .failure(.invalidHeaderUTF8(path: path, offset: bad))
      }
      do throws(JSONSyntaxError) {
        return .success(try StrictJSONParser.parse(header))
      } catch {
        if let key = error.duplicateKey { return .failure(.duplicateKey(path: path, key: key)) }
        return .failure(.invalidHeaderJSON(path: path, detail: error.message))
      }
    }
    let root = try parsed.get()
    guard case .object(let members) = root else {
      throw .invalidHeaderJSON(path: path, detail: "the header is \(root.typeName), expected an object")
    }

    var metadata: [String: String] = [:]
    var tensors: [TensorInfo] = []
    tensors.reserveCapacity(members.count)
    for member in members {
      if member.key == "__metadata__" {
        metadata = try Self.parseMetadata(member.value, path: path)
      } else {
        tensors.append(
          try Self.parseEntry(name: member.key, member.value, path: path, dataSize: dataSize))
      }
    }

    // The tensors must tile the data section exactly: sort by offsets and walk.
    let order = tensors.indices.sorted {
      let a = tensors[$0].byteRange
      let b = tensors[$1].byteRange
      return (a.lowerBound, a.upperBound) < (b.lowerBound, b.upperBound)
    }
    var end = 0
    var previous: String? = nil
    for k in order {
      let t = tensors[k]
      if t.byteRange.lowerBound < end {
        throw .overlappingTensors(path: path, first: previous ?? "", second: t.name)
      }
      if t.byteRange.lowerBound > end {
        throw .gapInData(path: path, after: previous, start: end, end: t.byteRange.lowerBound)
      }
      end = t.byteRange.upperBound
      previous = t.name
    }
    if end > dataSize {
      throw .truncated(path: path, expected: dataStart + end, found: fileSize)
    }
    if end < dataSize {
      throw .gapInData(path: path, after: previous, start: end, end: dataSize)
    }

    var index: [String: Int] = [:]
    index.reserveCapacity(tensors.count)
    for (k, t) in tensors.enumerated() { index[t.name] = k }

    self.path = path
    self.metadata = metadata
    self.tensors = tensors
    self.dataStart = dataStart
    self.bytes = bytes
    self.index = index
  }

  /// Reads the 8-byte header length from `prefix` (the file's first bytes) and checks it
  /// against the file size and the limit.
  private static func headerLength(
    _ prefix: ArraySlice<UInt8>, fileSize: Int, path: String, maxHeaderBytes: Int
  ) throws(SafeTensorsError) -> Int {
    guard fileSize >= 8, prefix.count >= 8 else { throw .fileTooShort(path: path, size: fileSize) }
    var length: UInt64 = 0
    for (k, byte) in prefix.prefix(8).enumerated() { length |= UInt64(byte) << (8 * UInt64(k)) }
    let limit = max(0, maxHeaderBytes)
    guard length <= UInt64(limit) else {
      throw .headerTooLarge(path: path, length: length, limit: limit)
    }
    guard length <= UInt64(fileSize - 8) else {
      throw .truncated(path: path, expected: Int(clamping: length + 8), found: fileSize)
    }
    return Int(length)
  }

  private static func parseMetadata(_ value: JSONValue, path: String) throws(SafeTensorsError)
    -> [String: String]
  {
    guard case .object(let members) = value else {
      throw .invalidMetadata(path: path, detail: "it is \(value.typeName), expected an object")
    }
    var result: [String: String] = [:]
    for m in members {
      guard case .string(let s) = m.value else {
        throw .invalidMetadata(
          path: path, detail: "value of \(quote(m.key)) is \(m.value.typeName), expected a string")
      }
      result[m.key] = s
    }
    return result
  }

  private static func parseEntry(name: String, _ value: JSONValue, path: String, dataSize: Int)
    throws(SafeTensorsError) -> TensorInfo
  {
    guard case .object(let fields) = value else {
      throw .invalidTensorEntry(
        path: path, name: name,
        detail: "it is \(value.typeName), expected an object with dtype, shape and data_offsets")
    }
    var dtypeValue: JSONValue? = nil
    var shapeValue: JSONValue? = nil
    var offsetsValue: JSONValue? = nil
    for f in fields {
      switch f.key {
      case "dtype": dtypeValue = f.value
      case "shape": shapeValue = f.value
      case "data_offsets": offsetsValue = f.value
      default:
        throw .invalidTensorEntry(path: path, name: name, detail: "unexpected field \(quote(f.key))")
      }
    }
    guard let dtypeValue else { throw .invalidTensorEntry(path: path, name: name, detail: "missing field 'dtype'") }
    guard let shapeValue else { throw .invalidTensorEntry(path: path, name: name, detail: "missing field 'shape'") }
    guard let offsetsValue else {
      throw .invalidTensorEntry(path: path, name: name, detail: "missing field 'data_offsets'")
    }

    guard case .string(let dtypeString) = dtypeValue else {
      throw .invalidTensorEntry(path: path, name: name, detail: "dtype is \(dtypeValue.typeName), expected a string")
    }
    guard let dtype = SafeTensorsDType(rawValue: dtypeString) else {
      throw .unknownDType(path: path, name: name, dtype: dtypeString)
    }

    guard case .array(let dims) = shapeValue else {
      throw .badShape(path: path, name: name, detail: "shape is \(shapeValue.typeName), expected an array of non-negative integers")
    }
    var shape: [Int] = []
    shape.reserveCapacity(dims.count)
    var count = 1
    var countOverflowed = false
    for (axis, d) in dims.enumerated() {
      let n: Int
      switch Self.nonNegativeInt(d) {
      case .success(let v): n = v
      case .failure(let why):
        throw .badShape(path: path, name: name, detail: "dimension \(axis) \(why)")
      }
      shape.append(n)
      let (p, o) = count.multipliedReportingOverflow(by: n)
      if o { countOverflowed = true } else { count = p }
    }
    // An overflowing prefix can still be multiplied by a later 0; only the true product counts.
    if countOverflowed && !shape.contains(0) {
      throw .badShape(path: path, name: name, detail: "element count of \(shape) overflows")
    }
    if shape.contains(0) { count = 0 }
    let (byteSize, o) = count.multipliedReportingOverflow(by: dtype.byteSize)
    if o { throw .badShape(path: path, name: name, detail: "byte size of \(shape) \(dtype) overflows") }

    guard case .array(let offs) = offsetsValue, offs.count == 2 else {
      throw .invalidTensorEntry(
        path: path, name: name, detail: "data_offsets must be an array [begin, end] of two integers")
    }
    var bounds: [Int] = []
    for (k, v) in offs.enumerated() {
      switch Self.nonNegativeInt(v) {
      case .success(let n): bounds.append(n)
      case .failure(let why):
        throw .invalidTensorEntry(
          path: path, name: name, detail: "data_offsets \(k == 0 ? "begin" : "end") \(why)")
      }
    }
    let (begin, end) = (bounds[0], bounds[1])
    guard begin <= end else {
      throw .offsetsOutOfRange(path: path, name: name, begin: begin, end: end, dataSize: dataSize)
    }
    guard end - begin == byteSize else {
      throw .sizeMismatch(path: path, name: name, expected: byteSize, found: end - begin)
    }
    return TensorInfo(name: name, dtype: dtype, shape: shape, byteRange: begin..<end)
  }

  private struct IntProblem: Error, CustomStringConvertible {
    var text: String
    var description: String { text }
  }

  private static func nonNegativeInt(_ v: JSONValue) -> Result<Int, IntProblem> {
    guard case .number(let n) = v else { return .failure(IntProblem(text: "is \(v.typeName), expected an integer")) }
    if n.isNegative { return .failure(IntProblem(text: "is negative (\(n.text))")) }
    if !n.isInteger { return .failure(IntProblem(text: "is not an integer (\(n.text))")) }
    guard let value = n.intValue else { return .failure(IntProblem(text: "is too large (\(n.text))")) }
    return .success(value)
  }

  // MARK: - Access

  /// The validated description of one tensor.
  ///
  /// - Parameter name: The tensor's name.
  /// - Returns: Its dtype, shape and byte range, or nil if the file has no such tensor.
  public func info(_ name: String) -> TensorInfo? {
    index[name].map { tensors[$0] }
  }

  /// The raw little-endian bytes of one tensor, whatever its dtype.
  ///
  /// - Parameter name: The tensor's name.
  /// - Returns: A copy of exactly `info(name)!.byteCount` bytes.
  /// - Throws: ``SafeTensorsError/missingTensor(path:name:)`` if there is no such tensor.
  public func rawBytes(_ name: String) throws(SafeTensorsError) -> [UInt8] {
    guard let info = info(name) else { throw .missingTensor(path: path, name: name) }
    let start = dataStart + info.byteRange.lowerBound
    return Array(bytes[start..<start + info.byteCount])
  }

  /// Looks a tensor up and checks its dtype and, optionally, its shape.
  ///
  /// - Parameters:
  ///   - name: The tensor's name.
  ///   - dtype: The dtype the caller will read.
  ///   - expected: The shape the caller requires, or nil to accept any.
  /// - Returns: The tensor's description.
  /// - Throws: ``SafeTensorsError/missingTensor(path:name:)``, ``SafeTensorsError/wrongDType(path:name:expected:found:)``
  ///   or ``SafeTensorsError/wrongShape(path:name:expected:found:)``.
  public func checkedInfo(_ name: String, dtype: SafeTensorsDType, shape expected: [Int]? = nil)
    throws(SafeTensorsError) -> TensorInfo
  {
    guard let info = info(name) else { throw .missingTensor(path: path, name: name) }
    guard info.dtype == dtype else {
      throw .wrongDType(path: path, name: name, expected: dtype, found: info.dtype)
    }
    if let expected, expected != info.shape {
      throw .wrongShape(path: path, name: name, expected: expected, found: info.shape)
    }
    return info
  }

  private func decode<T: BitwiseCopyable>(
    _ name: String, _ dtype: SafeTensorsDType, _ expected: [Int]?, as: T.Type
  ) throws(SafeTensorsError) -> [T] {
    let info = try checkedInfo(name, dtype: dtype, shape: expected)
    precondition(MemoryLayout<T>.size == dtype.byteSize)
    let count = info.elementCount
    let start = dataStart + info.byteRange.lowerBound
    return [T](unsafeUninitializedCapacity: count) { buffer, initialized in
      let target = UnsafeMutableRawBufferPointer(buffer)
      bytes.withUnsafeBytes { all in
        target.copyMemory(from: UnsafeRawBufferPointer(rebasing: all[start..<start + info.byteCount]))
      }
      swapToOrFromLittleEndian(target, elementSize: dtype.byteSize)
      initialized = count
    }
  }

  /// Reads an F32 tensor as `Float`s.
  ///
  /// - Parameters:
  ///   - name: The tensor's name.
  ///   - expected: The required shape, or nil to accept any.
  /// - Returns: The elements in row-major order.
  /// - Throws: ``SafeTensorsError/missingTensor(path:name:)``, ``SafeTensorsError/wrongDType(path:name:expected:found:)``
  ///   or ``SafeTensorsError/wrongShape(path:name:expected:found:)``.
  public func floats(_ name: String, shape expected: [Int]? = nil) throws(SafeTensorsError) -> [Float] {
    try decode(name, .f32, expected, as: Float.self)
  }

  /// Reads an F64 tensor as `Double`s.
  ///
  /// - Parameters:
  ///   - name: The tensor's name.
  ///   - expected: The required shape, or nil to accept any.
  /// - Returns: The elements in row-major order.
  /// - Throws: ``SafeTensorsError/missingTensor(path:name:)``, ``SafeTensorsError/wrongDType(path:name:expected:found:)``
  ///   or ``SafeTensorsError/wrongShape(path:name:expected:found:)``.
  public func doubles(_ name: String, shape expected: [Int]? = nil) throws(SafeTensorsError) -> [Double] {
    try decode(name, .f64, expected, as: Double.self)
  }

  /// Reads an I32 tensor as `Int32`s.
  ///
  /// - Parameters:
  ///   - name: The tensor's name.
  ///   - expected: The required shape, or nil to accept any.
  /// - Returns: The elements in row-major order.
  /// - Throws: ``SafeTensorsError/missingTensor(path:name:)``, ``SafeTensorsError/wrongDType(path:name:expected:found:)``
  ///   or ``SafeTensorsError/wrongShape(path:name:expected:found:)``.
  public func int32s(_ name: String, shape expected: [Int]? = nil) throws(SafeTensorsError) -> [Int32] {
    try decode(name, .i32, expected, as: Int32.self)
  }

  /// Reads an I64 tensor as `Int64`s.
  ///
  /// - Parameters:
  ///   - name: The tensor's name.
  ///   - expected: The required shape, or nil to accept any.
  /// - Returns: The elements in row-major order.
  /// - Throws: ``SafeTensorsError/missingTensor(path:name:)``, ``SafeTensorsError/wrongDType(path:name:expected:found:)``
  ///   or ``SafeTensorsError/wrongShape(path:name:expected:found:)``.
  public func int64s(_ name: String, shape expected: [Int]? = nil) throws(SafeTensorsError) -> [Int64] {
    try decode(name, .i64, expected, as: Int64.self)
  }

  /// Reads a U64 tensor as `UInt64`s.
  ///
  /// - Parameters:
  ///   - name: The tensor's name.
  ///   - expected: The required shape, or nil to accept any.
  /// - Returns: The elements in row-major order.
  /// - Throws: ``SafeTensorsError/missingTensor(path:name:)``, ``SafeTensorsError/wrongDType(path:name:expected:found:)``
  ///   or ``SafeTensorsError/wrongShape(path:name:expected:found:)``.
  public func uint64s(_ name: String, shape expected: [Int]? = nil) throws(SafeTensorsError) -> [UInt64] {
    try decode(name, .u64, expected, as: UInt64.self)
  }

  /// Reads a U8 tensor as `UInt8`s.
  ///
  /// - Parameters:
  ///   - name: The tensor's name.
  ///   - expected: The required shape, or nil to accept any.
  /// - Returns: The elements in row-major order.
  /// - Throws: ``SafeTensorsError/missingTensor(path:name:)``, ``SafeTensorsError/wrongDType(path:name:expected:found:)``
  ///   or ``SafeTensorsError/wrongShape(path:name:expected:found:)``.
  public func uint8s(_ name: String, shape expected: [Int]? = nil) throws(SafeTensorsError) -> [UInt8] {
    try decode(name, .u8, expected, as: UInt8.self)
  }
}

/// Converts a buffer of `elementSize`-byte scalars between host and little-endian order (a no-op
/// on little-endian hosts).
@inline(__always)
func swapToOrFromLittleEndian(_ buffer: UnsafeMutableRawBufferPointer, elementSize: Int) {
  #if _endian(big)
    guard elementSize > 1 else { return }
    var k = 0
    while k + elementSize <= buffer.count {
      var lo = k
      var hi = k + elementSize - 1
      while lo < hi {
        buffer.swapAt(lo, hi)
        lo += 1
        hi -= 1
      }
      k += elementSize
    }
  #endif
}

/// Reads a whole regular file, retrying on EINTR.
///
/// `precheck` sees the file size and its first (up to) 8 bytes before the rest is read.
func readWholeFile(
  _ path: String, precheck: (Int, ArraySlice<UInt8>) throws(SafeTensorsError) -> Void = { _, _ in }
) throws(SafeTensorsError) -> [UInt8] {
  let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)  // a FIFO must not block the open
  guard fd >= 0 else { throw .fileUnreadable(path: path, reason: errnoText()) }
  defer { close(fd) }
  var st = stat()
  guard fstat(fd, &st) == 0 else { throw .fileUnreadable(path: path, reason: errnoText()) }
  guard (st.st_mode & S_IFMT) == S_IFREG else {
    let kind = (st.st_mode & S_IFMT) == S_IFDIR ? "it is a directory" : "it is not a regular file"
    throw .fileUnreadable(path: path, reason: kind)
  }
  let size = Int(st.st_size)
  var prefix = [UInt8](repeating: 0, count: 8)
  var got = 0
  while got < min(8, size) {
    let n = prefix.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + got, 8 - got, off_t(got)) }
    if n > 0 {
      got += n
    } else if n == 0 {
      break
    } else if errno != EINTR {
      throw .fileUnreadable(path: path, reason: errnoText())
    }
  }
  try precheck(size, prefix[0..<got])
  var failure: Int32 = 0
  let bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
    var got = 0
    while got < size {
      let n = read(fd, buffer.baseAddress! + got, size - got)
      if n > 0 {
        got += n
      } else if n == 0 {
        break  // the file shrank while reading; validation will report the short contents
      } else if errno != EINTR {
        failure = errno
        break
      }
    }
    initialized = got
  }
  if failure != 0 { throw .fileUnreadable(path: path, reason: String(cString: strerror(failure))) }
  return bytes
}

/// `strerror(errno)` with the errno number, e.g. "No space left on device (errno 28)".
func errnoText(_ code: Int32 = errno) -> String {
  "\(String(cString: strerror(code))) (errno \(code))"
}
