import Foundation
import Testing

/// The regularization flags as a user meets them: documented in --help, recorded in the
/// checkpoint, the log and inspect, kept and refused to change on --resume, which continues
/// bit for bit; values out of range are one-line errors naming the flag.
@Suite(.serialized) struct RegularizationCLITests {
  static let tiny = ["--embed", "8", "--hidden", "16", "--layers", "2", "--batch", "4", "--seq", "16", "--threads", "1", "--sample-length", "0", "--quiet"]
  static let all = ["--dropout", "0.2", "--dropout-kind", "locked", "--weight-drop", "0.3", "--embed-dropout", "0.1", "--weight-decay", "0.05", "--state-reset", "0.25", "--ema", "0.9"]

  private func corpus(_ dir: Scratch) -> String {
    var text = ""
    for i in 0..<200 { text += ["to be or not to be\n", "that is the question\n"][i % 2] }
    return dir.write("play.txt", Array(text.utf8))
  }

  @Test func helpDocumentsEveryFlag() throws {
    let help = try CLI.run(["train", "--help"])
    for flag in ["--weight-drop <P>", "--dropout-kind", "--embed-dropout <P>", "--weight-decay <W>", "--state-reset <P>", "--ema <D>", "locked"] {
      #expect(help.stdout.contains(flag), "\(flag) is not in train --help")
    }
  }

  @Test func recordedKeptOnResumeAndBitForBit() throws {
    let dir = Scratch()
    defer { dir.cleanup() }
    let text = corpus(dir)
    let straight = dir.path + "/s.safetensors", split = dir.path + "/r.safetensors"
    let a = try CLI.run(["train", text, "--out", straight, "--steps", "30", "--eval-every", "10"] + Self.tiny + Self.all)
    #expect(a.status == 0, "\(a.stderr)")
    let b = try CLI.run(["train", text, "--out", split, "--steps", "13", "--eval-every", "10"] + Self.tiny + Self.all)
    #expect(b.status == 0, "\(b.stderr)")
    let refused = try CLI.run(["train", "--resume", split, "--steps", "30", "--weight-decay", "0"])
    #expect(refused.status != 0 && refused.stderr.contains("--weight-decay cannot change when resuming"), "\(refused.stderr)")
    let refusedReset = try CLI.run(["train", "--resume", split, "--steps", "30", "--state-reset", "0"])
    #expect(refusedReset.status != 0 && refusedReset.stderr.contains("--state-reset cannot change when resuming"), "\(refusedReset.stderr)")
    let refusedAverage = try CLI.run(["train", "--resume", split, "--steps", "30", "--ema", "0.5"])
    #expect(refusedAverage.status != 0 && refusedAverage.stderr.contains("--ema cannot change when resuming"), "\(refusedAverage.stderr)")
    let c = try CLI.run(["train", "--resume", split, "--steps", "30", "--threads", "1", "--sample-length", "0", "--quiet"])
    #expect(c.status == 0, "\(c.stderr)")
    func inspect(_ path: String) throws -> [String: Any] {
      let r = try CLI.run(["inspect", path, "--json"])
      return try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
    }
    let (x, y) = (try inspect(straight), try inspect(split))
    #expect(x["weights_hash"] as? String == y["weights_hash"] as? String, "resume is not bit for bit")
    #expect(x["trained_weights_hash"] as? String == y["trained_weights_hash"] as? String, "resume is not bit for bit")
    #expect(y["ema"] as? Double == 0.9 && y["trained_weights_hash"] as? String != y["weights_hash"] as? String)
    #expect(y["step"] as? Int == 30)
    #expect(y["dropout_kind"] as? String == "locked" && y["weight_drop"] as? Double == 0.3)
    #expect(y["embed_dropout"] as? Double == 0.1 && y["weight_decay"] as? Double == 0.05 && y["state_reset"] as? Double == 0.25)
    let human = try CLI.run(["inspect", split])
    #expect(human.stdout.contains("locked dropout 0.2 · weight drop 0.3 · embedding dropout 0.1 · weight decay 0.05 · state reset 0.25 · weight average (EMA) 0.9"), "\(human.stdout)")
    #expect(human.stdout.contains("trained      fnv1a64:"), "\(human.stdout)")
    // The log's start and resume lines carry the options.
    let log = try String(contentsOfFile: dir.path + "/r.log.jsonl", encoding: .utf8)
    let heads = log.split(separator: "\n").filter { $0.contains("\"type\":\"start\"") || $0.contains("\"type\":\"resume\"") }
    #expect(heads.count == 2)
    for h in heads { #expect(h.contains("\"weightDrop\":0.3") && h.contains("\"dropoutKind\":\"locked\"") && h.contains("\"embedDropout\":0.1") && h.contains("\"weightDecay\":0.05") && h.contains("\"stateReset\":0.25") && h.contains("\"emaDecay\":0.9"), "\(h)") }
    // Each validation line has the average's loss and the trained weights'.
    let validations = log.split(separator: "\n").filter { $0.contains("\"type\":\"validation\"") }
    #expect(validations.count >= 3 && validations.allSatisfy { $0.contains("\"trained_loss\":") }, "\(validations)")
  }

  /// `eval` scores an --ema checkpoint's average by default and its trained weights with
  /// --trained-weights: on the validation split, with the run's streams and window, exactly the
  /// two losses of the run's last validation line. A checkpoint without an average refuses the flag.
  @Test func evalScoresTheAverageOrTheTrainedWeights() throws {
    let dir = Scratch()
    defer { dir.cleanup() }
    let text = corpus(dir)
    let out = dir.path + "/e.safetensors", plain = dir.path + "/p.safetensors"
    let run = try CLI.run(["train", text, "--out", out, "--steps", "20", "--eval-every", "10", "--ema", "0.9", "--val-fraction", "0.2"] + Self.tiny)
    #expect(run.status == 0, "\(run.stderr)")
    let log = try String(contentsOfFile: dir.path + "/e.log.jsonl", encoding: .utf8)
    let last = try #require(log.split(separator: "\n").last { $0.contains("\"type\":\"validation\"") })
    let record = try #require(try JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any])
    func eval(_ extra: [String]) throws -> Double? {
      let r = try CLI.run(["eval", out, text, "--tail", "0.2", "--streams", "4", "--seq", "16", "--threads", "1", "--json"] + extra)
      #expect(r.status == 0, "\(r.stderr)")
      return (try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])?["loss"] as? Double
    }
    let (average, trained) = (try eval([]), try eval(["--trained-weights"]))
    #expect(average == record["loss"] as? Double && trained == record["trained_loss"] as? Double && average != trained, "\(String(describing: average)) \(String(describing: trained)) \(record)")
    let p = try CLI.run(["train", text, "--out", plain, "--steps", "2", "--ema", "0"] + Self.tiny)
    #expect(p.status == 0, "\(p.stderr)")
    try CLI.expectRefused(["eval", plain, text, "--trained-weights"], naming: "holds no trained weights beside the model's (its run had no --ema); drop --trained-weights")
    // --ema 0 turns the default average off: a version-1 file with one set of weights.
    let i = try #require(try JSONSerialization.jsonObject(with: Data(try CLI.run(["inspect", plain, "--json"]).stdout.utf8)) as? [String: Any])
    #expect(i["ema"] as? Double == 0 && i["format_version"] as? Int == 1 && i["trained_weights_hash"] == nil, "\(i)")
  }

