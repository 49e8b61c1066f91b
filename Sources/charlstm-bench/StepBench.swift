import ArgumentParser
import CharLSTMKit

/// `charlstm-bench step`: the cost of one generation step (every layer's products, cells and
/// the head) as the number of streams stepped together grows: what a server batching its
/// clients' rows pays per character step, and how much each extra row costs.
struct StepBench: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "step",
    abstract: "Times InferenceSession.step for 1 to N rows, fp32 and bf16 weights (prints figures).",
    discussion: """
      For each configuration, weight precision and row count m: milliseconds per step, \
      characters per second (m per step), GFLOP/s, and the step time and throughput relative \
      to m = 1. A server batching C clients on one model pays the step time of m = C per \
      character: its aggregate throughput over one client's is the "× 1 row" column, and a \
      request's latency grows by the "step ÷ 1 row" column.

      Example:
        charlstm-bench step --configs M --rows 1,8,32,128 --threads 2
      """)

  @Option(help: "Comma-separated configurations among S (2×128), M (2×512), L (2×1024).")
  var configs: String = "S,M"

  @Option(help: "Comma-separated row counts, each 1 to 4096.")
  var rows: String = "1,2,4,8,16,32,64,128"

  @Option(help: "Comma-separated weight precisions among fp32, bf16.")
  var weights: String = "fp32,bf16"

  @Option(help: "Threads for the products, 1 to 1024.")
  var threads: Int = 2

  @Option(help: "Minimum seconds of timed steps per measurement (above 0, at most 60).")
  var seconds: Double = 0.3

  @Option(help: "Vocabulary size V, 1 to 32768.")
  var vocab: Int = 65

  func validate() throws {
    if !(1...1024).contains(threads) { throw ValidationError("--threads \(threads) is invalid: expected an integer from 1 to 1024") }
    if !(seconds > 0 && seconds <= 60) { throw ValidationError("--seconds \(seconds) is invalid: expected a number above 0 and at most 60, e.g. 0.3") }
    if !(1...32768).contains(vocab) { throw ValidationError("--vocab \(vocab) is invalid: expected an integer from 1 to 32768") }
    if parsedRows == nil { throw ValidationError("--rows \(rows) is invalid: expected comma-separated row counts, each from 1 to 4096, e.g. 1,8,32") }
    if parsedConfigs == nil { throw ValidationError("--configs \(configs) is invalid: expected comma-separated configurations among S, M, L, e.g. S,M") }
    if parsedWeights == nil { throw ValidationError("--weights \(weights) is invalid: expected comma-separated precisions among fp32, bf16, e.g. fp32,bf16") }
  }

  var parsedRows: [Int]? {
    let r = rows.split(separator: ",", omittingEmptySubsequences: false).map { Int($0) }
    guard !r.isEmpty, r.allSatisfy({ $0.map { (1...4096).contains($0) } ?? false }) else { return nil }
    return r.map { $0! }
  }

  static let known: [String: (e: Int, h: Int)] = ["S": (64, 128), "M": (64, 512), "L": (128, 1024)]

  var parsedConfigs: [String]? {
    let c = configs.split(separator: ",", omittingEmptySubsequences: false).map { $0.uppercased() }
    guard !c.isEmpty, c.allSatisfy({ Self.known[$0] != nil }) else { return nil }
    return c
  }

  var parsedWeights: [Kernels.Precision]? {
    let w = weights.split(separator: ",", omittingEmptySubsequences: false).map { Kernels.Precision(rawValue: String($0)) }
    guard !w.isEmpty, w.allSatisfy({ $0 != nil }) else { return nil }
    return w.map { $0! }
  }

  func run() throws {
    let original = Kernels.threads
    Kernels.setThreads(threads)
    defer { Kernels.setThreads(original) }
    let counts = parsedRows!
    let top = counts.max()!
    emit("isa: \(Kernels.isaName), \(threads) thread(s); measured FMA-only loop: \(format1(Kernels.measuredFMAPeak(seconds: 0.2))) GFLOP/s per thread")
    emit("config  weights   rows   ms/step    chars/s   GFLOP/s   step ÷ 1 row   × 1 row")
    for name in parsedConfigs! {
      let (e, h) = Self.known[name]!
      let config = ModelConfig(vocabSize: vocab, embedSize: e, hiddenSize: h, layers: 2)
      var g = SeededGenerator(seed: 11)
      let model = CharModel<Float>(config: config, generator: &g)
      let flopsPerRow = Double((0..<config.layers).reduce(0) { $0 + 8 * h * (($1 == 0 ? e : h) + h) } + 2 * h * vocab)
      for precision in parsedWeights! {
        let session = InferenceSession<Float>(model: model, batch: top, weights: precision)
        var state = [Float](repeating: 0, count: config.layers * top * h)
        var cells = state
        var logits = [Float](repeating: 0, count: top * vocab)
        let tokens = (0..<top).map { Int32($0 % vocab) }
        // Milliseconds per row at m = 1 (or at the first row count when 1 is not asked for).
        var baseline: Double?
        for m in counts {
          let ms = tokens.withUnsafeBufferPointer { t in
            state.withUnsafeMutableBufferPointer { hp in
              cells.withUnsafeMutableBufferPointer { cp in
                logits.withUnsafeMutableBufferPointer { l in
                  timePerCall {
                    session.step(rows: m, tokens: t.baseAddress!, h: hp.baseAddress!, c: cp.baseAddress!, stride: top, logits: l)
                  } * 1000
                }
              }
            }
          }
          if m == 1 || baseline == nil { baseline = ms / Double(m) }
          let base = baseline!
          let rate = Double(m) / (ms / 1000)
          let gflops = flopsPerRow * Double(m) / (ms / 1000) / 1e9
          emit(
            pad(name, 8) + pad(precision.rawValue, 8) + pad("\(m)", 6, left: true) + pad(format3(ms), 10, left: true)
              + pad("\(Int(rate.rounded()))", 11, left: true) + pad(format1(gflops), 10, left: true)
              + pad(format1(ms / base) + "×", 15, left: true) + pad(format1(Double(m) * base / ms) + "×", 10, left: true))
        }
      }
    }
  }

  /// Best mean seconds per call over rounds of at least 20 ms (at least `seconds` in total).
  func timePerCall(_ body: () -> Void) -> Double {
    body()
    var t0 = ProcessMetrics.monotonicSeconds()
    body()
    var one = ProcessMetrics.monotonicSeconds() - t0
    let calls = max(1, Int(0.02 / max(one, 1e-7)))
    var best = Double.infinity
    var total = 0.0
    var rounds = 0
    while total < seconds || rounds < 5 {
      t0 = ProcessMetrics.monotonicSeconds()
      for _ in 0..<calls { body() }
      one = ProcessMetrics.monotonicSeconds() - t0
      total += one
      rounds += 1
      best = min(best, one / Double(calls))
    }
    return best
  }
}
