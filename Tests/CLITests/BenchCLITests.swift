import Foundation
import Testing

/// `charlstm bench`: its help lists every option with an example, and a tiny run of each mode
/// prints one JSON line with the fields the help and the README document (the PyTorch peer's
/// chars_per_s statistics, gflops_median, peak_rss_mib, plus isa, precision and
/// fma_peak_gflops_per_thread). Only the shape and internal consistency of the figures are
/// checked, never their speed.
@Suite struct BenchCLITests {
  static let options = [
    "--corpus", "--vocab", "--synthetic-len", "--embed", "--hidden", "--layers", "--batch", "--seq", "--lr", "--threads",
    "--precision", "--warmup", "--steps", "--sample-len", "--sample-reps", "--sample-warmup", "--temperature", "--seed", "--json",
  ]

  @Test func helpListsEveryOptionWithAnExample() throws {
    let o = try CLI.run(["bench", "--help"])
    #expect(o.status == 0, "\(o.stderr)")
    let help = o.stdout
    for option in Self.options {
      #expect(help.contains(option), "bench --help does not list \(option)")
    }
    #expect(help.contains("train, sample or both"))
    #expect(help.contains("chars_per_s") && help.contains("peak_rss_mib"))
    // The examples are real command lines of this tool.
    let examples = help.components(separatedBy: "\n").filter { $0.trimmingCharacters(in: .whitespaces).hasPrefix("charlstm bench ") }
    #expect(examples.contains { $0.contains("charlstm bench train ") }, "no train example in:\n\(help)")
    #expect(examples.contains { $0.contains("charlstm bench sample ") }, "no sample example in:\n\(help)")
    for line in examples {
      for word in line.split(separator: " ") where word.hasPrefix("--") {
        #expect(Self.options.contains(String(word.split(separator: "=")[0])), "example uses unknown option \(word): \(line)")
      }
    }
  }

  /// Runs `charlstm bench args…`; returns the one JSON object it printed.
  static func bench(_ args: [String]) throws -> [String: Any] {
    let o = try CLI.run(["bench"] + args)
    #expect(o.status == 0, "bench \(args): \(o.stderr)")
    let lines = o.stdout.split(separator: "\n", omittingEmptySubsequences: false)
    #expect(lines.count == 2 && lines[1].isEmpty, "bench \(args) printed \(lines.count - 1) lines: \(o.stdout)")
    let object = try JSONSerialization.jsonObject(with: Data(lines[0].utf8))
    return try #require(object as? [String: Any], "not a JSON object: \(lines[0])")
  }

  static func number(_ any: Any?) -> Double? { (any as? NSNumber)?.doubleValue }

  /// chars_per_s {median, min, max, p10, p90, n}: n timed measurements, positive and ordered.
  static func checkStatistics(_ any: Any?, n: Int, _ what: String) throws -> Double {
    let stats = try #require(any as? [String: Any], "\(what): no chars_per_s object")
    #expect(Set(stats.keys) == ["median", "min", "max", "p10", "p90", "n"], "\(what): \(stats.keys.sorted())")
    #expect(number(stats["n"]) == Double(n), "\(what): n \(stats["n"] ?? "missing")")
    let v = try ["min", "p10", "median", "p90", "max"].map { try #require(number(stats[$0]), "\(what): \($0) missing") }
    #expect(v.allSatisfy { $0.isFinite && $0 > 0 }, "\(what): \(v)")
    #expect(zip(v, v.dropFirst()).allSatisfy { $0 <= $1 }, "\(what): min ≤ p10 ≤ median ≤ p90 ≤ max fails: \(v)")
    return v[2]
  }

  static func checkCommonFields(_ r: [String: Any], _ what: String) {
    #expect(["avx512bf16", "avx512", "avx2", "portable"].contains(r["isa"] as? String ?? ""), "\(what): isa \(r["isa"] ?? "missing")")
    // The bf16 unit's ceiling where the path has one (a number), null elsewhere.
    if r["isa"] as? String == "avx512bf16" {
      let dot = number(r["bf16_dot_peak_gflops_per_thread"]) ?? -1
      #expect(dot.isFinite && dot > 0, "\(what): bf16_dot_peak_gflops_per_thread \(dot)")
    } else {
      #expect(r["bf16_dot_peak_gflops_per_thread"] is NSNull, "\(what): \(r["bf16_dot_peak_gflops_per_thread"] ?? "missing")")
    }
    #expect(["fp32", "bf16"].contains(r["precision"] as? String ?? ""), "\(what): precision \(r["precision"] ?? "missing")")
    let rss = number(r["peak_rss_mib"]) ?? -1
    #expect(rss > 1 && rss < 4096, "\(what): peak_rss_mib \(rss)")
    let peak = number(r["fma_peak_gflops_per_thread"]) ?? -1
    #expect(peak.isFinite && peak > 0, "\(what): fma_peak_gflops_per_thread \(peak)")
    #expect(r["impl"] as? String == "charlstm")
  }

  @Test func tinyTrainBenchPrintsOneJSONLine() throws {
    let r = try Self.bench(["train", "--hidden", "8", "--embed", "4", "--batch", "2", "--seq", "4", "--steps", "2", "--warmup", "0", "--threads", "1"])
    Self.checkCommonFields(r, "bench train")
    #expect(r["sample"] == nil)
    #expect(Self.number(r["H"]) == 8 && Self.number(r["E"]) == 4 && Self.number(r["B"]) == 2 && Self.number(r["T"]) == 4)
    #expect(Self.number(r["threads"]) == 1 && Self.number(r["V"]) == 65 && Self.number(r["L"]) == 2)
    #expect(r["precision"] as? String == r["precision_train"] as? String)
    // Forward FLOPs per character: Σ over layers 8·H·(in + H), plus the head's 2·H·V.
    let fwd = 8 * 8 * (4 + 8) + 8 * 8 * (8 + 8) + 2 * 8 * 65
    #expect(Self.number(r["fwd_flop_per_char"]) == Double(fwd))
    #expect(Self.number(r["train_flop_per_char"]) == Double(3 * fwd))
    let train = try #require(r["train"] as? [String: Any], "no train object: \(r)")
    let median = try Self.checkStatistics(train["chars_per_s"], n: 2, "bench train")
    let gflops = try #require(Self.number(train["gflops_median"]))
    #expect(abs(gflops - median * Double(3 * fwd) / 1e9) <= 1e-9 * gflops, "gflops_median \(gflops) vs median \(median)")
  }

  @Test func tinySampleBenchPrintsOneJSONLine() throws {
    let r = try Self.bench(["sample", "--hidden", "8", "--sample-len", "20", "--sample-reps", "1"])
    Self.checkCommonFields(r, "bench sample")
    #expect(r["train"] == nil)
    #expect(r["precision"] as? String == r["precision_sample"] as? String)
    let sample = try #require(r["sample"] as? [String: Any], "no sample object: \(r)")
    let median = try Self.checkStatistics(sample["chars_per_s"], n: 1, "bench sample")
    #expect(Self.number(sample["len"]) == 20)
    let fwd = try #require(Self.number(r["fwd_flop_per_char"]))
    let gflops = try #require(Self.number(sample["gflops_median"]))
    #expect(abs(gflops - median * fwd / 1e9) <= 1e-9 * gflops, "gflops_median \(gflops) vs median \(median)")
  }
}
