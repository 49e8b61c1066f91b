import Foundation
import Testing
import CharLSTMKernels

/// The mission loop as a user meets it: train a tiny model, generate, eval, inspect, resume.
@Suite(.serialized) struct TrainCLITests {
  static let tiny = ["--embed", "8", "--hidden", "16", "--layers", "1", "--batch", "4", "--seq", "16", "--threads", "1", "--log-every", "10"]

  private func corpus(_ dir: Scratch) -> String {
    var text = ""
    for i in 0..<200 { text += ["to be or not to be\n", "that is the question\n"][i % 2] }
    return dir.write("play.txt", Array(text.utf8))
  }

  @Test func trainGenerateEvalInspectResume() throws {
    let dir = Scratch()
    defer { dir.cleanup() }
    let text = corpus(dir)
    let ckpt = dir.path + "/ck/play.safetensors"
    let train = try CLI.run(["train", text, "--out", ckpt, "--steps", "40", "--eval-every", "20", "--sample-length", "30"] + Self.tiny)
    #expect(train.status == 0, "\(train.stderr)")
    #expect(train.stderr.contains("step 40/40"))
    #expect(train.stderr.contains("validation at step 40"))
    #expect(train.stdout.count >= 30)  // the final sample
    #expect(FileManager.default.fileExists(atPath: dir.path + "/ck/play.best.safetensors"))

    let gen = try CLI.run(["generate", ckpt, "--prompt", "to be", "--length", "50", "--seed", "3", "--threads", "1"])
    #expect(gen.status == 0, "\(gen.stderr)")
    #expect(gen.stdout.hasPrefix("to be"))
    #expect(gen.stdout.count == "to be".count + 50 + 1)
    let again = try CLI.run(["generate", ckpt, "--prompt", "to be", "--length", "50", "--seed", "3", "--threads", "1"])
    #expect(again.stdout == gen.stdout)  // same seed, same text
    let three = try CLI.run(["generate", ckpt, "--length", "10", "--count", "3", "--temperature", "0"])
    #expect(three.status == 0 && three.stdout.contains("3/3"))

    let eval = try CLI.run(["eval", ckpt, text, "--json"])
    #expect(eval.status == 0, "\(eval.stderr)")
    let e = try #require(try JSONSerialization.jsonObject(with: Data(eval.stdout.utf8)) as? [String: Any])
    let loss = try #require(e["loss"] as? Double)
    #expect(loss > 0 && loss < log(Double(15)))
    #expect(abs((e["bpc"] as? Double ?? 0) - loss / log(2)) < 1e-9)
    #expect(e["characters"] as? Int == 100 * 19 + 100 * 21 - 1)  // every next character scored once

    let inspect = try CLI.run(["inspect", ckpt, "--json"])
    let i = try #require(try JSONSerialization.jsonObject(with: Data(inspect.stdout.utf8)) as? [String: Any])
    #expect(i["step"] as? Int == 40)
    #expect(i["parameters"] as? Int != nil)
    #expect(i["best_validation_loss"] as? Double != nil)

    // Resume to 60 steps: allowed options only.
    let resumed = try CLI.run(["train", "--resume", ckpt, "--steps", "60", "--threads", "1", "--sample-length", "0"])
    #expect(resumed.status == 0, "\(resumed.stderr)")
    #expect(resumed.stderr.contains("resuming") && resumed.stderr.contains("step 60/60"))
    let refused = try CLI.run(["train", "--resume", ckpt, "--hidden", "32"])
    #expect(refused.status != 0 && refused.stderr.contains("--hidden cannot change when resuming"))
  }

