@testable import CharLSTMKit
import Foundation
import Testing

/// Run logs written and read through the library; the SVG renderer's pieces.
@Suite struct PlotTests {
  @Test func niceTicksCoverTheRangeWithRoundSteps() {
    #expect(LossPlot.niceTicks(0, 500, count: 6) == [0, 100, 200, 300, 400, 500])
    #expect(LossPlot.niceTicks(1.37, 4.19, count: 6) == [1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5])
    #expect(LossPlot.niceTicks(0, 23.4, count: 6) == [0, 5, 10, 15, 20, 25])
    let flat = LossPlot.niceTicks(2, 2)
    #expect(flat.first! <= 2 && flat.last! >= 2 && flat.count >= 2)
    #expect(LossPlot.tickLabels([0, 0.5, 1.0, 1.5]) == ["0.0", "0.5", "1.0", "1.5"])
    #expect(LossPlot.tickLabels([0, 0.25, 0.5]) == ["0.00", "0.25", "0.50"])
    #expect(LossPlot.tickLabels([0, 10000, 20000]) == ["0", "10k", "20k"])
    #expect(LossPlot.tickLabels([0, 200, 400]) == ["0", "200", "400"])
  }

  @Test func smoothingIsABiasCorrectedMovingAverage() {
    #expect(LossPlot.smoothed([3, 3, 3], weight: 0.9).allSatisfy { abs($0 - 3) < 1e-12 })
    #expect(LossPlot.smoothed([1, 2], weight: 0) == [1, 2])
    let s = LossPlot.smoothed([4, 2], weight: 0.5)  // (0.5·4·0.5 + 0.5·2) / 0.75
    #expect(abs(s[1] - (0.5 * 0.5 * 4 + 0.5 * 2) / 0.75) < 1e-12)
  }

  @Test func svgEscapesNamesAndDrawsEveryRun() {
    let a = RunLog(name: "a<b>&\"c\"", steps: (1...50).map { .init(step: $0, elapsedSeconds: Double($0) * 0.1, loss: 4 - Double($0) * 0.05) },
                   validations: [.init(step: 25, elapsedSeconds: 2.5, loss: 3), .init(step: 50, elapsedSeconds: 5, loss: 2)])
    let b = RunLog(name: "second", steps: (1...30).map { .init(step: $0, elapsedSeconds: Double($0) * 20, loss: 3) }, validations: [])
    let svg = LossPlot.svg([a, b])
    #expect(svg.contains("a&lt;b&gt;&amp;&quot;c&quot;"))
    #expect(svg.contains("second"))
    #expect(svg.contains("training time (min)"))  // 600 s reads better in minutes
    #expect(!svg.contains("nan") && !svg.contains("inf"))
    #expect(svg.contains(LossPlot.palette[0]) && svg.contains(LossPlot.palette[1]))
  }

  @Test func writerAndReaderRoundTripThroughATrainingRun() throws {
    let dir = TempDir()
    defer { dir.cleanup() }
    let (tokenizer, ids) = try smallCorpus()
    let (model, config) = tinyConfigs(vocab: tokenizer.vocabulary.count, steps: 12)
    let ckpt = dir.file("run.safetensors")
    #expect(RunLog.path(forCheckpoint: ckpt) == dir.file("run.log.jsonl"))
    let cut = ids.count - 200
    let trainer = try Trainer(model: model, config: config, tokenizer: tokenizer, training: ids[..<cut], validation: ids[cut...], corpus: nil, checkpointPath: ckpt)
    let log = try RunLogWriter(path: RunLog.path(forCheckpoint: ckpt), resumingAt: nil)
    log.start(trainer: trainer, resumedFrom: nil)
    let reason = try trainer.run { log.record($0) }
    log.end(reason: reason, trainer: trainer)

    let read = try RunLog.read(contentsOf: log.path)
    #expect(read.name == "run")
    #expect(read.steps.map(\.step) == Array(1...12))
    #expect(read.validations.map(\.step) == [10, 12])
    #expect(read.steps.allSatisfy { $0.learningRate == config.learningRate && $0.gradientNorm != nil && $0.charsPerSecond != nil })
    #expect(read.sessions == 1)
    // The line format: one JSON object per line, keys sorted (so every line of a type reads
    // the same), no spaces, paths with their slashes as written, non-finite numbers as null.
    let lines = try String(contentsOfFile: log.path, encoding: .utf8).split(separator: "\n").map(String.init)
    func keys(_ line: String) throws -> [String] {
      try line.matches(of: Regex(#"(?:^\{|,)"([a-z_]+)":"#)).map { String($0.output[1].substring!) }
    }
    func line(_ type: String) throws -> String { try #require(lines.first { $0.contains("\"type\":\"\(type)\"") }, "no \(type) line") }
    let start = try line("start")
    #expect(start.hasPrefix("{\"checkpoint\":\"\(ckpt)\",") && start.contains(",\"model\":{") && start.contains(",\"training\":{"), "\(start)")
    #expect(try keys(line("step")) == ["chars_per_s", "elapsed", "epoch", "grad_norm", "loss", "lr", "ms", "step", "time", "type"])
    #expect(try keys(line("validation")) == ["best", "bpc", "elapsed", "improved", "loss", "step", "time", "type"])
    #expect(try keys(line("checkpoint")) == ["best", "elapsed", "path", "step", "time", "type"])
    #expect(try keys(line("end")) == ["elapsed", "reason", "step", "time", "type"])
    #expect(try line("end").contains("\"reason\":\"completed\""))
    #expect(lines.allSatisfy { !$0.contains(" ") && $0.hasPrefix("{") && $0.hasSuffix("}") })
    // Non-finite numbers (a diverged step) are written as null, which the reader skips.
    var record = RunLogRecord(type: "step")
    record.loss = .nan
    record.gradNorm = .infinity
    let encoded = String(decoding: try RunLogWriter.encoder.encode(record), as: UTF8.self)
    #expect(encoded.contains("\"loss\":null") && encoded.contains("\"grad_norm\":null"), "\(encoded)")

    // Reopening for a resume at step 5 drops later lines.
    _ = try RunLogWriter(path: log.path, resumingAt: 5)
    let truncated = try RunLog.read(contentsOf: log.path)
    #expect(truncated.steps.map(\.step) == Array(1...5))
    #expect(truncated.validations.isEmpty)
  }

  @Test func readErrorsNameTheFileAndLine() throws {
    let dir = TempDir()
    defer { dir.cleanup() }
    #expect(throws: RunLogError.notFound(path: dir.file("x.log.jsonl"))) { try RunLog.read(contentsOf: dir.file("x.log.jsonl")) }
    let bad = dir.file("bad.log.jsonl")
    _ = FileManager.default.createFile(atPath: bad, contents: Data("{\"type\":\"step\",\"step\":1,\"loss\":2}\n[1]\n".utf8))
    do {
      _ = try RunLog.read(contentsOf: bad)
      Issue.record("read a malformed log")
    } catch {
      #expect(error.description.hasPrefix("\(bad) line 2:"))
    }
    // An unfinished last line (a crash mid-write) is not an error.
    let cut = dir.file("cut.log.jsonl")
    _ = FileManager.default.createFile(atPath: cut, contents: Data("{\"type\":\"step\",\"step\":1,\"loss\":2}\n{\"type\":\"st".utf8))
    #expect(try RunLog.read(contentsOf: cut).steps.count == 1)
  }
}
