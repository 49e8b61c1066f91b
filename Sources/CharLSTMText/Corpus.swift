#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// A tokenized corpus: the ids of every character, compactly, and the tokenizer that made them.
public struct Corpus: Sendable {
  /// Tokenizer with the vocabulary built from this corpus.
  public let tokenizer: Tokenizer
  /// All characters as ids, files in order. [N], 4 bytes per character.
  public let tokens: [Int32]
  /// Size of the input in bytes (before decoding).
  public let byteCount: Int
  /// The files read, in order.
  public let files: [String]
  /// Line breaks the loader added between files of a directory corpus (after each file that
  /// does not end with one), so no line runs into the next file's: counted in ``tokens``, not in
  /// ``byteCount``.
  public var addedLineBreaks: Int = 0

  /// Training and validation parts: the validation part is the contiguous tail.
  /// - Parameter validationFraction: in [0, 1); 0 gives an empty validation part.
  public func split(validationFraction: Double) throws(TextError) -> (training: ArraySlice<Int32>, validation: ArraySlice<Int32>) {
    guard validationFraction >= 0, validationFraction < 1, validationFraction.isFinite else {
      throw .invalidOption(name: "--val-fraction", value: "\(validationFraction)", expected: "a number in [0, 1)")
    }
    let cut = tokens.count - Int((Double(tokens.count) * validationFraction).rounded())
    return (tokens[..<cut], tokens[cut...])
  }
}

/// Reads corpora from disk: a file, or a directory of text files.
public enum CorpusLoader {
  /// Decoded UTF-16 units handed to the segmenter at a time: bounds the working memory.
  static let chunkUnits = 1 << 20

  /// Reads and tokenizes a corpus, building its vocabulary.
  ///
  /// - Parameters:
  ///   - path: a UTF-8 text file, or a directory whose regular text files (recursively, hidden
  ///     entries skipped, binary files skipped, sorted by path bytes) are read in order.
  ///   - options: normalization, lowercasing and `minCount`.
  ///   - include: a glob (`*.swift`); without a `/` it matches file names, with one the path
  ///     relative to `path`.
  ///   - excluding: files and folders inside a directory corpus that are never read (a training
  ///     run's own checkpoint folder, so its logs do not feed back into the text).
  ///   - progress: called with (bytes done, bytes total) as files are read.
  /// - Throws: ``TextError`` naming the file: missing, unreadable, invalid UTF-8 (with the byte
  ///   offset), binary, empty corpus, no text files.
  /// - Complexity: O(bytes); memory: the largest file plus 4 bytes per character.
  public static func load(
    path: String, options: TokenizerOptions = TokenizerOptions(), include: String? = nil,
    excluding: [String] = [], progress: ((Int, Int) -> Void)? = nil
  ) throws(TextError) -> Corpus {
    try options.validate()
    var builder = VocabularyBuilder()
    var tokens: [Int32] = []
    var added = 0
    let (files, bytes) = try read(path: path, options: options, include: include, excluding: excluding, progress: progress, addedLineBreaks: &added) { cluster in
      tokens.append(builder.add(cluster))
    }
    guard !tokens.isEmpty else { throw .emptyCorpus(path: path) }
    let (vocabulary, remap) = builder.finish(minCount: options.minCount)
    remap.withUnsafeBufferPointer { r in
      tokens.withUnsafeMutableBufferPointer { t in
        for i in t.indices { t[i] = r[Int(t[i])] }
      }
    }
    var corpus = Corpus(
      tokenizer: Tokenizer(options: options, vocabulary: vocabulary), tokens: tokens,
      byteCount: bytes, files: files)
    corpus.addedLineBreaks = added
    return corpus
  }

  /// Tokenizes a corpus held in memory (`name` stands for its path in messages), building its
  /// vocabulary; the same result as ``load(path:options:include:excluding:progress:)`` on a file
  /// with these bytes.
  public static func load(bytes: UnsafeBufferPointer<UInt8>, name: String, options: TokenizerOptions = TokenizerOptions()) throws(TextError) -> Corpus {
    try options.validate()
    var builder = VocabularyBuilder()
    var tokens: [Int32] = []
    var seg = Segmenter(options: options)
    var units: [UInt16] = []
    try tokenize(bytes, file: name, segmenter: &seg, units: &units) { tokens.append(builder.add($0)) }
    guard !tokens.isEmpty else { throw .emptyCorpus(path: name) }
    let (vocabulary, remap) = builder.finish(minCount: options.minCount)
    for i in tokens.indices { tokens[i] = remap[Int(tokens[i])] }
    return Corpus(tokenizer: Tokenizer(options: options, vocabulary: vocabulary), tokens: tokens, byteCount: bytes.count, files: [name])
  }

