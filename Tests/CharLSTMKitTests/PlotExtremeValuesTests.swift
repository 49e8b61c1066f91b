import CharLSTMKit
import Foundation
import Testing

/// A run log edited by hand or damaged can hold any number: reading refuses what is out of
/// range by file and line, and drawing never traps on what it accepts (or on any in-memory log).
@Suite struct PlotExtremeValuesTests {
  @Test func outOfRangeStepsAndTimesAreRefusedByFileAndLine() throws {
    let dir = TempDir()
    defer { dir.cleanup() }
    let good = "{\"type\":\"step\",\"step\":1,\"loss\":2,\"elapsed\":0.5}\n"
    let bad: [(String, String)] = [
      ("{\"type\":\"step\",\"step\":1e30,\"loss\":2}", "\"step\""), ("{\"type\":\"step\",\"step\":-1,\"loss\":2}", "\"step\""),
      ("{\"type\":\"step\",\"step\":2.5,\"loss\":2}", "\"step\""), ("{\"type\":\"step\",\"step\":1099511627777,\"loss\":2}", "\"step\""),
      ("{\"type\":\"validation\",\"step\":1e300,\"loss\":2}", "\"step\""),
      ("{\"type\":\"step\",\"step\":2,\"loss\":2,\"elapsed\":-1e300}", "\"elapsed\""),
      ("{\"type\":\"step\",\"step\":2,\"loss\":2,\"elapsed\":-0.5}", "\"elapsed\""),
      ("{\"type\":\"validation\",\"step\":2,\"loss\":2,\"elapsed\":1e300}", "\"elapsed\""),
    ]
    for (k, (line, field)) in bad.enumerated() {
      let path = dir.file("bad\(k).log.jsonl")
      _ = FileManager.default.createFile(atPath: path, contents: Data((good + line + "\n").utf8))
      do {
        _ = try RunLog.read(contentsOf: path)
        Issue.record("\(line) was accepted")
      } catch {
        #expect(error.description.hasPrefix("\(path) line 2: \(field)"), "\(error.description)")
        #expect(!error.description.contains("\n"))
      }
    }
    // The largest values in range are read as they are.
    let path = dir.file("edge.log.jsonl")
    let edge = good + "{\"type\":\"step\",\"step\":1099511627776,\"loss\":1e308,\"elapsed\":1e12}\n"
    _ = FileManager.default.createFile(atPath: path, contents: Data(edge.utf8))
    let log = try RunLog.read(contentsOf: path)
    #expect(log.steps.last?.step == 1 << 40 && log.steps.last?.elapsedSeconds == 1e12)
    let svg = LossPlot.svg([log])
    #expect(!svg.contains("nan") && !svg.contains("inf") && svg.hasSuffix("</svg>\n"))
  }

  @Test func anyInMemoryLogIsDrawnWithoutTrapping() {
    let extremes: [Double] = [0, -1, 1e-320, 1e308, -1e308, .greatestFiniteMagnitude, -.greatestFiniteMagnitude, .nan, .infinity, -.infinity, 9.3e18]
    let steps = [0, 1, Int.max, Int.min, 1 << 40]
    var runs: [RunLog] = []
    for (i, x) in extremes.enumerated() {
      let points = steps.map { RunLog.StepPoint(step: $0, elapsedSeconds: x, loss: extremes[(i + 3) % extremes.count]) }
      let validations = steps.map { RunLog.ValidationPoint(step: $0, elapsedSeconds: 1, loss: x) }
      runs.append(RunLog(name: "run \(i)", steps: points, validations: validations))
    }
    for width in [1100, 0, -5, 1e308, .nan, .infinity] as [Double] {
      for smoothing in [0, 0.9, 0.999] {
        let svg = LossPlot.svg(runs, options: LossPlot.Options(smoothing: smoothing, width: width))
        #expect(svg.hasSuffix("</svg>\n"))
        #expect(!svg.contains("nan") && !svg.contains("inf"), "width \(width), smoothing \(smoothing)")
      }
    }
  }

  @Test func ticksAndLabelsStayFiniteForAnyRange() {
    let xs: [Double] = [0, 1e-320, -1e-320, 1, 1e15, 1e300, 1.7e308, -1.7e308, .nan, .infinity, -.infinity]
    for lo in xs {
      for hi in xs {
        let ticks = LossPlot.niceTicks(lo, hi, count: 6)
        #expect(ticks.count >= 2 && ticks.count <= 103, "\(lo)…\(hi): \(ticks.count) ticks")
        #expect(ticks.allSatisfy { $0.isFinite }, "\(lo)…\(hi): \(ticks)")
        let labels = LossPlot.tickLabels(ticks)
        #expect(labels.count == ticks.count && labels.allSatisfy { !$0.isEmpty && $0.count < 40 }, "\(lo)…\(hi): \(labels)")
      }
    }
  }
}
