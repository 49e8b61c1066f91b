import ArgumentParser
import CharLSTMKit
import Foundation

/// `charlstm inspect CKPT`: what a checkpoint holds.
struct InspectCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "inspect",
    abstract: "Show a checkpoint's model, vocabulary and training state.",
    discussion: "Example:\n  charlstm inspect checkpoints/tinyshakespeare.safetensors --json")

  @Argument(help: "A checkpoint written by 'charlstm train'.")
  var checkpoint: String

  @Flag(help: "Print one JSON object.")
  var json = false

  func run() throws {
    let ckpt = try Checkpoint.load(from: checkpoint)
    let m = ckpt.model
    let bytes = (try? FileManager.default.attributesOfItem(atPath: checkpoint)[.size] as? Int) ?? 0
    var object: [String: Any] = [
      "format_version": ckpt.writtenFormatVersion,
      "weights_hash": ckpt.weightsHash,
      "file_bytes": bytes,
      "model": ["vocab": m.vocabSize, "embed": m.embedSize, "hidden": m.hiddenSize, "layers": m.layers, "dropout": m.dropout],
      "parameters": m.parameterCount,
      "vocabulary_size": ckpt.tokenizer.vocabulary.count,
      "normalization": ckpt.tokenizer.options.normalization.rawValue,
      "lowercase": ckpt.tokenizer.options.lowercase,
    ]
    if let s = ckpt.state, let t = ckpt.training {
      object["step"] = s.step
      object["steps"] = t.steps
      object["epoch"] = s.epoch
      object["training_seconds"] = s.elapsedSeconds
      object["optimizer"] = t.optimizer.rawValue
      object["learning_rate"] = t.learningRate
      object["batch"] = t.batch
      object["seq"] = t.seqLength
      object["precision"] = (t.precision ?? .fp32).rawValue
      if let path = t.kernelPath { object["kernel_path"] = path }
      object["seed"] = t.seed
      object["dropout_kind"] = (t.dropoutKind ?? .standard).rawValue
      object["weight_drop"] = t.weightDrop ?? 0
      object["embed_dropout"] = t.embedDropout ?? 0
      object["weight_decay"] = t.weightDecay ?? 0
      object["state_reset"] = t.stateReset ?? 0
      object["ema"] = t.emaDecay ?? 0
      if let trained = ckpt.trainingParameters { object["trained_weights_hash"] = CheckpointOrigin.weightsHash(trained) }
      if let b = s.bestValidationLoss { object["best_validation_loss"] = b }
      if let b = s.bestStep { object["best_step"] = b }
      if let v = s.lastValidationLoss { object["last_validation_loss"] = v }
    }
    if let c = ckpt.corpus {
      object["corpus"] = ["path": c.path, "bytes": c.bytes, "characters": c.characters]
      object["documents"] = c.documents.rawValue
    }
    if let e = ckpt.tokenizer.endOfTextID { object["end_of_text_id"] = e }
    if let o = ckpt.origin {
      object["init_from"] = ["path": o.path, "step": o.step, "weights_hash": o.weightsHash, "vocabulary_size": o.vocabularySize, "added_symbols": o.addedSymbols]
    }
    if json {
      let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
      Output.write(String(decoding: data, as: UTF8.self) + "\n")
      return
    }
    var lines = [
      "checkpoint   \(checkpoint) (\(grouped(bytes)) bytes, format \(ckpt.writtenFormatVersion))",
      "model        \(m.layers)×\(m.hiddenSize) LSTM, embedding \(m.embedSize), dropout \(m.dropout)",
      "parameters   \(grouped(m.parameterCount))",
      "vocabulary   \(counted(ckpt.tokenizer.vocabulary.count, "character")) (\(ckpt.tokenizer.options.normalization.rawValue)\(ckpt.tokenizer.options.lowercase ? ", lowercased" : ""))",
    ]
    if let s = ckpt.state, let t = ckpt.training {
      lines.append("step         \(s.step) of \(t.steps), epoch \(s.epoch), \(formatDuration(s.elapsedSeconds)) of training")
      lines.append("training     \(t.optimizer.rawValue) lr \(t.learningRate), B \(t.batch) × T \(t.seqLength), seed \(t.seed)")
      lines.append("numerics     \((t.precision ?? .fp32).rawValue) products\(t.kernelPath.map { " on the \($0) kernels" } ?? "")")
      if let r = regularizationSummary(t, model: m) { lines.append("regularized  \(r)") }
      if let b = s.bestValidationLoss, let st = s.bestStep {
        lines.append(String(format: "best val     %.4f nats/char (%.3f bits/char) at step %d", b, b / log(2), st))
      }
    } else {
      lines.append("weights only (no training state)")
    }
    if let c = ckpt.corpus { lines.append("corpus       \(c.path) (\(counted(c.characters, "character")))") }
    if let c = ckpt.corpus, c.documents != .stream {
      lines.append("documents    \(c.documents.rawValue): each text ends with the end-of-text symbol (id \(ckpt.tokenizer.endOfTextID ?? -1))")
    }
    if let o = ckpt.origin {
      lines.append("init from    \(o.path) (step \(o.step), weights \(o.weightsHash), vocabulary \(o.vocabularySize) + \(o.addedSymbols) new)")
    }
    lines.append("weights      \(ckpt.weightsHash)")
    if let trained = ckpt.trainingParameters {
      lines.append("trained      \(CheckpointOrigin.weightsHash(trained)) (the weights the run trains; the model's are their moving average)")
    }
    Output.write(lines.joined(separator: "\n") + "\n")
  }
}
