#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// A tokenized corpus: the ids of every character, compactly, and the tokenizer that made them.
public struct Corpus: Sendable {
  /// Tokenizer with the vocabulary built from this corpus.
  public let tokenizer: Tokenizer
  /// All characters as ids, files in order. [N], 2 bytes per character (4 past 65,536 symbols).
  public let tokens: TokenIDs
  /// Size of the input in bytes (before decoding).
  public let byteCount: Int
  /// The files read, in order.
  public let files: [String]
  /// Line breaks the loader added between files of a directory corpus (after each file that
  /// does not end with one), so no line runs into the next file's: counted in ``tokens``, not in
  /// ``byteCount``.
  public var addedLineBreaks: Int = 0
  /// How the text was cut into documents (``DocumentMode/stream``: not at all).
  public var documents: DocumentMode = .stream
  /// Documents read (0 for a stream); each is followed by the end-of-text symbol in ``tokens``.
  public var documentCount: Int = 0

  /// Training and validation parts: the validation part is the tail, cut between documents when
  /// the corpus was read as documents (see ``split(_:validationFraction:documentEnd:)``).
  /// - Parameter validationFraction: in [0, 1); 0 gives an empty validation part.
  public func split(validationFraction: Double) throws(TextError) -> (training: TokenSlice, validation: TokenSlice) {
    try Self.split(tokens, validationFraction: validationFraction, documentEnd: documents == .stream ? nil : tokenizer.endOfTextID)
  }

  /// Training and validation parts of `tokens`: the validation part is the tail, about
  /// `validationFraction` of the characters.
  ///
  /// Without `documentEnd` the cut is at `n − round(n · fraction)`. With it (the end-of-text id of
  /// a corpus read as documents) the cut is the end-of-text symbol between two documents nearest
  /// to that point, and both parts hold it: the training part ends with it (its last target), the
  /// validation part starts with it (its first input), so every character of every validation
  /// document is predicted, its first one included.
  /// - Throws: ``TextError/outOfRange(_:value:expected:)`` for a fraction outside [0, 1), or
  ///   ``TextError/singleDocument(validationFraction:)`` for a fraction above 0 when the tokens
  ///   hold a single document (no cut between documents).
  public static func split(
    _ tokens: TokenIDs, validationFraction: Double, documentEnd: Int32?
  ) throws(TextError) -> (training: TokenSlice, validation: TokenSlice) {
    guard validationFraction >= 0, validationFraction < 1, validationFraction.isFinite else {
      throw .outOfRange(.validationFraction, value: "\(validationFraction)", expected: "a number in [0, 1)")
    }
    let cut = tokens.count - Int((Double(tokens.count) * validationFraction).rounded())
    guard let end = documentEnd, validationFraction > 0 else { return (tokens[..<cut], tokens[cut...]) }
    // Interior ends only: the first symbol starts the first document, the last ends the last one.
    var best: Int? = nil
    for i in 1..<max(1, tokens.count - 1) where tokens[i] == end {
      if best == nil || abs(i - cut) < abs(best! - cut) { best = i }
      if i > cut { break }
    }
    guard let e = best else {
      throw .singleDocument(validationFraction: validationFraction)
    }
    return (tokens[...e], tokens[e...])
  }