  /// Tokenizes a corpus held in memory with an existing tokenizer.
  public static func encode(
    bytes: UnsafeBufferPointer<UInt8>, name: String, with tokenizer: Tokenizer, unknown: UnknownPolicy = .error
  ) throws(TextError) -> (tokens: [Int32], byteCount: Int) {
    var tokens: [Int32] = []
    var missing: [String] = []
    var seg = Segmenter(options: tokenizer.options)
    var units: [UInt16] = []
    try tokenize(bytes, file: name, segmenter: &seg, units: &units) { cluster in
      if let id = tokenizer.resolve(cluster, unknown, &missing) { tokens.append(id) }
    }
    if !missing.isEmpty { throw .unknownCharacters(missing) }
    guard !tokens.isEmpty else { throw .emptyCorpus(path: name) }
    return (tokens, bytes.count)
  }

  /// Decodes and segments the bytes of one file (a UTF-8 BOM dropped), streaming its clusters.
  private static func tokenize(
    _ b: UnsafeBufferPointer<UInt8>, file: String, segmenter seg: inout Segmenter, units: inout [UInt16],
    emit: (UnsafeBufferPointer<UInt16>) -> Void
  ) throws(TextError) {
    units.reserveCapacity(chunkUnits + 4)
    var offset = b.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0  // drop a UTF-8 BOM
    while offset < b.count {
      units.removeAll(keepingCapacity: true)
      do throws(UTF8Decoder.InvalidOffset) {
        offset = try UTF8Decoder.decode(b, from: offset, maxUnits: chunkUnits, into: &units)
      } catch {
        throw .invalidUTF8(path: file, offset: error.offset)
      }
      try seg.feed(units[...], final: offset >= b.count, emit: emit)
    }
  }

  /// Reads and tokenizes a corpus with an existing tokenizer (for evaluation on new text).
  /// - Returns: the ids and the number of bytes read.
  public static func encode(
    path: String, with tokenizer: Tokenizer, include: String? = nil, excluding: [String] = [],
    unknown: UnknownPolicy = .error
  ) throws(TextError) -> (tokens: [Int32], byteCount: Int) {
    var tokens: [Int32] = []
    var missing: [String] = []
    var added = 0
    let (_, bytes) = try read(path: path, options: tokenizer.options, include: include, excluding: excluding, progress: nil, addedLineBreaks: &added) { cluster in
      if let id = tokenizer.resolve(cluster, unknown, &missing) { tokens.append(id) }
    }
    if !missing.isEmpty { throw .unknownCharacters(missing) }
    guard !tokens.isEmpty else { throw .emptyCorpus(path: path) }
    return (tokens, bytes)
  }

  /// The files a corpus path stands for, in reading order.
  /// - Parameter excluding: files or folders to leave out of a directory corpus.
  public static func files(at path: String, include: String? = nil, excluding: [String] = []) throws(TextError) -> [String] {
    var st = stat()
    guard stat(path, &st) == 0 else {
      if errno == ENOENT || errno == ENOTDIR { throw .notFound(path: path) }
      throw .unreadable(path: path, reason: String(cString: strerror(errno)))
    }
    if (st.st_mode & S_IFMT) != S_IFDIR { return [path] }
    var found: [String] = []
    // Compared by device and inode, so any spelling of an excluded path matches.
    var skip = Set<FileID>()
    for e in excluding {
      var x = stat()
      if stat(e, &x) == 0 { skip.insert(FileID(x)) }
    }
    try walk(directory: path, relative: "", include: include, skip: skip, into: &found)
    return found
  }

  /// A file's identity: device and inode.
  private struct FileID: Hashable {
    var device: UInt64, inode: UInt64
    init(_ st: stat) { device = UInt64(st.st_dev); inode = UInt64(st.st_ino) }
  }

