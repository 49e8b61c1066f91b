import Foundation
import Testing

/// `generate`'s features as a user meets them: stop texts, prompt files, JSON lines, output
/// files, beam search, the interactive loop (through a pseudo-terminal) and their bad inputs.
@Suite(.serialized) struct GenerateFeatureTests {
  /// A tiny model trained once for the whole suite.
  static let fixture: (dir: Scratch, ckpt: String) = {
    let dir = Scratch()
    var text = ""
    for i in 0..<200 { text += ["to be or not to be\n", "that is the question\n", "whether tis nobler\n"][i % 3] }
    let corpus = dir.write("play.txt", Array(text.utf8))
    let ckpt = dir.path + "/play.safetensors"
    let r = try! CLI.run(["train", corpus, "--out", ckpt, "--steps", "60", "--sample-length", "0"] + TrainCLITests.tiny)
    precondition(r.status == 0, r.stderr)
    return (dir, ckpt)
  }()

  static func generate(_ args: [String]) throws -> CLI.Result {
    try CLI.run(["generate", fixture.ckpt, "--threads", "1", "--temperature", "1.2"] + args)
  }

  static func jsonLines(_ s: String) throws -> [[String: Any]] {
    try s.split(separator: "\n").map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
  }

  /// The text with --stop is the free text (same seed) cut before the stop's first occurrence.
  @Test func stopCutsTheTextBeforeTheStop() throws {
    var cut = 0
    for seed in 1...8 {
      let free = try Self.generate(["--prompt", "to", "--length", "200", "--seed", "\(seed)", "--no-prompt"])
      let stopped = try Self.generate(["--prompt", "to", "--length", "200", "--seed", "\(seed)", "--no-prompt", "--stop", "be", "--stop", "\n"])
      #expect(free.status == 0 && stopped.status == 0, "\(stopped.stderr)")
      let text = String(free.stdout.dropLast())  // the final line break
      let first = [text.range(of: "be"), text.range(of: "\n")].compactMap { $0 }.min { $0.lowerBound < $1.lowerBound }
      if let f = first {
        cut += 1
        #expect(stopped.stdout == String(text[..<f.lowerBound]) + "\n", "seed \(seed)")
      } else {
        #expect(stopped.stdout == free.stdout)
      }
    }
    #expect(cut >= 6)
    let never = try Self.generate(["--length", "5", "--stop", "Ω"])
    #expect(never.status == 0 && never.stderr.contains("warning") && never.stderr.contains("can never match"))
  }

  /// A prompt file runs every prompt × --count in one batch; the texts come in input order and
  /// each equals the same prompt run alone (stream k of the seed for text k).
  @Test func promptFileTextsEqualTheirPromptsAlone() throws {
    let prompts = ["to be", "that", "", "whether tis", "t"]
    let file = Self.fixture.dir.write("prompts.txt", Array((prompts.joined(separator: "\n") + "\n").utf8))
    let batch = try Self.generate(["--prompt-file", file, "--count", "2", "--length", "30", "--json", "--seed", "5"])
    #expect(batch.status == 0, "\(batch.stderr)")
    let lines = try Self.jsonLines(batch.stdout)
    #expect(lines.count == prompts.count * 2)
    for (p, prompt) in prompts.enumerated() {
      let alone = try Self.jsonLines(try Self.generate(["--prompt", prompt, "--count", "2", "--length", "30", "--json", "--seed", "5"]).stdout)
      for k in 0..<2 {
        let line = lines[p * 2 + k]
        #expect(line["prompt"] as? String == prompt)
        #expect(line["text"] as? String == alone[k]["text"] as? String, "prompt \(p) text \(k)")
        #expect(line["logprob"] as? Double == alone[k]["logprob"] as? Double)
      }
    }
    // The first text of a prompt is the plain single-text output.
    let plain = try Self.generate(["--prompt", "whether tis", "--length", "30", "--seed", "5", "--no-prompt"])
    #expect(plain.stdout == (lines[6]["text"] as? String ?? "?") + "\n")
    // Plain output: each text under its header, with its prompt.
    let headed = try Self.generate(["--prompt-file", file, "--length", "10"])
    #expect(headed.stdout.hasPrefix("──── 1/5 ────\nto be") && headed.stdout.contains("──── 4/5 ────\nwhether tis"))
  }

  /// JSON lines carry every field; characters counts the text; a stop ends with "stop".
  @Test func jsonFields() throws {
    let r = try Self.generate(["--prompt", "to", "--length", "80", "--count", "6", "--json", "--stop", " "])
    let lines = try Self.jsonLines(r.stdout)
    #expect(lines.count == 6)
    for l in lines {
      #expect(Set(l.keys) == ["prompt", "text", "finish_reason", "characters", "logprob"])
      let text = try #require(l["text"] as? String)
      #expect(l["characters"] as? Int == text.count)
      #expect(!text.contains(" "))
      #expect(["stop", "length"].contains(l["finish_reason"] as? String))
      #expect((l["logprob"] as? Double ?? 1) < 0)
    }
    #expect(lines.contains { $0["finish_reason"] as? String == "stop" })
  }

