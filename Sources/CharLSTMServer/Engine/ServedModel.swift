import CharLSTMKit
import Foundation

/// A checkpoint loaded for serving: its id, tokenizer, weights and the ids that start and end
/// a text, exactly as `charlstm generate` uses them.
public struct ServedModel: @unchecked Sendable {
  // @unchecked: `model` is a class, read-only after loading; only the generation thread
  // builds batches from it.

  /// The model's name in the API: the checkpoint's file name without its extension.
  public let id: String
  /// The checkpoint file.
  public let path: String
  public let config: ModelConfig
  public let tokenizer: Tokenizer
  let model: CharModel<Float>
  /// The id an empty prompt starts from (``Sampler/defaultStartToken``, as `generate`).
  public let startToken: Int32
  /// The end-of-text id that ends a text with finish_reason `stop`, or nil: the one
  /// `charlstm generate` uses (``Sampler/endToken``).
  public let endToken: Int32?
  /// The checkpoint file's modification time (Unix seconds), OpenAI's `created`.
  public let created: Int

  /// Loads `path`.
  /// - Throws: ``CheckpointError`` naming the file.
  public static func load(path: String) throws(CheckpointError) -> ServedModel {
    let ckpt = try Checkpoint.load(from: path)
    return ServedModel(path: path, checkpoint: ckpt)
  }

  /// A served model from an already loaded checkpoint at `path`.
  public init(path: String, checkpoint: Checkpoint) {
    self.path = path
    id = Self.id(path: path)
    config = checkpoint.model
    tokenizer = checkpoint.tokenizer
    model = checkpoint.makeModel()
    let sampler = Sampler(model: model, tokenizer: tokenizer)
    startToken = sampler.defaultStartToken
    endToken = sampler.endToken
    let mtime = (try? FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date) ?? nil
    created = Int((mtime ?? Date()).timeIntervalSince1970)
  }

  /// The API id of a checkpoint: `checkpoints/shakespeare.best.safetensors` → `shakespeare.best`.
  public static func id(path: String) -> String {
    let name = URL(fileURLWithPath: path).lastPathComponent
    let ext = URL(fileURLWithPath: name).pathExtension
    return ext.isEmpty ? name : String(name.dropLast(ext.count + 1))
  }
}
