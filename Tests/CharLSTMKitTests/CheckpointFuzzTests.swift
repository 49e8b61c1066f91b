import CharLSTMKit
import Foundation
import Testing

/// Checkpoints are untrusted input: every mutation either loads as a consistent model or fails
/// with a clean error — never a crash, a hang or a huge allocation.
@Suite(.serialized) struct CheckpointFuzzTests {
  init() { Kernels.setThreads(1) }

  @Test func mutatedCheckpointsLoadConsistentlyOrFailCleanly() throws {
    let dir = TempDir()
    defer { dir.cleanup() }
    let (tok, ids) = try smallCorpus()
    let (m, t) = tinyConfigs(vocab: tok.vocabulary.count, steps: 3)
    let path = dir.file("f.safetensors")
    let cut = ids.count - ids.count / 10
    try Trainer(model: m, config: t, tokenizer: tok, training: ids[..<cut], validation: ids[cut...], corpus: nil, checkpointPath: path).run()
    let original = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    let headerLength = Int(original[0]) | Int(original[1]) << 8 | Int(original[2]) << 16
    var rng = SeededGenerator(seed: 2024)
    var accepted = 0
    var rejected = 0

    func attempt(_ bytes: [UInt8]) {
      do {
        let file = try SafeTensorsFile(bytes: bytes, path: "fuzz.safetensors")
        let ckpt = try Checkpoint.decode(file)
        // Consistent: sizes agree, and the model runs one step.
        #expect(ckpt.parameters.count == ckpt.model.parameterCount)
        #expect(ckpt.tokenizer.vocabulary.count == ckpt.model.vocabSize)
        let model = ckpt.makeModel()
        var state = LSTMState<Float>.zeros(for: ckpt.model, batch: 1)
        var logits = [Float](repeating: 0, count: ckpt.model.vocabSize)
        [Int32(0)].withUnsafeBufferPointer { x in logits.withUnsafeMutableBufferPointer { model.step(tokens: x, state: &state, logits: $0) } }
        accepted += 1
      } catch {
        #expect(!String(describing: error).isEmpty)
        rejected += 1
      }
    }

    // Truncation at many lengths.
    for len in stride(from: 0, to: original.count, by: max(1, original.count / 400)) { attempt(Array(original[..<len])) }
    // Random byte flips, anywhere and inside the header.
    for k in 0..<2500 {
      var b = original
      let flips = 1 + Int(rng.next() % 4)
      for _ in 0..<flips {
        let inHeader = k % 2 == 0
        let i = inHeader ? 8 + Int(rng.next() % UInt64(headerLength)) : Int(rng.next() % UInt64(b.count))
        b[i] = UInt8(truncatingIfNeeded: rng.next())
      }
      attempt(b)
    }
    // Edited header fields: numbers in the JSON made absurd, shapes swapped.
    let header = String(decoding: original[8..<(8 + headerLength)], as: UTF8.self)
    let numbers = try Regex("[0-9]+")
    let matches = header.matches(of: numbers)
    for k in 0..<1500 {
      let m = matches[Int(rng.next() % UInt64(matches.count))]
      let replacement = ["0", "1", "-1", "99999999999999999999", "4294967296", "65", "2", "1e9", "3"][k % 9]
      var edited = header
      edited.replaceSubrange(m.range, with: replacement)
      var bytes = Array(edited.utf8)
      while bytes.count % 8 != 0 { bytes.append(0x20) }
      var out: [UInt8] = []
      for s in 0..<8 { out.append(UInt8((bytes.count >> (8 * s)) & 0xFF)) }
      out += bytes + original[(8 + headerLength)...]
      attempt(out)
    }
    print("checkpoint fuzz: \(accepted + rejected) inputs, \(accepted) accepted, \(rejected) rejected")
    #expect(accepted > 0 && rejected > 0)
  }
}
