import CharLSTMKit
import Foundation
import Testing

/// Fine-tuning from a checkpoint, and training on documents.
@Suite(.serialized) struct FineTuningTests {
  init() { Kernels.setThreads(1) }

  /// A corpus written to a file and read (documents: as given).
  private func corpus(_ dir: TempDir, _ name: String, _ text: String, options: TokenizerOptions = TokenizerOptions(), documents: DocumentMode = .stream) throws -> Corpus {
    let path = dir.file(name)
    _ = FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
    return try CorpusLoader.load(path: path, options: options, documents: documents)
  }

  /// A parent run on `smallText`, saved at `path`.
  private func parent(steps: Int, path: String) throws -> Checkpoint {
    let (tok, ids) = try smallCorpus()
    var (m, t) = tinyConfigs(vocab: tok.vocabulary.count, steps: steps)
    t.learningRate = 1e-2
    let cut = ids.count - ids.count / 10
    let trainer = try Trainer(
      model: m, config: t, tokenizer: tok, training: ids[..<cut], validation: ids[cut...],
      corpus: CorpusInfo(path: "small", include: nil, bytes: ids.count, tokens: ids), checkpointPath: path)
    try trainer.run()
    return try Checkpoint.load(from: path)
  }

  /// New text in the parent's style with characters it lacks.
  private let newText: String = {
    var s = ""
    let lines = ["the cat sat on the mat.\n", "we see the sea.\n", "the ÿak ate the zebra.\n", "a dog ate the bone!\n"]
    for i in 0..<80 { s += lines[i % lines.count] }
    return s
  }()

  @Test func vocabularyGrowthKeepsOldRowsBitForBitAtStepZero() throws {
    let dir = TempDir()
    defer { dir.cleanup() }
    let parentPath = dir.file("parent.safetensors")
    let p = try parent(steps: 20, path: parentPath)
    let text = try corpus(dir, "new.txt", newText)
    let plan = try FineTuning(parent: p, path: parentPath, corpus: text, seed: 7)
    let V = p.model.vocabSize
    let grown = plan.model.config
    #expect(Array(plan.addedSymbols) == ["k", "z", "ÿ"], "new characters, in code-point order")
    #expect(grown.vocabSize == V + 3 && plan.origin.addedSymbols == 3 && plan.origin.vocabularySize == V)
    #expect(grown.embedSize == p.model.embedSize && grown.hiddenSize == p.model.hiddenSize && grown.layers == p.model.layers)
    #expect(plan.origin.weightsHash == p.weightsHash && plan.origin.step == 20)
    // Every old value, bit for bit.
    let old = p.makeModel()
    for slot in old.slots {
      let new = try #require(plan.model.slot(named: slot.name))
      let a = Array(old.parameters[slot.range])
      let b = Array(plan.model.parameters[new.offset..<(new.offset + slot.count)])
      #expect(firstBitDifference(a, b) == nil, "\(slot.name): old rows changed")
    }
    // New rows: those of a fresh model of the grown shape with the run's seed.
    var g = SeededGenerator(seed: 7)
    let fresh = CharModel<Float>(config: grown, generator: &g)
    for name in ["embedding.weight", "head.weight", "head.bias"] {
      let s = try #require(fresh.slot(named: name))
      let rowWidth = s.count / grown.vocabSize
      let newRows = (s.offset + V * rowWidth)..<(s.offset + s.count)
      #expect(firstBitDifference(Array(fresh.parameters[newRows]), Array(plan.model.parameters[newRows])) == nil, "\(name): new rows")
    }
    // The trainer at step 0 holds exactly these weights and saves them with the origin.
    let (train, val) = try plan.corpus.split(validationFraction: 0.1)
    var (_, config) = tinyConfigs(vocab: grown.vocabSize, steps: 1)
    config.seed = 7
    let out = dir.file("child.safetensors")
    let trainer = try Trainer(
      startingFrom: plan.model, config: config, tokenizer: plan.corpus.tokenizer, training: train, validation: val,
      corpus: nil, checkpointPath: out, origin: plan.origin)
    #expect(trainer.state.step == 0 && trainer.optimizer.step == 0)
    #expect(trainer.checkpoint().weightsHash == CheckpointOrigin.weightsHash(plan.model.parameters))
    try trainer.run()
    let child = try Checkpoint.load(from: out)
    #expect(child.origin == plan.origin)
    #expect(Array(child.tokenizer.vocabulary.symbols.prefix(V)) == p.tokenizer.vocabulary.symbols)
  }