  /// This corpus with its vocabulary grown onto `base`'s, for fine-tuning a model of `base`.
  ///
  /// The tokenizer's vocabulary is ``Vocabulary/merged(with:minCount:)`` of `base`'s and this
  /// corpus's (with `base`'s `minCount`), and the tokens are renumbered to it: every character
  /// `base` knows keeps its id, the new ones follow. Read the corpus with `base`'s options but
  /// `minCount` 1, so that characters rare here but known to `base` keep their ids (the result
  /// then encodes exactly as ``CorpusLoader/encode(path:with:include:excluding:documents:unknown:)``
  /// with the merged tokenizer does, which a resumed run checks).
  /// - Throws: ``TextError/outOfRange(_:value:expected:)`` naming the text setting (normalization,
  ///   lowercasing, locale) in which this corpus was read differently from `base`.
  public func extendingVocabulary(of base: Tokenizer) throws(TextError) -> Corpus {
    let mine = tokenizer.options, theirs = base.options
    if mine.normalization != theirs.normalization {
      throw .outOfRange(.normalization, value: mine.normalization.rawValue, expected: "the model's \(theirs.normalization.rawValue)")
    }
    if mine.lowercase != theirs.lowercase {
      throw .outOfRange(.lowercase, value: mine.lowercase ? "on" : "off", expected: "the model's \(theirs.lowercase ? "on" : "off")")
    }
    if mine.lowercase && mine.locale != theirs.locale {
      throw .outOfRange(.locale, value: mine.locale, expected: "the model's '\(theirs.locale)'")
    }
    let (vocabulary, map) = base.vocabulary.merged(with: tokenizer.vocabulary, minCount: theirs.minCount)
    var renumbered = tokens
    renumbered.renumber(map)
    var out = Corpus(tokenizer: Tokenizer(options: theirs, vocabulary: vocabulary), tokens: renumbered, byteCount: byteCount, files: files)
    out.addedLineBreaks = addedLineBreaks
    out.documents = documents
    out.documentCount = documentCount
    return out
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
  ///   - documents: how the text is cut into documents, each followed by the end-of-text symbol
  ///     (``DocumentMode``; the default reads one stream).
  ///   - progress: called with (bytes done, bytes total) as files are read.
  /// - Throws: ``TextError`` naming the file: missing, unreadable, invalid UTF-8 (with the byte
  ///   offset), binary, empty corpus, no text files.
  /// - Complexity: O(bytes); memory: the largest file plus 4 bytes per character.
  public static func load(
    path: String, options: TokenizerOptions = TokenizerOptions(), include: String? = nil,
    excluding: [String] = [], documents: DocumentMode = .stream, progress: ((Int, Int) -> Void)? = nil
  ) throws(TextError) -> Corpus {
    try options.validate()
    var builder = VocabularyBuilder()
    var tokens = TokenIDs()
    var added = 0
    var count = 0
    if documents != .stream { tokens.append(builder.addEndOfText()) }
    var scratch: [Int32] = []
    let (files, bytes) = try read(
      path: path, options: options, include: include, excluding: excluding, documents: documents, progress: progress,
      addedLineBreaks: &added, endDocument: { tokens.append(builder.addEndOfText()); count += 1 },
      reserve: { tokens.reserveCapacity($0) }, singles: { builder.addSingles($0, to: &tokens, scratch: &scratch) }
    ) { cluster in
      tokens.append(builder.add(cluster))
    }
    guard documents == .stream ? !tokens.isEmpty : count > 0 else { throw .emptyCorpus(path: path) }
    let (vocabulary, remap) = builder.finish(minCount: options.minCount)
    tokens.renumber(remap)
    var corpus = Corpus(
      tokenizer: Tokenizer(options: options, vocabulary: vocabulary), tokens: tokens,
      byteCount: bytes, files: files)
    corpus.addedLineBreaks = added
    corpus.documents = documents
    corpus.documentCount = count
    return corpus
  }

  /// Tokenizes a corpus held in memory (`name` stands for its path in messages), building its
  /// vocabulary; the same result as ``load(path:options:include:excluding:documents:progress:)``
  /// on a file with these bytes.
  public static func load(
    bytes: UnsafeBufferPointer<UInt8>, name: String, options: TokenizerOptions = TokenizerOptions(), documents: DocumentMode = .stream
  ) throws(TextError) -> Corpus {
    try options.validate()
    var builder = VocabularyBuilder()
    var tokens = TokenIDs()
    tokens.reserveCapacity(bytes.count + 1)
    var seg = Segmenter(options: options)
    var units: [UInt16] = []
    var splitter = DocumentSplitter(mode: documents)
    var count = 0
    let endDocument = { tokens.append(builder.addEndOfText()); count += 1 }
    if documents != .stream { tokens.append(builder.addEndOfText()) }
    var scratch: [Int32] = []
    let stream = documents == .stream
    try tokenize(
      bytes, file: name, segmenter: &seg, units: &units,
      singles: { run in
        if stream { return builder.addSingles(run, to: &tokens, scratch: &scratch) }
        for k in run.indices { splitter.feed(UnsafeBufferPointer(rebasing: run[k..<(k + 1)]), character: { tokens.append(builder.add($0)) }, end: endDocument) }
      }
    ) { c in
      splitter.feed(c, character: { tokens.append(builder.add($0)) }, end: endDocument)
    }
    splitter.endFile(end: endDocument)
    guard documents == .stream ? !tokens.isEmpty : count > 0 else { throw .emptyCorpus(path: name) }
    let (vocabulary, remap) = builder.finish(minCount: options.minCount)
    tokens.renumber(remap)
    var corpus = Corpus(tokenizer: Tokenizer(options: options, vocabulary: vocabulary), tokens: tokens, byteCount: bytes.count, files: [name])
    corpus.documents = documents
    corpus.documentCount = count
    return corpus
  }

  /// Tokenizes a corpus held in memory with an existing tokenizer (`documents`: as in
  /// ``encode(path:with:include:excluding:documents:unknown:)``).
  public static func encode(
    bytes: UnsafeBufferPointer<UInt8>, name: String, with tokenizer: Tokenizer, documents: DocumentMode = .stream,
    unknown: UnknownPolicy = .error
  ) throws(TextError) -> (tokens: TokenIDs, byteCount: Int) {
    let end = try endOfText(tokenizer, documents)
    var tokens = TokenIDs()
    tokens.reserveCapacity(bytes.count + 1)
    var missing: [String] = []
    var seg = Segmenter(options: tokenizer.options)
    var units: [UInt16] = []
    var splitter = DocumentSplitter(mode: documents)
    if let end { tokens.append(end) }
    var scratch: [Int32] = []
    let stream = documents == .stream
    func character(_ c: UnsafeBufferPointer<UInt16>) { if let id = tokenizer.resolve(c, unknown, &missing) { tokens.append(id) } }
    try tokenize(
      bytes, file: name, segmenter: &seg, units: &units,
      singles: { run in
        if stream { return tokenizer.resolveSingles(run, unknown, &missing, to: &tokens, scratch: &scratch) }
        for k in run.indices { splitter.feed(UnsafeBufferPointer(rebasing: run[k..<(k + 1)]), character: character, end: { tokens.append(end!) }) }
      }
    ) { cluster in
      splitter.feed(cluster, character: character, end: { tokens.append(end!) })
    }
    splitter.endFile { tokens.append(end!) }
    if !missing.isEmpty { throw .unknownCharacters(missing) }
    guard tokens.count > (end == nil ? 0 : 1) else { throw .emptyCorpus(path: name) }
    return (tokens, bytes.count)
  }

  /// The end-of-text id for reading in `documents` mode (nil for a stream).
  /// - Throws: ``TextError/noEndOfText(documents:)`` when the vocabulary has none.
  private static func endOfText(_ tokenizer: Tokenizer, _ documents: DocumentMode) throws(TextError) -> Int32? {
    guard documents != .stream else { return nil }
    guard let id = tokenizer.endOfTextID else {
      throw .noEndOfText(documents: documents)
    }
    return id
  }

  /// Decodes and segments the bytes of one file held in memory (a UTF-8 BOM dropped),
  /// streaming its clusters.
  private static func tokenize(
    _ b: UnsafeBufferPointer<UInt8>, file: String, segmenter seg: inout Segmenter, units: inout [UInt16],
    singles: (UnsafeBufferPointer<UInt16>) -> Void, emit: (UnsafeBufferPointer<UInt16>) -> Void
  ) throws(TextError) {
    try decode(b, at: 0, last: true, file: file, segmenter: &seg, units: &units, singles: singles, emit: emit)
  }

  /// Decodes and segments one chunk of a file: the bytes from file offset `offset` (0: the
  /// file's start, where a UTF-8 BOM is dropped), ending on a code point boundary unless `last`.
  private static func decode(
    _ b: UnsafeBufferPointer<UInt8>, at offset: Int, last: Bool, file: String, segmenter seg: inout Segmenter,
    units: inout [UInt16], singles: (UnsafeBufferPointer<UInt16>) -> Void, emit: (UnsafeBufferPointer<UInt16>) -> Void
  ) throws(TextError) {
    units.reserveCapacity(chunkUnits + 4)
    var i = offset == 0 && b.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0  // drop a UTF-8 BOM
    if i >= b.count && last { try seg.feed([UInt16]()[...], final: true, emit: emit, singles: singles) }
    while i < b.count {
      units.removeAll(keepingCapacity: true)
      do throws(UTF8Decoder.InvalidOffset) {
        i = try UTF8Decoder.decode(b, from: i, maxUnits: chunkUnits, into: &units)
      } catch {
        throw .invalidUTF8(path: file, offset: offset + error.offset)
      }
      try seg.feed(units[...], final: last && i >= b.count, emit: emit, singles: singles)
    }
  }

  /// Decodes and segments a whole file, reading it in chunks (``CorpusFile``); `progress` gets
  /// the bytes done after each chunk.
  private static func tokenize(
    _ file: borrowing CorpusFile, segmenter seg: inout Segmenter, units: inout [UInt16],
    progress: (Int) -> Void, singles: (UnsafeBufferPointer<UInt16>) -> Void, emit: (UnsafeBufferPointer<UInt16>) -> Void
  ) throws(TextError) {
    let path = file.path
    try file.chunks { (chunk, offset, last) throws(TextError) in
      try decode(chunk, at: offset, last: last, file: path, segmenter: &seg, units: &units, singles: singles, emit: emit)
      progress(offset + chunk.count)
    }
  }

  /// Reads and tokenizes a corpus with an existing tokenizer (for evaluation on new text, or a
  /// resumed run).
  /// - Parameter documents: cut the text into documents as ``load(path:options:include:excluding:documents:progress:)``
  ///   does, each followed by the tokenizer's end-of-text symbol (it must have one).
  /// - Returns: the ids and the number of bytes read.
  public static func encode(
    path: String, with tokenizer: Tokenizer, include: String? = nil, excluding: [String] = [],
    documents: DocumentMode = .stream, unknown: UnknownPolicy = .error
  ) throws(TextError) -> (tokens: TokenIDs, byteCount: Int) {
    let end = try endOfText(tokenizer, documents)
    var tokens = TokenIDs()
    var missing: [String] = []
    var added = 0
    var scratch: [Int32] = []
    if let end { tokens.append(end) }
    let (_, bytes) = try read(
      path: path, options: tokenizer.options, include: include, excluding: excluding, documents: documents, progress: nil,
      addedLineBreaks: &added, endDocument: { tokens.append(end!) },
      reserve: { tokens.reserveCapacity($0) }, singles: { tokenizer.resolveSingles($0, unknown, &missing, to: &tokens, scratch: &scratch) }
    ) { cluster in
      if let id = tokenizer.resolve(cluster, unknown, &missing) { tokens.append(id) }
    }
    if !missing.isEmpty { throw .unknownCharacters(missing) }
    guard tokens.count > (end == nil ? 0 : 1) else { throw .emptyCorpus(path: path) }
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

  /// Streams every cluster of the corpus to `emit`; in a documents mode, through a
  /// ``DocumentSplitter`` that calls `endDocument` after each document (a file's end ends one).
  /// In a stream, runs of clusters of one unit each go to `singles` instead.
  private static func read(
    path: String, options: TokenizerOptions, include: String?, excluding: [String], documents: DocumentMode,
    progress: ((Int, Int) -> Void)?, addedLineBreaks: inout Int, endDocument: () -> Void,
    reserve: (Int) -> Void, singles: (UnsafeBufferPointer<UInt16>) -> Void, emit: (UnsafeBufferPointer<UInt16>) -> Void
  ) throws(TextError) -> (files: [String], bytes: Int) {
    let candidates = try files(at: path, include: include, excluding: excluding)
    let isDirectory = candidates != [path]
    // Room for every character up front (at most one per byte, plus the added line breaks and
    // a document end), so the ids never grow by copying: a 1 GB corpus would briefly need 1.5×.
    var upperBound = candidates.count + 1
    for file in candidates {
      var st = stat()
      if stat(file, &st) == 0 { upperBound += Int(st.st_size) }
    }
    reserve(upperBound)
    var used: [String] = []
    var total = 0
    var units: [UInt16] = []
    units.reserveCapacity(chunkUnits + 4)
    var seg = Segmenter(options: options)
    var splitter = DocumentSplitter(mode: documents)
    for name in candidates {
      let file = try CorpusFile(name)
      if let nul = try file.firstNUL() {
        if isDirectory { continue }  // binary files in a directory are skipped
        throw .binaryFile(path: name, offset: nul)
      }
      used.append(name)
      let before = total, size = file.size
      // Runs of single-unit clusters go straight to `singles` in a stream; documents are cut
      // cluster by cluster.
      try tokenize(
        file, segmenter: &seg, units: &units, progress: { progress?(before + $0, before + size) },
        singles: { run in
          if documents == .stream { return singles(run) }
          for k in run.indices { splitter.feed(UnsafeBufferPointer(rebasing: run[k..<(k + 1)]), character: emit, end: endDocument) }
        }
      ) {
        splitter.feed($0, character: emit, end: endDocument)
      }
      total += size
      splitter.endFile(end: endDocument)
      // Files are separated by a line break when one does not end with it (documents: by the
      // end of a document, above).
      if isDirectory, documents == .stream, let last = try file.lastByte(), last != 0x0A {
        addedLineBreaks += 1
        try seg.feed([0x0A][...], final: true, emit: emit)
      }
    }
    if isDirectory && used.isEmpty { throw .noTextFiles(path: path, include: include) }
    return (used, total)
  }
}
