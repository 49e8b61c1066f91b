import Foundation
import Testing

/// `train --init-from` and `--documents` as a user meets them.
@Suite(.serialized) struct FineTuneCLITests {
  static let tiny = ["--batch", "4", "--seq", "16", "--threads", "1", "--log-every", "10", "--sample-length", "0"]
  static let shape = ["--embed", "8", "--hidden", "16", "--layers", "1"]

  private func parent(_ dir: Scratch) throws -> String {
    var text = ""
    for i in 0..<200 { text += ["to be or not to be\n", "that is the question\n"][i % 2] }
    let corpus = dir.write("play.txt", Array(text.utf8))
    let ckpt = dir.path + "/p/play.safetensors"
    let r = try CLI.run(["train", corpus, "--out", ckpt, "--steps", "20", "--quiet"] + Self.shape + Self.tiny)
    #expect(r.status == 0, "\(r.stderr)")
    return ckpt
  }

  private func json(_ s: String) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(s.utf8)) as? [String: Any])
  }

  /// Everything under `dir` (to show that a refused command wrote nothing).
  private func listing(_ dir: Scratch) -> [String: Int] {
    var out: [String: Int] = [:]
    for f in FileManager.default.subpaths(atPath: dir.path) ?? [] {
      out[f] = ((try? FileManager.default.attributesOfItem(atPath: dir.path + "/" + f))?[.size] as? Int) ?? -1
    }
    return out
  }

  @Test func fineTuneRecordsItsOriginAndGrowsTheVocabulary() throws {
    let dir = Scratch()
    defer { dir.cleanup() }
    let ckpt = try parent(dir)
    var text = ""
    for i in 0..<100 { text += ["to be or not to be, Zoë\n", "that is the question\n"][i % 2] }
    let new = dir.write("zoe.txt", Array(text.utf8))
    let out = dir.path + "/f/zoe.safetensors"
    let r = try CLI.run(["train", new, "--init-from", ckpt, "--out", out, "--steps", "10", "--lr", "1e-3", "--dropout", "0.1"] + Self.tiny)
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stderr.contains("init from \(ckpt) (step 20"), "\(r.stderr)")
    #expect(r.stderr.contains("+ 3 new characters"), "\(r.stderr)")  // , Z ë
    #expect(r.stderr.contains("model 1×16 LSTM, E 8"))
    let p = try json(try CLI.run(["inspect", ckpt, "--json"]).stdout)
    let c = try json(try CLI.run(["inspect", out, "--json"]).stdout)
    let origin = try #require(c["init_from"] as? [String: Any])
    #expect(origin["path"] as? String == ckpt && origin["step"] as? Int == 20 && origin["added_symbols"] as? Int == 3)
    #expect(origin["weights_hash"] as? String == p["weights_hash"] as? String)
    #expect(c["step"] as? Int == 10 && c["vocabulary_size"] as? Int == (p["vocabulary_size"] as? Int ?? 0) + 3)
    let text2 = try CLI.run(["inspect", out]).stdout
    #expect(text2.contains("init from    \(ckpt) (step 20"), "\(text2)")
    // The log's start line says the same.
    let log = try String(contentsOfFile: dir.path + "/f/zoe.log.jsonl", encoding: .utf8)
    let start = try json(String(log.split(separator: "\n")[0]))
    #expect(start["type"] as? String == "start")
    #expect((start["init_from"] as? [String: Any])?["added_symbols"] as? Int == 3)
    // A fine-tuned run resumes like any other.
    let resumed = try CLI.run(["train", "--resume", out, "--steps", "14", "--threads", "1", "--sample-length", "0"])
    #expect(resumed.status == 0, "\(resumed.stderr)")
    #expect(try json(try CLI.run(["inspect", out, "--json"]).stdout)["init_from"] != nil)
  }

  @Test func badInitFromAndDocumentsAreOneLineErrorsThatWriteNothing() throws {
    let dir = Scratch()
    defer { dir.cleanup() }
    let ckpt = try parent(dir)
    let corpus = dir.path + "/play.txt"
    // A weights-only checkpoint: the same file without its training metadata.
    let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: ckpt)))
    let n = Int(bytes[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
    var header = try json(String(decoding: bytes[8..<(8 + n)], as: UTF8.self))
    var meta = try #require(header["__metadata__"] as? [String: String])
    for k in ["training", "state", "optimizer", "corpus"] { meta[k] = nil }
    header["__metadata__"] = meta
    var h = Array(try JSONSerialization.data(withJSONObject: header))
    while h.count % 8 != 0 { h.append(0x20) }
    let weightsOnly = dir.write("weights.safetensors", withUnsafeBytes(of: UInt64(h.count).littleEndian, Array.init) + h + bytes[(8 + n)...])
    #expect(try CLI.run(["inspect", weightsOnly]).stdout.contains("weights only"))
    let damaged = dir.write("damaged.safetensors", Array(bytes.prefix(bytes.count / 2)))
    let before = listing(dir)
    let cases: [([String], String)] = [
      (["train", corpus, "--init-from", weightsOnly], "--init-from \(weightsOnly) holds weights only"),
      (["train", corpus, "--init-from", damaged], "--init-from \(damaged)"),
      (["train", corpus, "--init-from", ckpt, "--hidden", "32"], "--hidden 32 contradicts --init-from"),
      (["train", corpus, "--init-from", ckpt, "--lowercase"], "--lowercase true contradicts"),
      (["train", corpus, "--init-from", ckpt, "--forget-bias", "0"], "drop --forget-bias"),
      (["train", corpus, "--init-from", ckpt, "--out", ckpt, "--overwrite"], "is the --init-from checkpoint"),
      (["train", "--resume", ckpt, "--steps", "30", "--documents", "lines"], "--documents lines does not match"),
      (["train", "--resume", ckpt, "--init-from", ckpt], "give --init-from or --resume, not both"),
    ]
    for (args, needle) in cases {
      // Each run that could write names a path inside the scratch folder.
      let out = args.contains("--out") || args.contains("--resume") ? [] : ["--out", dir.path + "/o/out.safetensors"]
      let r = try CLI.run(args + out + ["--threads", "1"])
      #expect(r.status != 0, "\(args)")
      #expect(r.stderr.contains(needle), "\(args): \(r.stderr)")
      if r.status == 1 {
        #expect(r.stderr.split(separator: "\n").count == 1, "one line: \(r.stderr)")
      }
    }
    #expect(listing(dir) == before, "nothing written")
    // The same --documents as the run's is accepted on resume.
    let ok = try CLI.run(["train", "--resume", ckpt, "--steps", "22", "--documents", "none", "--threads", "1", "--sample-length", "0"])
    #expect(ok.status == 0, "\(ok.stderr)")
  }

  /// One word per line in, words out: the run learns where words end, `inspect` and `eval`
  /// read the corpus the same way, and a fine-tuned child keeps the mode.
  @Test func namesStyleRun() throws {
    let dir = Scratch()
    defer { dir.cleanup() }
    let names = ["anna", "bert", "carl", "dora", "emil", "fred"]
    var text = ""
    for i in 0..<400 { text += names[(i * 5 + i / 6) % 6] + "\n" }
    let corpus = dir.write("names.txt", Array(text.utf8))
    let out = dir.path + "/n/names.safetensors"
    let r = try CLI.run(["train", corpus, "--documents", "lines", "--out", out, "--steps", "400", "--lr", "1e-2", "--eval-every", "100", "--sample-length", "60"] + Self.shape + Self.tiny.dropLast(2))
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stderr.contains("400 documents (lines)"), "\(r.stderr)")
    // The final sample: one text per line, each ending like a name (this 1×16 model gets most
    // names right).
    let lines = r.stdout.split(separator: "\n").dropLast()
    #expect(lines.count >= 5 && lines.allSatisfy { $0.count <= 8 }, "sample: \(r.stdout)")
    #expect(lines.filter { names.contains(String($0)) }.count * 2 >= lines.count, "sample: \(r.stdout)")
    let i = try json(try CLI.run(["inspect", out, "--json"]).stdout)
    // Format 3: the run keeps a weight average (`--ema`, on by default), which version 3 adds
    // to version 2's end-of-text symbol.
    #expect(i["documents"] as? String == "lines" && i["end_of_text_id"] as? Int == 0 && i["format_version"] as? Int == 3 && i["ema"] as? Double == 0.999)
    let e = try CLI.run(["eval", out, corpus, "--json"])
    #expect(e.status == 0, "\(e.stderr)")
    #expect((try json(e.stdout)["loss"] as? Double ?? 9) < 1.0, "\(e.stdout)")
    // A child on more names inherits the mode.
    let more = dir.write("more.txt", Array("gina\nhugo\n".utf8) + Array(text.utf8))
    let child = try CLI.run(["train", more, "--init-from", out, "--out", dir.path + "/n/more.safetensors", "--steps", "5"] + Self.tiny)
    #expect(child.status == 0 && child.stderr.contains("documents (lines)"), "\(child.stderr)")
    #expect(child.stderr.contains("+ 3 new characters"), "g, h, u: \(child.stderr)")
  }
}
