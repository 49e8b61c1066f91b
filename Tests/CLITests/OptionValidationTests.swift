import Foundation
import Testing

/// Every numeric option is checked at the edge: a one-line message naming it, a non-zero exit,
/// no crash, and nothing written.
@Suite struct OptionValidationTests {
  @Test func nonsenseValuesAreRefusedByName() throws {
    let dir = Scratch()
    defer { dir.cleanup() }
    var text = ""
    for _ in 0..<200 { text += "some text to train on\n" }
    let corpus = dir.write("c.txt", Array(text.utf8))
    let out = dir.path + "/never.safetensors"
    let train = ["train", corpus, "--out", out, "--steps", "2"]
    let cases: [([String], String)] = [
      (train + ["--embed", "0"], "embed"),
      (train + ["--hidden", "-3"], "hidden"),
      (train + ["--layers", "0"], "layers"),
      (train + ["--hidden", "100000"], "--hidden"),
      (train + ["--dropout", "-0.1"], "dropout"),
      (train + ["--dropout", "nan"], "dropout"),
      (train + ["--forget-bias", "inf"], "--forget-bias"),
      (train + ["--lr", "-1"], "--lr"),
      (train + ["--lr", "inf"], "--lr"),
      (train + ["--seq", "0"], "--seq"),
      (train + ["--clip", "-1"], "--clip"),
      (train + ["--val-fraction", "1"], "--val-fraction"),
      (train + ["--eval-every", "-1"], "--eval-every"),
      (train + ["--patience", "0"], "--patience"),
      (train + ["--threads", "0"], "--threads"),
      (train + ["--min-count", "0"], "--min-count"),
      (train + ["--epochs", "0"], "--epochs"),
      (train + ["--epochs", "2"], "--steps or --epochs"),
      (train + ["--seed", "-1"], "seed"),
      (train + ["--optimizer", "adamw"], "adamw"),
      (["generate", out, "--length", "-1"], "--length"),
      (["generate", out, "--count", "0"], "--count"),
      (["generate", out, "--top-k", "-2"], "--top-k"),
      (["generate", out, "--top-p", "1.5"], "--top-p"),
      (["generate", out, "--temperature", "nan"], "--temperature"),
      (["generate", out], "never.safetensors"),
      (["generate", dir.path], dir.path),
      (["eval", out, corpus, "--streams", "0"], "--streams"),
      (["vocab", corpus, "--top", "-1"], "--top"),
      (["train", "--resume", out], "never.safetensors"),
    ]
    for (args, needle) in cases { try CLI.expectRefused(args, naming: needle) }
    #expect(!FileManager.default.fileExists(atPath: out))
  }
}

@Suite struct SpecialFileTests {
  @Test func aFifoInsteadOfAFileIsRefusedWithoutHanging() throws {
    let dir = Scratch()
    defer { dir.cleanup() }
    let fifo = dir.path + "/pipe"
    #expect(mkfifo(fifo, 0o644) == 0)
    for args in [["vocab", fifo], ["generate", fifo], ["eval", fifo, fifo]] {
      let r = try CLI.run(args)
      #expect(r.status != 0, "\(args)")
      #expect(r.stderr.contains("not a regular file"), "\(args): \(r.stderr)")
    }
  }
}
