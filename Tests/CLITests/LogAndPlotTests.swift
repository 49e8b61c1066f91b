import Foundation
import Testing

#if canImport(FoundationXML)
  import FoundationXML
#endif

/// Every run writes a JSON-lines log beside its checkpoint; `charlstm plot` draws logs as SVG.
@Suite(.serialized) struct LogAndPlotTests {
  private func corpus(_ dir: Scratch) -> String {
    var text = ""
    for i in 0..<200 { text += ["to be or not to be\n", "that is the question\n"][i % 2] }
    return dir.write("play.txt", Array(text.utf8))
  }

  private func records(_ path: String) throws -> [[String: Any]] {
    let text = try String(contentsOfFile: path, encoding: .utf8)
    #expect(text.hasSuffix("\n"))
    return try text.split(separator: "\n").map { line in
      try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "not a JSON object: \(line)")
    }
  }

  @Test func logIsWrittenAndAResumeAfterACrashKeepsOneContinuousHistory() throws {
    let dir = Scratch()
    defer { dir.cleanup() }
    let text = corpus(dir)
    let ckpt = dir.path + "/play.safetensors"
    let log = dir.path + "/play.log.jsonl"
    let train = try CLI.run(["train", text, "--out", ckpt, "--steps", "20", "--eval-every", "10", "--checkpoint-every", "10", "--sample-length", "0", "--quiet"] + TrainCLITests.tiny)
    #expect(train.status == 0, "\(train.stderr)")
    var lines = try records(log)
    #expect(lines.first?["type"] as? String == "start")
    #expect((lines.first?["model"] as? [String: Any])?["hiddenSize"] as? Int == 16)
    #expect((lines.first?["training"] as? [String: Any])?["steps"] as? Int == 20)
    let steps = lines.filter { $0["type"] as? String == "step" }
    #expect(steps.map { $0["step"] as? Int } == Array(1...20))
    for s in steps {
      for key in ["loss", "lr", "grad_norm", "chars_per_s", "elapsed"] { #expect(s[key] is NSNumber, "step line lacks \(key)") }
      #expect((s["time"] as? String)?.hasSuffix("Z") == true)
    }
    #expect(lines.filter { $0["type"] as? String == "validation" }.map { $0["step"] as? Int } == [10, 20])
    #expect(lines.contains { $0["type"] as? String == "checkpoint" && $0["step"] as? Int == 20 })
    #expect(lines.last?["type"] as? String == "end")

    // A crash after step 20's checkpoint: lines for steps 21–23 and half a line were written.
    let handle = try #require(FileHandle(forWritingAtPath: log))
    handle.seekToEndOfFile()
    for s in 21...23 { handle.write(Data("{\"type\":\"step\",\"step\":\(s),\"loss\":9,\"elapsed\":99}\n".utf8)) }
    handle.write(Data("{\"type\":\"step\",\"st".utf8))
    handle.closeFile()

    let resumed = try CLI.run(["train", "--resume", ckpt, "--steps", "30", "--sample-length", "0", "--quiet", "--threads", "1"])
    #expect(resumed.status == 0, "\(resumed.stderr)")
    lines = try records(log)
    #expect(lines.filter { $0["type"] as? String == "step" }.map { $0["step"] as? Int } == Array(1...30))
    let sessions: [String] = lines.compactMap { $0["type"] as? String }.filter { $0 == "start" || $0 == "resume" }
    #expect(sessions == ["start", "resume"])
    #expect(!lines.contains { ($0["loss"] as? Double) == 9.0 })
    let elapsed = lines.filter { $0["type"] as? String == "step" }.compactMap { $0["elapsed"] as? Double }
    #expect(elapsed == elapsed.sorted())  // training time continues across the resume
  }

  @Test func plotDrawsAWellFormedSVGWithLegendAndAxes() throws {
    let dir = Scratch()
    defer { dir.cleanup() }
    let text = corpus(dir)
    for (name, hidden) in [("narrow", "8"), ("wide", "16")] {
      var args = TrainCLITests.tiny
      args[args.firstIndex(of: "--hidden")! + 1] = hidden
      let r = try CLI.run(["train", text, "--out", dir.path + "/\(name).safetensors", "--steps", "12", "--eval-every", "4", "--sample-length", "0", "--quiet"] + args)
      #expect(r.status == 0, "\(r.stderr)")
    }
    let svgPath = dir.path + "/figs/curves.svg"
    let plot = try CLI.run(["plot", dir.path + "/narrow.log.jsonl", dir.path + "/wide.safetensors", "--out", svgPath])
    #expect(plot.status == 0, "\(plot.stderr)")
    #expect(plot.stderr.contains("curves.svg"))
    let svg = try String(contentsOfFile: svgPath, encoding: .utf8)
    // The figure announces its maker first (so a later plot may replace it), then the SVG.
    #expect(svg.hasPrefix("<!-- charlstm plot -->\n<svg xmlns=\"http://www.w3.org/2000/svg\""))
    for needle in ["narrow", "wide", "optimizer step", "training time (s)", "loss (nats/char)", "validation loss", "EMA 0.9"] {
      #expect(svg.contains(needle), "SVG lacks \(needle)")
    }
    #expect(svg.components(separatedBy: "<polyline").count - 1 >= 2 * 2 * 3)  // 2 panels × 2 runs × raw, EMA, validation
    let parser = XMLParser(data: Data(svg.utf8))
    #expect(parser.parse(), "SVG is not well-formed XML: \(String(describing: parser.parserError))")
  }

  @Test func plotErrorsNameTheFileOnOneLine() throws {
    let dir = Scratch()
    defer { dir.cleanup() }
    let junk = dir.write("junk.log.jsonl", Array("hello\n".utf8))
    let noType = dir.write("notype.log.jsonl", Array("{\"step\":1}\n".utf8))
    let empty = dir.write("empty.log.jsonl", Array("{\"type\":\"start\",\"step\":0}\n".utf8))
    let cases: [(String, String)] = [
      (dir.path + "/missing.log.jsonl", "missing.log.jsonl"), (junk, "junk.log.jsonl line 1"),
      (noType, "notype.log.jsonl line 1"), (empty, "empty.log.jsonl"), (dir.path, dir.path),
    ]
    for (path, needle) in cases {
      let r = try CLI.run(["plot", path, "--out", dir.path + "/c.svg"])
      #expect(r.status != 0, "\(path) should fail")
      #expect(r.stderr.contains(needle), "\(path): \(r.stderr)")
      #expect(r.stderr.split(separator: "\n").count == 1, "not one line: \(r.stderr)")
    }
    let none = try CLI.run(["plot"])
    #expect(none.status != 0 && none.stderr.contains("log.jsonl"))
    #expect(!FileManager.default.fileExists(atPath: dir.path + "/c.svg"))
  }

  @Test func everyCommandsHelpHasAnExample() throws {
    for command in ["train", "generate", "eval", "inspect", "vocab", "plot"] {
      let r = try CLI.run([command, "--help"])
      #expect(r.status == 0)
      #expect(r.stdout.contains("charlstm \(command) "), "\(command) --help has no example")
    }
  }
}
