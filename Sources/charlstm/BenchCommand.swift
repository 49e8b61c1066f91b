import ArgumentParser
import CharLSTMKit
import Foundation

/// `charlstm bench train|sample`: the same measurements as the PyTorch peer benchmark
/// (../shared/peers/torch_charlstm_bench.py), printed as one JSON line with the same fields.
struct BenchCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "bench",
    abstract: "Measure training or sampling speed and peak memory (one JSON line).",
    discussion: """
      Takes the knobs of the PyTorch reference benchmark and prints its fields: chars_per_s \
      {median, min, max, p10, p90, n}, gflops_median, peak_rss_mib and the configuration. \
      scripts/bench_vs_pytorch.py runs both side by side and prints the ratios.

      Examples:
        charlstm bench train --embed 64 --hidden 512 --layers 2 --batch 50 --seq 50 --threads 2
        charlstm bench sample --hidden 128 --sample-len 2000 --temperature 0.8
      """)

  enum Mode: String, ExpressibleByArgument, CaseIterable { case train, sample, both }

  @Argument(help: "train, sample or both.") var mode: Mode = .train
  @Option(help: "Text file for real text (default: random symbols over --vocab).") var corpus: String?
  @Option(help: "Vocabulary size for random symbols, 1 to 32768.") var vocab: Int = 65
  @Option(help: "Length of the random corpus, 2 to 100,000,000.") var syntheticLen: Int = 1_000_000
  @Option(help: "Embedding width E, 1 to 65536.") var embed: Int = 64
  @Option(help: "Hidden width H, 1 to 65536.") var hidden: Int = 128
  @Option(help: "LSTM layers L, 1 to 64.") var layers: Int = 2
  @Option(help: "Streams per training step B, 1 to 65536 (sampling runs one stream, as the PyTorch peer; charlstm-bench step times many).") var batch: Int = 50
  @Option(help: "Time steps per window T, 1 to 65536 (B × T at most 16,777,216).") var seq: Int = 50
  @Option(help: "Learning rate.") var lr: Double = 2e-3
  @OptionGroup var threads: ThreadOptions
  @OptionGroup var numerics: PrecisionOptions
  @Option(help: "Untimed steps first, 0 to 100,000.") var warmup: Int = 5
  @Option(help: "Timed steps, 1 to 100,000.") var steps: Int = 20
  @Option(help: "Characters per sampling repetition, 1 to 10,000,000.") var sampleLen: Int = 2000
  @Option(help: "Timed sampling repetitions, 1 to 1000.") var sampleReps: Int = 5
  @Option(help: "Untimed sampling repetitions first, 0 to 1000.") var sampleWarmup: Int = 1
  @Option(help: "Sampling temperature, 0 to 100.") var temperature: Double = 0.8
  @Option var seed: UInt64 = 0
  @Option(help: "Also append the JSON line to this file (a regular file, created if missing).") var json: String?

  /// The ranges of the options that size the run; each message names its option.
  static let limits: [(name: String, range: ClosedRange<Int>, words: String)] = [
    ("--vocab", 1...32768, "from 1 to 32768"), ("--synthetic-len", 2...100_000_000, "from 2 to 100,000,000"),
    ("--embed", 1...65536, "from 1 to 65536"), ("--hidden", 1...65536, "from 1 to 65536"), ("--layers", 1...64, "from 1 to 64"),
    ("--batch", 1...65536, "from 1 to 65536"), ("--seq", 1...65536, "from 1 to 65536"),
    ("--warmup", 0...100_000, "from 0 to 100,000"), ("--steps", 1...100_000, "from 1 to 100,000"),
    ("--sample-len", 1...10_000_000, "from 1 to 10,000,000"), ("--sample-reps", 1...1000, "from 1 to 1000"),
    ("--sample-warmup", 0...1000, "from 0 to 1000"),
  ]

  func validate() throws {
    let values = [vocab, syntheticLen, embed, hidden, layers, batch, seq, warmup, steps, sampleLen, sampleReps, sampleWarmup]
    for (limit, value) in zip(Self.limits, values) where !limit.range.contains(value) {
      throw ValidationError("\(limit.name) \(value) is invalid: expected an integer \(limit.words)")
    }
    do {
      try trainingConfig.validate()
      try sampling(rep: 0).validate()
    } catch { throw ValidationError(userMessage(error, command: self)) }
  }

  var trainingConfig: TrainingConfig {
    var config = TrainingConfig()
    config.batch = batch
    config.seqLength = seq
    config.learningRate = lr
    config.steps = warmup + steps
    config.evalEvery = 0
    config.checkpointEvery = 0
    config.seed = seed
    config.precision = numerics.matrixProducts(hidden: hidden)
    return config
  }

  func sampling(rep: Int) -> SamplingOptions {
    var o = SamplingOptions(temperature: temperature, length: sampleLen, seed: seed &+ UInt64(rep))
    o.precision = numerics.generationWeights
    return o
  }

  func run() throws {
    // The results file first: a refusal is a one-line run-time error, before any work.
    if let json { try JSONAppender.checkPath(json) }
    threads.apply()
    let (tokenizer, tokens) = try data()
    let V = tokenizer.vocabulary.count
    let model = ModelConfig(vocabSize: V, embedSize: embed, hiddenSize: hidden, layers: layers)
    // Sizes are checked against this machine's memory before anything is allocated.
    if mode != .sample { try model.checkTrainable(batch: batch, seqLength: seq) }
    if mode != .train {
      try Sampler.checkMemory(model: model, options: sampling(rep: 0), storing: false)
    }
    let fwd = (0..<layers).reduce(0) { $0 + 8 * hidden * (($1 == 0 ? embed : hidden) + hidden) } + 2 * hidden * V
    var result: [String: Any] = [
      "V": V, "E": embed, "H": hidden, "L": layers, "B": batch, "T": seq, "threads": Kernels.threads,
      "isa": Kernels.isaName, "impl": "charlstm", "fwd_flop_per_char": fwd, "train_flop_per_char": 3 * fwd,
      "params": model.parameterCount,
      "precision": mode == .sample ? sampling(rep: 0).precision.rawValue : trainingConfig.precision?.rawValue ?? "fp32",
      "precision_train": trainingConfig.precision?.rawValue ?? "fp32",
      "precision_sample": sampling(rep: 0).precision.rawValue,
    ]
    if mode != .sample {
      let trainer = try Trainer(model: model, config: trainingConfig, tokenizer: tokenizer, training: tokens[...], validation: [], corpus: nil, checkpointPath: nil)
      var seconds: [Double] = []
      var losses: [Double] = []
      try trainer.run { event in
        if case .step(let r) = event {
          losses.append(r.loss)
          if r.step > warmup { seconds.append(r.milliseconds / 1000) }
        }
      }
      let cps = seconds.map { Double(batch * seq) / $0 }
      var train: [String: Any] = ["chars_per_s": stats(cps), "step_s": stats(seconds), "loss_first": losses.first ?? 0, "loss_last": losses.last ?? 0]
      train["gflops_median"] = median(cps) * Double(3 * fwd) / 1e9
      result["train"] = train
    }
    if mode != .train {
      var generator = SeededGenerator(seed: seed)
      let m = CharModel<Float>(config: model, generator: &generator)
      let sampler = Sampler(model: m, tokenizer: tokenizer)
      var rates: [Double] = []
      for rep in 0..<(sampleWarmup + sampleReps) {
        let t0 = ProcessMetrics.monotonicSeconds()
        sampler.stream(prompt: [0], options: sampling(rep: rep)) { _, _ in }
        let dt = ProcessMetrics.monotonicSeconds() - t0
        if rep >= sampleWarmup { rates.append(Double(sampleLen) / dt) }
      }
      result["sample"] = ["chars_per_s": stats(rates), "len": sampleLen, "temperature": temperature, "gflops_median": median(rates) * Double(fwd) / 1e9]
    }
    result["peak_rss_mib"] = ProcessMetrics.peakResidentMiB()
    // What one thread of this machine can do at all (an FMA-only loop, after the timing): the
    // ceiling that GFLOP/s figures, ours and the peer's, are read against.
    result["fma_peak_gflops_per_thread"] = Kernels.measuredFMAPeak(seconds: 0.2)
    // The ceiling of the path bf16 products ran on: a VDPBF16PS-only loop (null where the
    // path has no bf16 unit and bf16 runs on the FMA kernels).
    result["bf16_dot_peak_gflops_per_thread"] = Kernels.bf16DotAvailable ? Kernels.measuredBF16DotPeak(seconds: 0.2) : NSNull()
    result["bf16_dot_faster"] = Kernels.bf16DotIsFaster
    let data = try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys])
    let line = String(decoding: data, as: UTF8.self)
    Output.write(line + "\n")
    if let json { try JSONAppender.append(line, to: json) }
  }

  /// A corpus: the file's characters, or random symbols over `vocab` like the PyTorch peer.
  private func data() throws -> (Tokenizer, TokenIDs) {
    if let corpus {
      let c = try CorpusLoader.load(path: corpus)
      return (c.tokenizer, c.tokens)
    }
    var g = SeededGenerator(seed: seed)
    let tokens = TokenIDs((0..<syntheticLen).map { _ in Int32(g.next() % UInt64(vocab)) })
    let symbols = (0..<vocab).map { String(UnicodeScalar(0x4E00 + $0) ?? "?") }
    return (Tokenizer(options: TokenizerOptions(), vocabulary: Vocabulary(symbols: symbols, counts: Array(repeating: 1, count: vocab), unknownIndex: nil)), tokens)
  }
}