  /// `--precision auto` trains small models in fp32 and models from 512 hidden units up in bf16
  /// where the run's kernel path has a bf16 unit faster than its fp32 FMAs; an explicit choice is kept. The checkpoint
  /// records the precision and the kernel path (inspect shows both).
  @Test func autoPrecisionFollowsModelSizeAndKernelPath() throws {
    let dir = Scratch()
    defer { dir.cleanup() }
    let text = corpus(dir)
    func numerics(_ name: String, _ extra: [String]) throws -> (precision: String?, path: String?) {
      let ckpt = dir.path + "/\(name).safetensors"
      let args = ["train", text, "--out", ckpt, "--steps", "1", "--eval-every", "0", "--sample-length", "0", "--embed", "4", "--layers", "1", "--batch", "2", "--seq", "4", "--threads", "1"]
      let r = try CLI.run(args + extra)
      #expect(r.status == 0, "\(r.stderr)")
      let inspect = try CLI.run(["inspect", ckpt, "--json"])
      let i = try #require(try JSONSerialization.jsonObject(with: Data(inspect.stdout.utf8)) as? [String: Any])
      let human = try CLI.run(["inspect", ckpt])
      #expect(human.stdout.contains("numerics     \(i["precision"] as? String ?? "?") products on the \(i["kernel_path"] as? String ?? "?") kernels"), "\(human.stdout)")
      return (i["precision"] as? String, i["kernel_path"] as? String)
    }
    let small = try numerics("small", ["--hidden", "8"])
    #expect(small.precision == "fp32")
    let path = try #require(small.path)
    #expect(["avx512bf16", "avx512", "avx2", "portable"].contains(path))
    let large = try numerics("large", ["--hidden", "512"])
    // bf16 only where the unit outruns the fp32 FMAs (Zen 4/5; not Sapphire Rapids' half-rate one).
    let fastUnit = path == "avx512bf16" && Kernels.bf16DotIsFaster
    #expect(large.precision == (fastUnit ? "bf16" : "fp32"), "hidden 512 on \(path), unit faster: \(Kernels.bf16DotIsFaster)")
    #expect(try numerics("forced", ["--hidden", "8", "--precision", "bf16"]).precision == "bf16")
    #expect(try numerics("fp32", ["--hidden", "512", "--precision", "fp32"]).precision == "fp32")
  }

  @Test func userErrorsAreOneLineWithNonZeroStatus() throws {
    let dir = Scratch()
    defer { dir.cleanup() }
    let text = corpus(dir)
    let notCkpt = dir.write("junk.safetensors", Array("not a checkpoint at all".utf8))
    let cases: [([String], String)] = [
      (["generate", dir.path + "/missing.safetensors"], "missing.safetensors"),
      (["generate", notCkpt], "junk.safetensors"),
      (["generate", text], "play.txt"),
      (["train", text, "--lr", "0"] + Self.tiny, "--lr"),
      (["train", text, "--dropout", "1"] + Self.tiny, "dropout"),
      (["train", text, "--batch", "0"], "--batch"),
      (["train", text, "--batch", "500", "--seq", "500"], "needs at least"),
      (["generate", notCkpt, "--temperature", "-1"], "--temperature"),
      (["generate", notCkpt, "--top-p", "0"], "--top-p"),
      (["eval", notCkpt, text], "junk.safetensors"),
    ]
    for (args, needle) in cases {
      let r = try CLI.run(args + ["--out", dir.path + "/o.safetensors"].filter { _ in args[0] == "train" })
      #expect(r.status != 0, "\(args) should fail")
      #expect(r.stderr.contains(needle), "\(args): \(r.stderr)")
      #expect(!r.stderr.contains("Fatal error") && !r.stderr.contains("Stack dump"), "\(args) crashed: \(r.stderr)")
    }
  }

  @Test func unknownPromptCharactersAreNamedOrDropped() throws {
    let dir = Scratch()
    defer { dir.cleanup() }
    let text = corpus(dir)
    let ckpt = dir.path + "/u.safetensors"
    let train = try CLI.run(["train", text, "--out", ckpt, "--steps", "5", "--sample-length", "0", "--quiet"] + Self.tiny)
    #expect(train.status == 0, "\(train.stderr)")
    let bad = try CLI.run(["generate", ckpt, "--prompt", "to Z😀", "--length", "5"])
    #expect(bad.status != 0)
    #expect(bad.stderr.contains("\"Z\"") && bad.stderr.contains("U+1F600") && bad.stderr.contains("--drop-unknown"))
    let dropped = try CLI.run(["generate", ckpt, "--prompt", "to Z😀", "--length", "5", "--drop-unknown"])
    #expect(dropped.status == 0)
    #expect(dropped.stdout.hasPrefix("to "))
  }
}
