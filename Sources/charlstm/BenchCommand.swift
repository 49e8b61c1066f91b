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
  @Option(help: "Vocabulary size for random symbols.") var vocab: Int = 65
  @Option(help: "Length of the random corpus.") var syntheticLen: Int = 1_000_000
  @Option var embed: Int = 64
  @Option var hidden: Int = 128
  @Option var layers: Int = 2
  @Option var batch: Int = 50
  @Option var seq: Int = 50
  @Option var lr: Double = 2e-3
  @OptionGroup var threads: ThreadOptions
  @Option(help: "Untimed steps first.") var warmup: Int = 5
  @Option(help: "Timed steps.") var steps: Int = 20
  @Option(help: "Characters per sampling repetition.") var sampleLen: Int = 2000
  @Option var sampleReps: Int = 5
  @Option var sampleWarmup: Int = 1
  @Option var temperature: Double = 0.8
  @Option var seed: UInt64 = 0
  @Option(help: "Also append the JSON line to this file.") var json: String?

  func validate() throws {
    for (name, v) in [("--vocab", vocab), ("--embed", embed), ("--hidden", hidden), ("--layers", layers), ("--batch", batch), ("--seq", seq), ("--steps", steps), ("--sample-len", sampleLen), ("--sample-reps", sampleReps)] where v < 1 {
      throw ValidationError("\(name) must be at least 1")
    }
    if warmup < 0 || sampleWarmup < 0 { throw ValidationError("--warmup and --sample-warmup must be 0 or more") }
  }

  func run() throws {
    threads.apply()
    let (tokenizer, tokens) = try data()
    let V = tokenizer.vocabulary.count
    let model = ModelConfig(vocabSize: V, embedSize: embed, hiddenSize: hidden, layers: layers)
    let fwd = (0..<layers).reduce(0) { $0 + 8 * hidden * (($1 == 0 ? embed : hidden) + hidden) } + 2 * hidden * V
    var result: [String: Any] = [
      "V": V, "E": embed, "H": hidden, "L": layers, "B": batch, "T": seq, "threads": Kernels.threads,
      "isa": Kernels.isaName, "impl": "charlstm", "fwd_flop_per_char": fwd, "train_flop_per_char": 3 * fwd,
      "params": model.parameterCount,
    ]
    if mode != .sample {
      var config = TrainingConfig()
      config.batch = batch
      config.seqLength = seq
      config.learningRate = lr
      config.steps = warmup + steps
      config.evalEvery = 0
      config.checkpointEvery = 0
      config.seed = seed
      let trainer = try Trainer(model: model, config: config, tokenizer: tokenizer, training: tokens[...], validation: [], corpus: nil, checkpointPath: nil)
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
        let t0 = DispatchTime.now().uptimeNanoseconds
        sampler.generate(prompt: [0], options: SamplingOptions(temperature: temperature, length: sampleLen, seed: seed &+ UInt64(rep)))
        let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        if rep >= sampleWarmup { rates.append(Double(sampleLen) / dt) }
      }
      result["sample"] = ["chars_per_s": stats(rates), "len": sampleLen, "temperature": temperature, "gflops_median": median(rates) * Double(fwd) / 1e9]
    }
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    result["peak_rss_mib"] = Double(usage.ru_maxrss) / 1024
    // What one thread of this machine can do at all (an FMA-only loop, after the timing): the
    // ceiling that GFLOP/s figures, ours and the peer's, are read against.
    result["fma_peak_gflops_per_thread"] = Kernels.measuredFMAPeak(seconds: 0.2)
    let data = try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys])
    let line = String(decoding: data, as: UTF8.self)
    Output.write(line + "\n")
    if let json {
      guard let handle = FileHandle(forWritingAtPath: json) ?? (FileManager.default.createFile(atPath: json, contents: nil) ? FileHandle(forWritingAtPath: json) : nil) else {
        throw ValidationError("cannot write \(json); check the path")
      }
      handle.seekToEndOfFile()
      handle.write(Data((line + "\n").utf8))
      try handle.close()
    }
  }

  /// A corpus: the file's characters, or random symbols over `vocab` like the PyTorch peer.
  private func data() throws -> (Tokenizer, [Int32]) {
    if let corpus {
      let c = try CorpusLoader.load(path: corpus)
      return (c.tokenizer, c.tokens)
    }
    var g = SeededGenerator(seed: seed)
    let tokens = (0..<syntheticLen).map { _ in Int32(g.next() % UInt64(vocab)) }
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
