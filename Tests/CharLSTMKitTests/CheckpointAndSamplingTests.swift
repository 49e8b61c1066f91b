import CharLSTMKit
import Foundation
import Testing

@Suite(.serialized) struct CheckpointAndSamplingTests {
  init() { Kernels.setThreads(1) }

  private func trained(steps: Int = 30, path: String) throws -> (Trainer, TokenIDs) {
    let (tok, ids) = try smallCorpus()
    let (m, t) = tinyConfigs(vocab: tok.vocabulary.count, steps: steps)
    let cut = ids.count - ids.count / 10
    let trainer = try Trainer(model: m, config: t, tokenizer: tok, training: ids[..<cut], validation: ids[cut...], corpus: CorpusInfo(path: "small", include: nil, bytes: 1, tokens: ids), checkpointPath: path)
    try trainer.run()
    return (trainer, ids)
  }

  @Test func checkpointRoundTripsEverything() throws {
    let dir = TempDir()
    defer { dir.cleanup() }
    let path = dir.file("c.safetensors")
    let (trainer, _) = try trained(path: path)
    let ckpt = try Checkpoint.load(from: path)
    #expect(ckpt.model == trainer.model.config)
    #expect(firstBitDifference(ckpt.parameters, trainer.model.parameters) == nil)
    #expect(ckpt.tokenizer.vocabulary == trainer.tokenizer.vocabulary)
    #expect(ckpt.tokenizer.options == trainer.tokenizer.options)
    #expect(ckpt.optimizer == trainer.optimizer)
    #expect(ckpt.hidden == trainer.hidden)
    #expect(ckpt.training == trainer.config)
    #expect(ckpt.state?.step == 30)
    #expect(FileManager.default.fileExists(atPath: dir.file("c.best.safetensors")))
    // PyTorch state-dict names and shapes.
    let file = try SafeTensorsFile.load(contentsOf: path)
    let H = 24
    #expect(file.info("lstm.weight_ih_l0")?.shape == [4 * H, 8])
    #expect(file.info("lstm.weight_hh_l1")?.shape == [4 * H, H])
    #expect(file.info("lstm.bias_ih_l1")?.shape == [4 * H])
    #expect(file.info("embedding.weight")?.shape == [trainer.model.config.vocabSize, 8])
    #expect(file.info("head.weight")?.shape == [trainer.model.config.vocabSize, H])
    #expect(file.info("state.h")?.shape == [2, 4, H])
    #expect(file.metadata["format_version"] == "1")
  }

  @Test func mismatchedAndForeignFilesAreRejectedCleanly() throws {
    let dir = TempDir()
    defer { dir.cleanup() }
    let path = dir.file("c.safetensors")
    _ = try trained(steps: 3, path: path)
    let original = try SafeTensorsFile.load(contentsOf: path)
    func rewrite(_ edit: (inout [String: String]) -> Void) throws -> String {
      try rewritingMetadata(of: original, in: dir, edit)
    }
    let cases: [(String, String)] = [
      (try rewrite { $0["format_version"] = "99" }, "format version 99"),
      (try rewrite { $0["format"] = nil }, "not a charlstm checkpoint"),
      (try rewrite { $0["model"] = $0["model"]!.replacingOccurrences(of: "\"hiddenSize\":24", with: "\"hiddenSize\":25") }, "lstm"),
      (try rewrite { $0["tokenizer"] = "{" }, "malformed"),
      (try rewrite { $0["state"] = nil }, "missing"),
    ]
    for (file, needle) in cases {
      do {
        _ = try Checkpoint.load(from: file)
        Issue.record("\(needle): loaded")
      } catch {
        #expect(error.description.contains(needle), "\(error.description)")
        #expect(!error.description.contains("\n"))
      }
    }
  }