private func median(_ xs: [Double]) -> Double {
  guard !xs.isEmpty else { return 0 }
  let s = xs.sorted()
  return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

/// The peer's statistics: median, min, max, p10, p90, n.
private func stats(_ xs: [Double]) -> [String: Any] {
  guard !xs.isEmpty else { return ["n": 0] }
  let s = xs.sorted()
  let q = { (p: Double) in s[min(s.count - 1, Int((p * Double(s.count - 1)).rounded()))] }
  return ["median": median(xs), "min": s.first!, "max": s.last!, "p10": q(0.1), "p90": q(0.9), "n": s.count]
}

/// Appends one JSON line to a file the way `>>` does, and never replaces anything.
///
/// The file is opened with O_WRONLY | O_APPEND | O_CREAT (mode 0644 when created): never
/// truncated, never renamed over, so its inode, mode and contents stay; only a regular file
/// (or a symbolic link to one) is accepted, never a FIFO, a device or a directory. When the
/// file does not end in a line break one is written first, so each record stays on its own
/// line. Every write is checked: a full disk or an I/O error is one line, and a non-zero exit.
enum JSONAppender {
  /// Refuses, before any work, a path that is not a regular file or a missing one.
  static func checkPath(_ path: String) throws {
    func failure(_ why: String) -> ValidationError { ValidationError("--json \(path) cannot be appended to: \(why)") }
    var st = stat()
    if stat(path, &st) == 0 {
      if let why = refusal(st.st_mode) { throw failure(why + "; give a regular file") }
      if RunFiles.isSafetensorsFile(path) { throw failure("it is a checkpoint (safetensors), which a line of JSON would corrupt; give a .jsonl file") }
      if RunFiles.isRunLogFile(path) { throw failure("it is a training run's log, which a bench line would make unreadable; give another .jsonl file") }
      // Opening for appending writes nothing, creates nothing and shows a file that refuses
      // writes (read-only, /proc) before the benchmark runs.
      let fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)
      guard fd >= 0 else { throw failure(String(cString: strerror(errno))) }
      close(fd)
    } else if errno == ENOENT {
      let dir = (path as NSString).deletingLastPathComponent
      if access(dir.isEmpty ? "." : dir, W_OK | X_OK) != 0 { throw failure("its folder \(dir.isEmpty ? "." : dir): \(String(cString: strerror(errno)))") }
    } else {
      throw failure(String(cString: strerror(errno)))
    }
  }

  private static func refusal(_ mode: mode_t) -> String? {
    switch mode & S_IFMT {
    case S_IFREG: return nil
    case S_IFDIR: return "it is a directory"
    case S_IFIFO: return "it is a FIFO (named pipe), not a regular file"
    case S_IFCHR, S_IFBLK: return "it is a device, not a regular file"
    case S_IFSOCK: return "it is a socket, not a regular file"
    default: return "it is not a regular file"
    }
  }

  /// Appends `line` and a line break, after a line break when the file lacks a final one.
  static func append(_ line: String, to path: String) throws {
    func failure(_ why: String) -> ValidationError { ValidationError("--json \(path) cannot be appended to: \(why)") }
    try checkPath(path)
    // O_NONBLOCK: a FIFO swapped in after the check fails to open or is refused below, it
    // never blocks; O_NOCTTY: a terminal device never becomes the controlling terminal.
    let flags = O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NONBLOCK
    var fd = open(path, O_RDWR | flags, 0o644)
    var readable = true
    if fd < 0 && errno == EACCES {
      fd = open(path, O_WRONLY | flags, 0o644)
      readable = false
    }
    guard fd >= 0 else { throw failure(String(cString: strerror(errno))) }
    defer { close(fd) }
    var st = stat()
    guard fstat(fd, &st) == 0 else { throw failure(String(cString: strerror(errno))) }
    if let why = refusal(st.st_mode) { throw failure(why + "; give a regular file") }
    var bytes = Array((line + "\n").utf8)
    if readable && st.st_size > 0 {
      var last: UInt8 = 0
      let n = pread(fd, &last, 1, off_t(st.st_size - 1))
      if n == 1 && last != UInt8(ascii: "\n") { bytes.insert(UInt8(ascii: "\n"), at: 0) }
    }
    var done = 0
    while done < bytes.count {
      let n = bytes.withUnsafeBytes { Foundation.write(fd, $0.baseAddress! + done, $0.count - done) }
      if n < 0 && errno == EINTR { continue }
      if n < 0 { throw failure(String(cString: strerror(errno))) }
      if n == 0 { throw failure("nothing was written") }
      done += n
    }
    // A full disk may only show at close on some file systems (NFS): check it too.
    if fsync(fd) != 0 && errno != EINVAL && errno != EROFS { throw failure(String(cString: strerror(errno))) }
  }
}
