#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// One corpus file read in bounded chunks, so reading a corpus never holds a whole file: the
/// memory of tokenizing is the ids plus a few megabytes, whatever the file's size.
struct CorpusFile: ~Copyable {
  /// Bytes read at a time by default.
  static let defaultChunkBytes = 4 << 20

  /// Bytes read at a time (at least 4: one whole code point).
  let chunkBytes: Int
  let path: String
  private let fd: Int32
  /// The size when opened (a file that shrinks while read ends early; one that grows is read
  /// to this size).
  let size: Int

  /// Opens `path` for reading.
  /// - Throws: ``TextError/notFound(path:)``, or ``TextError/unreadable(path:reason:)`` for a
  ///   file that cannot be opened or is not a regular file (a FIFO or device is never waited on).
  init(_ path: String, chunkBytes: Int = defaultChunkBytes) throws(TextError) {
    precondition(chunkBytes >= 4, "a chunk holds at least one code point")
    self.path = path
    self.chunkBytes = chunkBytes
    let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)  // a FIFO must not block us
    guard fd >= 0 else {
      if errno == ENOENT { throw .notFound(path: path) }
      throw .unreadable(path: path, reason: String(cString: strerror(errno)))
    }
    var st = stat()
    guard fstat(fd, &st) == 0 else {
      let reason = String(cString: strerror(errno))
      close(fd)
      throw .unreadable(path: path, reason: reason)
    }
    guard (st.st_mode & S_IFMT) == S_IFREG else {
      close(fd)
      throw .unreadable(path: path, reason: "not a regular file")
    }
    self.fd = fd
    self.size = Int(st.st_size)
  }

  deinit { close(fd) }

  /// Calls `body` with consecutive chunks of the file and the offset of each chunk's first byte.
  /// Each chunk but the last ends on a UTF-8 sequence boundary (an incomplete multi-byte
  /// sequence at a chunk's end is carried into the next chunk), so a decoder never sees a code
  /// point split in two; `last` marks the final chunk.
  func chunks(_ body: (_ chunk: UnsafeBufferPointer<UInt8>, _ offset: Int, _ last: Bool) throws(TextError) -> Void) throws(TextError) {
    let capacity = chunkBytes + 4
    let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
    defer { buffer.deallocate() }
    var carried = 0  // bytes at the buffer's start that belong to the next chunk
    var offset = 0  // file offset of the buffer's first byte
    while true {
      var filled = carried
      var atEnd = false
      while filled < chunkBytes {
        let n = pread(fd, buffer + filled, chunkBytes - filled, off_t(offset + filled))
        if n < 0 {
          if errno == EINTR { continue }
          throw .unreadable(path: path, reason: String(cString: strerror(errno)))
        }
        if n == 0 || offset + filled + n >= size {
          filled += n
          atEnd = true
          break
        }
        filled += n
      }
      if atEnd {
        try body(UnsafeBufferPointer(start: buffer, count: filled), offset, true)
        return
      }
      let cut = Self.sequenceBoundary(UnsafeBufferPointer(start: buffer, count: filled))
      try body(UnsafeBufferPointer(start: buffer, count: cut), offset, false)
      carried = filled - cut
      if carried > 0 { memmove(buffer, buffer + cut, carried) }
      offset += cut
    }
  }

  /// The offset of the first NUL byte (what makes a file binary), reading it once in chunks.
  func firstNUL() throws(TextError) -> Int? {
    var found: Int? = nil
    try chunks { (c, offset, _) throws(TextError) in
      guard found == nil, let base = c.baseAddress else { return }
      if let p = memchr(base, 0, c.count) { found = offset + (UnsafeRawPointer(p) - UnsafeRawPointer(base)) }
    }
    return found
  }

  /// The last byte of the file, if it has one.
  func lastByte() throws(TextError) -> UInt8? {
    guard size > 0 else { return nil }
    var b: UInt8 = 0
    while true {
      let n = pread(fd, &b, 1, off_t(size - 1))
      if n == 1 { return b }
      if n < 0 && errno == EINTR { continue }
      if n == 0 { return nil }  // shrank
      throw .unreadable(path: path, reason: String(cString: strerror(errno)))
    }
  }

  /// Where to cut `bytes` so that no UTF-8 sequence that its last lead byte starts is split:
  /// before that lead byte when the sequence it announces runs past the end, else the end.
  /// (Ill-formed bytes are left for the decoder to report at their own offsets.)
  static func sequenceBoundary(_ bytes: UnsafeBufferPointer<UInt8>) -> Int {
    let n = bytes.count
    var j = n - 1
    while j >= max(0, n - 4) {
      let b = bytes[j]
      if b & 0xC0 != 0x80 {  // ASCII or a lead byte
        let length = b < 0x80 ? 1 : b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1
        return j + length > n ? j : n
      }
      j -= 1
    }
    return n  // only continuation bytes at the end: ill-formed wherever it is cut
  }
}