  /// The metadata fields that hold JSON (model, tokenizer, training, …) follow the header's
  /// strict rules: a repeated key, of which JSONDecoder alone silently keeps one (the first, on
  /// Linux), is refused by name, at any depth.
  @Test func duplicateKeysInNestedMetadataAreRefused() throws {
    let dir = TempDir()
    defer { dir.cleanup() }
    let path = dir.file("c.safetensors")
    _ = try trained(steps: 3, path: path)
    let original = try SafeTensorsFile.load(contentsOf: path)
    func rewrite(_ key: String, _ of: String, _ with: String) throws -> String {
      try rewritingMetadata(of: original, in: dir) { meta in
        let edited = meta[key]!.replacingOccurrences(of: of, with: with)
        #expect(edited != meta[key], "\(of) not found in \(key)")
        meta[key] = edited
      }
    }
    // One of the two values is the true one: a decoder that keeps it would load the file.
    let cases: [(file: String, field: String, key: String)] = [
      (try rewrite("model", "\"hiddenSize\":24", "\"hiddenSize\":25,\"hiddenSize\":24"), "model", "hiddenSize"),
      (try rewrite("training", "\"batch\":4", "\"batch\":8,\"batch\":4"), "training", "batch"),
      (try rewrite("tokenizer", "\"minCount\":1", "\"minCount\":2,\"minCount\":1"), "tokenizer", "minCount"),
    ]
    for c in cases {
      do {
        _ = try Checkpoint.load(from: c.file)
        Issue.record("a duplicate \(c.key) in \(c.field) was accepted")
      } catch {
        #expect(error.description.contains("metadata field '\(c.field)' is malformed: duplicate key '\(c.key)'"), "\(error.description)")
      }
    }
    #expect(throws: Never.self) { try Checkpoint.load(from: try rewrite("model", "\"hiddenSize\":24", "\"hiddenSize\" : 24")) }
  }

  @Test func sameSeedSameTextAndTemperatureZeroIsArgmax() throws {
    let dir = TempDir()
    defer { dir.cleanup() }
    let (trainer, _) = try trained(steps: 60, path: dir.file("s.safetensors"))
    let sampler = Sampler(model: trainer.model, tokenizer: trainer.tokenizer)
    let prompt = try trainer.tokenizer.encode("the ")
    let a = sampler.generate(prompt: prompt, options: SamplingOptions(temperature: 0.9, length: 80, seed: 5))
    let b = sampler.generate(prompt: prompt, options: SamplingOptions(temperature: 0.9, length: 80, seed: 5))
    let c = sampler.generate(prompt: prompt, options: SamplingOptions(temperature: 0.9, length: 80, seed: 6))
    #expect(a == b)
    #expect(a != c)
    // Greedy decoding equals the argmax of the model's own logits, step by step.
    let greedy = sampler.generate(prompt: prompt, options: SamplingOptions(temperature: 0, length: 20))[0]
    var state = LSTMState<Float>.zeros(for: trainer.model.config, batch: 1)
    var logits = [Float](repeating: 0, count: trainer.model.config.vocabSize)
    var expected: [Int32] = []
    var current = prompt
    for _ in 0..<20 {
      for id in current {
        [id].withUnsafeBufferPointer { t in logits.withUnsafeMutableBufferPointer { trainer.model.step(tokens: t, state: &state, logits: $0) } }
      }
      let next = Int32(logits.indices.max { logits[$0] < logits[$1] || (logits[$0] == logits[$1] && $0 > $1) }!)
      expected.append(next)
      current = [next]
    }
    #expect(greedy == expected)
    // Parallel streams: stream 0 of a count-3 run equals a count-1 run with the same seed only
    // when the draws are shared; here we check shapes and that every id is in range.
    let many = sampler.generate(prompt: prompt, options: SamplingOptions(length: 30, count: 3, seed: 1))
    #expect(many.count == 3 && many.allSatisfy { $0.count == 30 })
    #expect(many.joined().allSatisfy { $0 >= 0 && Int($0) < trainer.model.config.vocabSize })
  }

