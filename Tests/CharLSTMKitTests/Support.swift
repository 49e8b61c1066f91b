import CharLSTMKit
import Foundation
import Testing

/// A fresh temporary directory for one test.
struct TempDir {
  let path: String
  init() {
    path = NSTemporaryDirectory() + "charlstm-kit-" + UUID().uuidString
    try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
  }
  func file(_ name: String) -> String { path + "/" + name }
  func cleanup() { try? FileManager.default.removeItem(atPath: path) }
}

/// A small corpus with structure a tiny model can learn quickly.
let smallText: String = {
  var s = ""
  let lines = ["the cat sat on the mat.\n", "a dog ate the bone!\n", "to be or not to be?\n", "we see the sea.\n"]
  for i in 0..<120 { s += lines[i % lines.count] }
  return s
}()

/// A tokenizer and ids for `smallText`.
func smallCorpus() throws -> (Tokenizer, TokenIDs) {
  let dir = TempDir()
  defer { dir.cleanup() }
  let path = dir.file("small.txt")
  _ = FileManager.default.createFile(atPath: path, contents: Data(smallText.utf8))
  let corpus = try CorpusLoader.load(path: path)
  return (corpus.tokenizer, corpus.tokens)
}

/// A tiny training setup: 2 layers of 24, B 4 × T 16.
func tinyConfigs(vocab: Int, steps: Int, dropout: Double = 0) -> (ModelConfig, TrainingConfig) {
  let model = ModelConfig(vocabSize: vocab, embedSize: 8, hiddenSize: 24, layers: 2, dropout: dropout)
  var t = TrainingConfig()
  t.batch = 4
  t.seqLength = 16
  t.steps = steps
  t.evalEvery = 10
  t.checkpointEvery = 0
  t.seed = 42
  return (model, t)
}

/// The first index where two float arrays differ bit for bit, if any.
func firstBitDifference(_ a: [Float], _ b: [Float]) -> Int? {
  if a.count != b.count { return min(a.count, b.count) }
  return a.indices.first { a[$0].bitPattern != b[$0].bitPattern }
}

/// A copy of the SafeTensors file `original` in `dir`, tensors unchanged, its metadata edited
/// by `edit`; returns the copy's path.
func rewritingMetadata(of original: SafeTensorsFile, in dir: TempDir, _ edit: (inout [String: String]) -> Void) throws -> String {
  var meta = original.metadata
  edit(&meta)
  var w = SafeTensorsWriter(metadata: meta)
  for name in original.tensorNames {
    let info = original.info(name)!
    w.add(name, dtype: info.dtype, shape: info.shape, bytes: try original.rawBytes(name))
  }
  let out = dir.file(UUID().uuidString + ".safetensors")
  try w.write(to: out)
  return out
}

/// A new run of `tinyConfigs` (learning rate 1e-2) on `smallCorpus()` with its last tenth held
/// out, its configuration adjusted by `configure`; the corpus ids beside it.
func smallTrainer(
  steps: Int, dropout: Double, path: String? = nil, configure: (inout TrainingConfig) -> Void = { _ in }
) throws -> (Trainer, TokenIDs) {
  let (tok, ids) = try smallCorpus()
  var (m, t) = tinyConfigs(vocab: tok.vocabulary.count, steps: steps, dropout: dropout)
  t.learningRate = 1e-2
  configure(&t)
  let cut = ids.count - ids.count / 10
  let trainer = try Trainer(
    model: m, config: t, tokenizer: tok, training: ids[..<cut], validation: ids[cut...],
    corpus: CorpusInfo(path: "small", include: nil, bytes: ids.count, tokens: ids), checkpointPath: path)
  return (trainer, ids)
}

/// The run saved at `path`, loaded and resumed with its own configuration to `steps` in total
/// (the corpus split 90/10 as the tests' trainers split `ids`), and the checkpoint it resumed.
func resumedTrainer(from path: String, steps: Int, ids: TokenIDs) throws -> (Trainer, Checkpoint) {
  let ckpt = try Checkpoint.load(from: path)
  var config = try #require(ckpt.training)
  config.steps = steps
  let cut = ids.count - ids.count / 10
  let resumed = try Trainer(resuming: ckpt, config: config, training: ids[..<cut], validation: ids[cut...], checkpointPath: path)
  return (resumed, ckpt)
}

/// Records where `resumed` differs from `whole` in weights, Adam moments, carried state or best
/// validation loss: a resumed run must equal the uninterrupted one bit for bit.
func expectSameRun(_ whole: Trainer, _ resumed: Trainer, sourceLocation: SourceLocation = #_sourceLocation) {
  if let i = firstBitDifference(whole.model.parameters, resumed.model.parameters) {
    Issue.record("parameter \(i) differs: \(whole.model.parameters[i]) vs \(resumed.model.parameters[i])", sourceLocation: sourceLocation)
  }
  #expect(firstBitDifference(whole.optimizer.first, resumed.optimizer.first) == nil, sourceLocation: sourceLocation)
  #expect(firstBitDifference(whole.optimizer.second, resumed.optimizer.second) == nil, sourceLocation: sourceLocation)
  #expect(firstBitDifference(whole.hidden.h, resumed.hidden.h) == nil, sourceLocation: sourceLocation)
  #expect(whole.state.bestValidationLoss == resumed.state.bestValidationLoss, sourceLocation: sourceLocation)
  #expect((whole.averagedParameters == nil) == (resumed.averagedParameters == nil), sourceLocation: sourceLocation)
  if let a = whole.averagedParameters, let b = resumed.averagedParameters {
    #expect(firstBitDifference(a, b) == nil, "the weight averages differ", sourceLocation: sourceLocation)
  }
}