  /// --output writes the file whole and nothing on standard output; an existing file needs
  /// --overwrite; a checkpoint, a run log, a directory or a device is refused.
  @Test func outputFileRules() throws {
    let dir = Scratch()
    defer { dir.cleanup() }
    let out = dir.path + "/texts.txt"
    let r = try Self.generate(["--length", "40", "--seed", "2", "--output", out])
    let printed = try Self.generate(["--length", "40", "--seed", "2"])
    #expect(r.status == 0 && r.stdout.isEmpty)
    #expect((try String(contentsOfFile: out, encoding: .utf8)) == printed.stdout)
    let again = try Self.generate(["--length", "40", "--output", out])
    #expect(again.status == 1 && again.stderr.contains("--overwrite"))
    let replaced = try Self.generate(["--length", "5", "--seed", "9", "--output", out, "--overwrite", "--json"])
    let replacedText = try String(contentsOfFile: out, encoding: .utf8)
    #expect(replaced.status == 0 && replacedText.hasPrefix("{"))
    let log = Self.fixture.dir.path + "/play.log.jsonl"
    let logBefore = FileManager.default.contents(atPath: log)
    #expect(logBefore != nil, "the fixture's run wrote its log")
    for target in [Self.fixture.ckpt, log, dir.path, "/dev/null"] {
      let refused = try Self.generate(["--length", "5", "--output", target, "--overwrite"])
      #expect(refused.status == 1 && refused.stderr.hasPrefix("charlstm: error:") && refused.stderr.contains("--output"), "\(target): \(refused.stderr)")
    }
    #expect(FileManager.default.contents(atPath: log) == logBefore, "the run log is unchanged")
    #expect((try FileManager.default.contentsOfDirectory(atPath: dir.path)) == ["texts.txt"])
  }

  /// Interrupted while writing --output: status 130, the file is not created, no temporary
  /// file is left.
  @Test func interruptedOutputWritesNothing() throws {
    let dir = Scratch()
    defer { dir.cleanup() }
    let process = Process()
    process.executableURL = CLI.productsDirectory.appendingPathComponent("charlstm")
    process.arguments = ["generate", Self.fixture.ckpt, "--length", "100000000000", "--output", dir.path + "/t.txt", "--threads", "1"]
    process.standardError = Pipe()
    try process.run()
    // Wait until the temporary file exists, so the generation is under way (up to 30 s: on a
    // loaded machine loading the model can take seconds).
    for _ in 0..<1200 where (try FileManager.default.contentsOfDirectory(atPath: dir.path)).isEmpty { usleep(25_000) }
    kill(process.processIdentifier, SIGINT)
    process.waitUntilExit()
    #expect(process.terminationStatus == 130)
    #expect((try FileManager.default.contentsOfDirectory(atPath: dir.path)).isEmpty)
  }

  /// Beam search is deterministic, reports its score, and takes one text per prompt.
  @Test func beamSearch() throws {
    let a = try Self.generate(["--prompt", "to", "--beam", "6", "--length", "40", "--json", "--seed", "1"])
    let b = try Self.generate(["--prompt", "to", "--beam", "6", "--length", "40", "--json", "--seed", "2", "--temperature", "2"])
    #expect(a.status == 0 && a.stdout == b.stdout, "\(a.stderr)")
    let line = try #require(try Self.jsonLines(a.stdout).first)
    #expect((line["logprob"] as? Double ?? 1) <= 0)
    // A wider beam never scores lower on this tiny model than greedy decoding's beam of 1.
    let one = try Self.jsonLines(try Self.generate(["--prompt", "to", "--beam", "1", "--length", "40", "--json"]).stdout)[0]
    #expect((line["logprob"] as! Double) >= (one["logprob"] as! Double) - 1e-9)
    let refused = try Self.generate(["--prompt", "to", "--beam", "4", "--count", "2"])
    #expect(refused.status != 0 && refused.stderr.contains("--beam"))
  }

  /// Bad inputs: one line naming the fix, a non-zero status, nothing written.
  @Test func badInputs() throws {
    let dir = Scratch()
    defer { dir.cleanup() }
    let empty = dir.write("empty.txt", [])
    let latin1 = dir.write("latin1.txt", [0x63, 0x61, 0x66, 0xE9, 0x0A])
    let unknown = dir.write("unknown.txt", Array("to be\nΩthat\n".utf8))
    let cases: [([String], String)] = [
      (["--prompt-file", empty], "has no prompts"),
      (["--prompt-file", dir.path + "/missing.txt"], "cannot be read"),
      (["--prompt-file", dir.path], "is a directory"),
      (["--prompt-file", latin1], "not valid UTF-8"),
      (["--prompt-file", unknown], "line 2"),
      (["--prompt-file", unknown, "--prompt", "x"], "cannot be combined"),
      (["--interactive"], "needs a terminal"),
      (["--interactive", "--json"], "cannot be combined"),
      (["--beam", "0"], "--beam"),
      (["--overwrite"], "--output"),
    ]
    for (args, message) in cases {
      let r = try Self.generate(args + ["--output", dir.path + "/never.txt"].filter { _ in !args.contains("--interactive") && !args.contains("--overwrite") })
      // Run-time errors are one line; command lines that cannot work are refused with the
      // error first and the usage after it (status 64).
      let first = r.stderr.split(separator: "\n").first.map(String.init) ?? ""
      #expect(r.status != 0 && first.contains(message), "\(args): \(r.stderr)")
      #expect(r.status == 64 || r.stderr.split(separator: "\n").count == 1, "\(args): \(r.stderr)")
    }
    #expect(!FileManager.default.fileExists(atPath: dir.path + "/never.txt"))
    let dropped = try Self.generate(["--prompt-file", unknown, "--drop-unknown", "--length", "3"])
    #expect(dropped.status == 0 && dropped.stdout.contains("──── 2/2 ────\nthat"), "\(dropped.stdout)")
  }