  @Test func topKOneIsGreedyAndTopPKeepsTheNucleus() throws {
    let dir = TempDir()
    defer { dir.cleanup() }
    let (trainer, _) = try trained(steps: 20, path: dir.file("k.safetensors"))
    let sampler = Sampler(model: trainer.model, tokenizer: trainer.tokenizer)
    let prompt = try trainer.tokenizer.encode("we ")
    let greedy = sampler.generate(prompt: prompt, options: SamplingOptions(temperature: 0, length: 40))
    let topK1 = sampler.generate(prompt: prompt, options: SamplingOptions(temperature: 1.5, topK: 1, length: 40, seed: 9))
    let topPTiny = sampler.generate(prompt: prompt, options: SamplingOptions(temperature: 1.5, topP: 1e-9, length: 40, seed: 3))
    #expect(topK1 == greedy)
    #expect(topPTiny == greedy)
  }

  @Test(arguments: [("lstm.weight_hh_l1", Float.nan), ("head.bias", Float.infinity), ("optimizer.second.embedding.weight", -Float.infinity), ("state.c", Float.nan)])
  func nonFiniteTensorsAreRefusedOnLoadByName(tensor: String, value: Float) throws {
    let dir = TempDir()
    defer { dir.cleanup() }
    let path = dir.file("c.safetensors")
    let (trainer, _) = try trained(steps: 3, path: path)
    var ckpt = trainer.checkpoint()
    let slot = ckpt.model.slots.first { tensor.hasSuffix($0.name) }
    switch tensor {
    case "state.c": ckpt.hidden!.c[1] = value
    case _ where tensor.hasPrefix("optimizer.second."): ckpt.optimizer!.second[slot!.range.lowerBound + 2] = value
    default: ckpt.parameters[slot!.range.lowerBound + 2] = value
    }
    // write() refuses to save it at all …
    let bad = dir.file("bad.safetensors")
    #expect(throws: CheckpointError.self) { try ckpt.write(to: bad) }
    #expect(!FileManager.default.fileExists(atPath: bad))
    // … and a file that holds it anyway (written by another tool) is refused on load.
    try ckpt.serialized().write(to: bad)
    do {
      _ = try Checkpoint.load(from: bad)
      Issue.record("a non-finite \(tensor) must be refused")
    } catch {
      guard case .nonFinite(_, let name, let index) = error else { Issue.record("wrong error \(error)"); return }
      #expect(name == tensor)
      #expect(index == (tensor == "state.c" ? 1 : 2))
      #expect(error.description.contains(tensor))
    }
  }

  @Test func vocabularyEntriesMustBeOneCharacterWithACount() throws {
    let dir = TempDir()
    defer { dir.cleanup() }
    let path = dir.file("c.safetensors")
    let (trainer, _) = try trained(steps: 2, path: path)
    let good = try SafeTensorsFile.load(contentsOf: path)
    for (what, edit) in [("negative count", { (t: inout [String: Any]) in var c = t["counts"] as! [Int]; c[3] = -1; t["counts"] = c }),
                         ("two characters", { (t: inout [String: Any]) in var s = t["symbols"] as! [String]; s[3] = "ab"; t["symbols"] = s })] {
      var meta = good.metadata
      var tok = try JSONSerialization.jsonObject(with: Data(meta["tokenizer"]!.utf8)) as! [String: Any]
      edit(&tok)
      meta["tokenizer"] = String(decoding: try JSONSerialization.data(withJSONObject: tok), as: UTF8.self)
      var w = try trainer.checkpoint().serialized()
      w.metadata = meta
      let bad = dir.file("bad.safetensors")
      try w.write(to: bad)
      #expect(throws: CheckpointError.self, "\(what)") { try Checkpoint.load(from: bad) }
    }
  }

  @Test func theUnknownSymbolMayBeTypedInAPrompt() throws {
    let dir = TempDir()
    defer { dir.cleanup() }
    let path = dir.file("t.txt")
    _ = FileManager.default.createFile(atPath: path, contents: Data((smallText + "ζ").utf8))
    var options = TokenizerOptions()
    options.minCount = 2
    let corpus = try CorpusLoader.load(path: path, options: options)
    let u = try #require(corpus.tokenizer.vocabulary.unknownIndex)
    #expect(try corpus.tokenizer.encode("t\u{FFFD}e") == [corpus.tokenizer.encode("t")[0], Int32(u), corpus.tokenizer.encode("e")[0]])
    #expect(throws: TextError.self) { try corpus.tokenizer.encode("ζ") }
  }
}