  @Test func valuesAreRefusedByFlag() throws {
    let dir = Scratch()
    defer { dir.cleanup() }
    let text = corpus(dir)
    let out = dir.path + "/never.safetensors"
    let train = ["train", text, "--out", out, "--steps", "2"] + Self.tiny
    let cases: [([String], String)] = [
      (["--weight-drop", "1"], "--weight-drop 1.0 is invalid: expected a probability in [0, 1)"),
      (["--weight-drop=-0.2"], "--weight-drop -0.2 is invalid"),
      (["--embed-dropout", "nan"], "--embed-dropout nan is invalid"),
      (["--embed-dropout", "1.5"], "--embed-dropout 1.5 is invalid"),
      (["--weight-decay=-1"], "--weight-decay -1.0 is invalid: expected a finite number ≥ 0"),
      (["--weight-decay", "inf"], "--weight-decay inf is invalid"),
      (["--state-reset", "1.5"], "--state-reset 1.5 is invalid: expected a probability in [0, 1]"),
      (["--state-reset=-0.1"], "--state-reset -0.1 is invalid"),
      (["--ema", "1"], "--ema 1.0 is invalid: expected a number in [0, 1)"),
      (["--ema=-0.5"], "--ema -0.5 is invalid"),
      (["--dropout-kind", "sideways"], "sideways"),
      (["--dropout-kind", "locked"], "--dropout-kind locked"),
    ]
    for (args, needle) in cases { try CLI.expectRefused(train + args, naming: needle) }
    #expect(!FileManager.default.fileExists(atPath: out))
  }
}