  /// A `generate --interactive` child whose standard input is a pseudo-terminal.
  final class Terminal {
    let process = Process()
    let master: Int32
    let out = Collected()
    let err = Collected()

    init(_ args: [String]) throws {
      // The pty calls are in libc but not in Swift's Glibc module (they need _XOPEN_SOURCE).
      typealias IntFn = @convention(c) (Int32) -> Int32
      typealias NameFn = @convention(c) (Int32) -> UnsafeMutablePointer<CChar>?
      func libc<T>(_ name: String, _: T.Type) throws -> T { unsafeBitCast(try #require(dlsym(UnsafeMutableRawPointer(bitPattern: 0), name)), to: T.self) }
      let openpt = try libc("posix_openpt", IntFn.self), grant = try libc("grantpt", IntFn.self)
      let unlock = try libc("unlockpt", IntFn.self), name = try libc("ptsname", NameFn.self)
      master = openpt(O_RDWR | O_NOCTTY)
      try #require(master >= 0 && grant(master) == 0 && unlock(master) == 0)
      let slave = open(String(cString: try #require(name(master))), O_RDWR | O_NOCTTY)
      try #require(slave >= 0)
      process.executableURL = CLI.productsDirectory.appendingPathComponent("charlstm")
      process.arguments = ["generate", GenerateFeatureTests.fixture.ckpt, "--interactive", "--threads", "1", "--temperature", "1.2"] + args
      let o = Pipe(), e = Pipe()
      process.standardInput = FileHandle(fileDescriptor: slave, closeOnDealloc: true)
      process.standardOutput = o
      process.standardError = e
      let (out, err) = (out, err)
      o.fileHandleForReading.readabilityHandler = { h in out.append(h.availableData) }
      e.fileHandleForReading.readabilityHandler = { h in err.append(h.availableData) }
      try process.run()
    }

    deinit {
      if process.isRunning { process.terminate() }
      close(master)
    }

    func type(_ s: String) { _ = s.withCString { write(master, $0, strlen($0)) } }

    /// Waits (up to 10 s, so a broken loop cannot hang the suite) until `condition` holds.
    func wait(_ condition: () -> Bool) -> Bool {
      for _ in 0..<400 {
        if condition() { return true }
        usleep(25_000)
      }
      return condition()
    }

    /// Ctrl-D at the start of a line (end of input); the status once the child exits.
    func quit() -> Int32? {
      type("\u{04}")
      guard wait({ !process.isRunning }) else { return nil }
      process.waitUntilExit()
      return process.terminationStatus
    }
  }

  /// The interactive loop through a pseudo-terminal: each line gives its continuation (the
  /// same text as --prompt), and Ctrl-D quits with status 0.
  @Test func interactiveLinesAreTheirPromptsContinuations() throws {
    let expected = try Self.generate(["--prompt", "to be", "--length", "30", "--seed", "4"]).stdout
    let other = try Self.generate(["--prompt", "that", "--length", "30", "--seed", "4"]).stdout
    let t = try Terminal(["--length", "30", "--seed", "4"])
    t.type("to be\n")
    #expect(t.wait { t.out.text == expected }, "got \(t.out.text)")
    t.type("that\n")
    #expect(t.wait { t.out.text == expected + other }, "got \(t.out.text)")
    #expect(t.quit() == 0)
  }

  /// Ctrl-C stops the current text only: the loop prompts again and goes on.
  @Test func interactiveCtrlCStopsOneText() throws {
    let t = try Terminal(["--length", "1000000000", "--stop", "QQQ"])
    t.type("t\n")
    #expect(t.wait { t.out.text.count > 200 }, "the text should stream")
    kill(t.process.processIdentifier, SIGINT)
    #expect(t.wait { t.err.text.contains("(stopped)") }, "\(t.err.text)")
    #expect(t.process.isRunning)
    let prompts = t.err.text.components(separatedBy: "> ").count
    #expect(t.wait { t.err.text.components(separatedBy: "> ").count > prompts - 1 })
    #expect(t.quit() == 0)
  }
}

/// Bytes read on another thread.
final class Collected: @unchecked Sendable {
  private let lock = NSLock()
  private var data = Data()
  func append(_ d: Data) { lock.lock(); data.append(d); lock.unlock() }
  var text: String { lock.lock(); defer { lock.unlock() }; return String(decoding: data, as: UTF8.self) }
}