  @Test func aMismatchedModelIsRefused() throws {
    let (tok, ids) = try smallCorpus()
    let (m, t) = tinyConfigs(vocab: tok.vocabulary.count + 1, steps: 1)
    var g = SeededGenerator(seed: 1)
    #expect(throws: TrainingError.self) {
      try Trainer(startingFrom: CharModel<Float>(config: m, generator: &g), config: t, tokenizer: tok, training: ids[...], validation: [], corpus: nil, checkpointPath: nil)
    }
  }

  /// The point of fine-tuning: starting from a model that already knows the style beats a
  /// fresh one given the same steps on the new text (same shape, seed, data and schedule).
  @Test func aFineTunedModelBeatsAFreshOneAfterTheSameFewSteps() throws {
    let dir = TempDir()
    defer { dir.cleanup() }
    let parentPath = dir.file("parent.safetensors")
    let p = try parent(steps: 150, path: parentPath)
    let text = try corpus(dir, "new.txt", newText)
    let plan = try FineTuning(parent: p, path: parentPath, corpus: text, seed: 3)
    let (train, val) = try plan.corpus.split(validationFraction: 0.1)
    var (shape, config) = tinyConfigs(vocab: plan.model.config.vocabSize, steps: 15)
    config.learningRate = 1e-2
    config.seed = 3
    config.evalEvery = 15
    func finalValidation(_ t: Trainer) throws -> Double {
      var last = Double.nan
      try t.run { e in if case .validation(_, let l, _, _, _) = e { last = l } }
      return last
    }
    let tuned = try finalValidation(Trainer(
      startingFrom: plan.model, config: config, tokenizer: plan.corpus.tokenizer, training: train, validation: val,
      corpus: nil, checkpointPath: nil, origin: plan.origin))
    shape.vocabSize = plan.model.config.vocabSize
    let fresh = try finalValidation(Trainer(
      model: shape, config: config, tokenizer: plan.corpus.tokenizer, training: train, validation: val, corpus: nil, checkpointPath: nil))
    #expect(tuned < fresh - 0.3, "fine-tuned \(tuned) vs fresh \(fresh) nats/char after 15 steps")
  }

  /// A fine-tuned run resumes bit for bit and keeps its origin.
  @Test func aFineTunedRunResumesExactly() throws {
    let dir = TempDir()
    defer { dir.cleanup() }
    let parentPath = dir.file("parent.safetensors")
    let p = try parent(steps: 10, path: parentPath)
    let text = try corpus(dir, "new.txt", newText, documents: .lines)
    let plan = try FineTuning(parent: p, path: parentPath, corpus: text, dropout: 0.2, seed: 5)
    #expect(plan.model.config.dropout == 0.2)
    #expect(plan.addedSymbols.contains(Vocabulary.endOfTextSymbol), "a stream parent gains the end-of-text symbol")
    let (train, val) = try plan.corpus.split(validationFraction: 0.1)
    var (_, config) = tinyConfigs(vocab: plan.model.config.vocabSize, steps: 24)
    config.seed = 5
    let info = CorpusInfo(path: dir.file("new.txt"), include: nil, bytes: text.byteCount, tokens: plan.corpus.tokens, documents: .lines)
    func start(steps: Int, path: String?) throws -> Trainer {
      var c = config
      c.steps = steps
      let q = try FineTuning(parent: p, path: parentPath, corpus: text, dropout: 0.2, seed: 5)
      return try Trainer(startingFrom: q.model, config: c, tokenizer: q.corpus.tokenizer, training: train, validation: val, corpus: info, checkpointPath: path, origin: q.origin)
    }
    let whole = try start(steps: 24, path: nil)
    try whole.run()
    let path = dir.file("child.safetensors")
    try start(steps: 12, path: path).run()
    let ckpt = try Checkpoint.load(from: path)
    #expect(ckpt.origin == plan.origin && ckpt.corpus?.documents == .lines)
    // The resume reads the corpus as the CLI does: with the saved tokenizer and mode.
    let (tokens, _) = try CorpusLoader.encode(path: dir.file("new.txt"), with: ckpt.tokenizer, documents: .lines, unknown: .mapToUnknown)
    #expect(CorpusInfo.fingerprint(tokens) == info.fingerprint)
    let (t2, v2) = try Corpus.split(tokens, validationFraction: 0.1, documentEnd: ckpt.tokenizer.endOfTextID)
    var c = try #require(ckpt.training)
    c.steps = 24
    let resumed = try Trainer(resuming: ckpt, config: c, training: t2, validation: v2, checkpointPath: path)
    #expect(resumed.origin == plan.origin)
    try resumed.run()
    #expect(firstBitDifference(whole.model.parameters, resumed.model.parameters) == nil)
    #expect(firstBitDifference(whole.optimizer.second, resumed.optimizer.second) == nil)
    #expect(try Checkpoint.load(from: path).origin == plan.origin)
  }

  /// A model trained on one word per line learns where a word ends: after the end-of-text
  /// symbol it writes one of the words and then the symbol again.
  @Test func documentsEndWhereTheyShould() throws {
    let dir = TempDir()
    defer { dir.cleanup() }
    let words = ["cat", "dog", "emu", "fox"]
    var text = ""
    var g = SeededGenerator(seed: 9)
    for _ in 0..<300 { text += words[Int(g.next() % 4)] + "\n" }  // no order to learn
    let c = try corpus(dir, "words.txt", text, documents: .lines)
    let end = try #require(c.tokenizer.endOfTextID)
    #expect(c.documentCount == 300)
    let (train, val) = try c.split(validationFraction: 0.1)
    var (m, t) = tinyConfigs(vocab: c.tokenizer.vocabulary.count, steps: 120)
    t.learningRate = 2e-2
    let path = dir.file("w.safetensors")
    let trainer = try Trainer(
      model: m, config: t, tokenizer: c.tokenizer, training: train, validation: val,
      corpus: CorpusInfo(path: "words.txt", include: nil, bytes: c.byteCount, tokens: c.tokens, documents: .lines), checkpointPath: path)
    try trainer.run()
    let ckpt = try Checkpoint.load(from: path)
    #expect(ckpt.tokenizer.endOfTextID == end && ckpt.writtenFormatVersion == 2)
    #expect(try SafeTensorsFile.load(contentsOf: path).metadata["format_version"] == "2")
    let sampler = Sampler(model: ckpt.makeModel(), tokenizer: ckpt.tokenizer)
    for seed in UInt64(1)...5 {
      // One stream that runs on past the symbol (no end id in the request).
      let options = SamplingOptions(temperature: 0.7, length: 40, seed: seed)
      var ids: [Int32] = []
      sampler.run([TextRequest(prompt: [end], options: options)]) { _, e in if case .token(let id, _, _) = e { ids.append(id) } }
      // Generation proper ends a text at the symbol: the first text of that stream, finished "end".
      var text: [Int32] = []
      var finish: FinishReason?
      sampler.run([TextRequest(prompt: sampler.primer([]), options: options, endToken: sampler.endToken)]) { _, e in
        switch e {
        case .token(let id, _, _): text.append(id)
        case .finished(let f, _, _): finish = f
        }
      }
      #expect(finish == .end && text == Array(ids.prefix { $0 != end }), "seed \(seed)")
      #expect(sampler.generate(prompt: [], options: options)[0] == text)
      let docs = ids.split(separator: end, omittingEmptySubsequences: false).dropLast().map(ckpt.tokenizer.decode)
      // The first text starts from a zero state, which training rarely sees after the symbol
      // (the state is carried from the text before); it still ends. Every later one is a word.
      #expect(docs.count >= 8 && docs[0].count <= 4, "seed \(seed): \(docs)")
      #expect(docs.dropFirst().allSatisfy(words.contains), "seed \(seed): every text ends after its word: \(docs)")
    }
    // The trainer's sample shows one text per line, from a state that has seen a text.
    let lines = trainer.sample(length: 80, temperature: 0.5).split(separator: "\n").dropLast()
    #expect(lines.count >= 10 && lines.allSatisfy { words.contains(String($0)) }, "\(lines)")
  }

  /// A damaged end-of-text record, or one in a version-1 file, is refused with the reason.
  @Test func endOfTextRecordIsChecked() throws {
    let dir = TempDir()
    defer { dir.cleanup() }
    let c = try corpus(dir, "w.txt", "ab\ncd\n", documents: .lines)
    let model = ModelConfig(vocabSize: c.tokenizer.vocabulary.count, embedSize: 2, hiddenSize: 2, layers: 1)
    var g = SeededGenerator(seed: 1)
    let ckpt = Checkpoint(model: model, tokenizer: c.tokenizer, parameters: CharModel<Float>(config: model, generator: &g).parameters)
    let path = dir.file("c.safetensors")
    try ckpt.write(to: path)
    let original = try SafeTensorsFile.load(contentsOf: path)
    func rewrite(_ edit: (inout [String: String]) -> Void) throws -> String {
      try rewritingMetadata(of: original, in: dir, edit)
    }
    #expect(try Checkpoint.load(from: path).tokenizer.endOfTextID == 0)
    let cases = [
      (try rewrite { $0["format_version"] = "1" }, "cannot hold an end-of-text symbol"),
      (try rewrite { $0["tokenizer"] = $0["tokenizer"]!.replacingOccurrences(of: "\"endOfTextIndex\":0", with: "\"endOfTextIndex\":1") }, "end-of-text index 1"),
      (try rewrite { $0["tokenizer"] = $0["tokenizer"]!.replacingOccurrences(of: "\"endOfTextIndex\":0", with: "\"endOfTextIndex\":null") }, "is not one normalized character"),
    ]
    for (file, needle) in cases {
      #expect(throws: CheckpointError.self) { try Checkpoint.load(from: file) }
      do { _ = try Checkpoint.load(from: file) } catch {
        #expect(error.description.contains(needle), "\(error.description)")
      }
    }
  }
}