  private static func walk(directory: String, relative: String, include: String?, skip: Set<FileID>, into found: inout [String]) throws(TextError) {
    guard let dir = opendir(directory) else {
      throw .unreadable(path: directory, reason: String(cString: strerror(errno)))
    }
    var names: [String] = []
    while let entry = readdir(dir) {
      let raw = withUnsafeBytes(of: entry.pointee.d_name) { raw in
        Array(raw.prefix { $0 != 0 })
      }
      if raw.first == UInt8(ascii: ".") { continue }  // ., .., hidden files and folders (.git, .build)
      guard let name = String(validating: raw, as: UTF8.self) else {
        closedir(dir)
        let shown = raw.map { $0 < 0x80 && $0 >= 0x20 ? String(UnicodeScalar($0)) : "\\x" + String($0, radix: 16) }.joined()
        throw .fileNameNotUTF8(directory: directory, name: shown)
      }
      names.append(name)
    }
    closedir(dir)
    names.sort { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
    for name in names {
      let full = directory.hasSuffix("/") ? directory + name : directory + "/" + name
      let rel = relative.isEmpty ? name : relative + "/" + name
      var st = stat()
      guard stat(full, &st) == 0 else { continue }  // dangling link
      if skip.contains(FileID(st)) { continue }
      switch st.st_mode & S_IFMT {
      case S_IFDIR:
        var lst = stat()
        if lstat(full, &lst) == 0, (lst.st_mode & S_IFMT) == S_IFLNK { continue }  // no link cycles
        try walk(directory: full, relative: rel, include: include, skip: skip, into: &found)
      case S_IFREG:
        if let pattern = include {
          let subject = pattern.contains("/") ? rel : name
          guard fnmatch(pattern, subject, 0) == 0 else { continue }
        }
        found.append(full)
      default: continue
      }
    }
  }

  /// Streams every cluster of the corpus to `emit`.
  private static func read(
    path: String, options: TokenizerOptions, include: String?, excluding: [String], progress: ((Int, Int) -> Void)?,
    addedLineBreaks: inout Int, emit: (UnsafeBufferPointer<UInt16>) -> Void
  ) throws(TextError) -> (files: [String], bytes: Int) {
    let candidates = try files(at: path, include: include, excluding: excluding)
    let isDirectory = candidates != [path]
    var used: [String] = []
    var total = 0
    var units: [UInt16] = []
    units.reserveCapacity(chunkUnits + 4)
    var seg = Segmenter(options: options)
    for file in candidates {
      let bytes = try readFile(file)
      if let nul = bytes.firstIndex(of: 0) {
        if isDirectory { continue }  // binary files in a directory are skipped
        throw .binaryFile(path: file, offset: nul)
      }
      used.append(file)
      total += bytes.count
      try bytes.withUnsafeBufferPointer { (b) throws(TextError) in
        try tokenize(b, file: file, segmenter: &seg, units: &units, emit: emit)
      }
      // Files are separated by a line break when one does not end with it.
      if isDirectory, let last = bytes.last, last != 0x0A {
        addedLineBreaks += 1
        try seg.feed([0x0A][...], final: true, emit: emit)
      }
      progress?(total, total)
    }
    if isDirectory && used.isEmpty { throw .noTextFiles(path: path, include: include) }
    return (used, total)
  }

  private static func systemRead(_ fd: Int32, _ buf: UnsafeMutableRawPointer, _ n: Int) -> Int {
    #if canImport(Glibc)
      return Glibc.read(fd, buf, n)
    #else
      return Darwin.read(fd, buf, n)
    #endif
  }

  /// The bytes of a file, with errors that name it.
  static func readFile(_ path: String) throws(TextError) -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)  // a FIFO must not block us
    guard fd >= 0 else {
      if errno == ENOENT { throw .notFound(path: path) }
      throw .unreadable(path: path, reason: String(cString: strerror(errno)))
    }
    defer { close(fd) }
    var st = stat()
    guard fstat(fd, &st) == 0 else { throw .unreadable(path: path, reason: String(cString: strerror(errno))) }
    guard (st.st_mode & S_IFMT) == S_IFREG else { throw .unreadable(path: path, reason: "not a regular file") }
    var out = [UInt8](repeating: 0, count: Int(st.st_size))
    var done = 0
    while done < out.count {
      let n = out.withUnsafeMutableBytes { systemRead(fd, $0.baseAddress! + done, $0.count - done) }
      if n < 0 {
        if errno == EINTR { continue }
        throw .unreadable(path: path, reason: String(cString: strerror(errno)))
      }
      if n == 0 { break }  // file shrank while reading
      done += n
    }
    out.removeLast(out.count - done)
    return out
  }
}
