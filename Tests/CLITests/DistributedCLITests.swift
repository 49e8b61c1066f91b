import Foundation
import SafeTensors
import Testing

/// `mpirun -np 2 charlstm train … --distributed` as a user meets it. Needs Open MPI's mpirun
/// (CI installs openmpi-bin); without it these tests are skipped with the reason printed.
@Suite(.serialized, .enabled(if: MPIRun.available, "mpirun not found (install openmpi-bin libopenmpi-dev to run the distributed tests)"))
struct DistributedCLITests {
  /// Two layers with dropout (so the masks must follow the streams), B 6 split 3 + 3.
  static let tiny = ["--embed", "8", "--hidden", "24", "--layers", "2", "--dropout", "0.2", "--batch", "6", "--seq", "16",
                     "--threads", "1", "--eval-every", "10", "--log-every", "10", "--sample-length", "0"]

  private func corpus(_ dir: Scratch) -> String {
    var text = ""
    for i in 0..<300 { text += ["to be or not to be\n", "that is the question\n", "whether tis nobler\n"][i % 3] }
    return dir.write("play.txt", Array(text.utf8))
  }

  /// Every tensor of a checkpoint, by name.
  private func tensors(_ path: String) throws -> [String: [Float]] {
    let file = try SafeTensorsFile.load(contentsOf: path)
    var out: [String: [Float]] = [:]
    for name in file.tensorNames { out[name] = try file.floats(name) }
    return out
  }

  private func validations(_ log: String) throws -> [Double] {
    try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").compactMap { line in
      let o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
      return o?["type"] as? String == "validation" ? o?["loss"] as? Double : nil
    }
  }

  @Test func twoRanksLearnLikeOneProcessWithTheSameGlobalBatch() throws {
    let dir = Scratch()
    defer { dir.cleanup() }
    let text = corpus(dir)
    let one = try CLI.run(["train", text, "--out", dir.path + "/one.safetensors", "--steps", "30"] + Self.tiny)
    #expect(one.status == 0, "\(one.stderr)")
    let two = try MPIRun.run(2, ["train", text, "--out", dir.path + "/two.safetensors", "--steps", "30", "--distributed"] + Self.tiny)
    #expect(two.status == 0, "\(two.stderr)")
    #expect(two.stderr.components(separatedBy: "step 30/30").count == 2, "only rank 0 prints progress: \(two.stderr)")
    let a = try tensors(dir.path + "/one.safetensors"), b = try tensors(dir.path + "/two.safetensors")
    #expect(Set(a.keys) == Set(b.keys))
    var worst = 0.0, worstName = ""
    for (name, x) in a where !name.hasPrefix("optimizer.") {
      let y = try #require(b[name])
      #expect(x.count == y.count, "\(name): the checkpoint holds the whole batch")
      for (u, v) in zip(x, y) {
        let d = Double(abs(u - v)) / (Double(abs(u)) + 1e-2)
        if d > worst { (worst, worstName) = (d, name) }
      }
    }
    #expect(worst < 1e-3, "after 30 steps 2 ranks differ from 1 process by \(worst) (relative) in \(worstName)")
    let va = try validations(dir.path + "/one.log.jsonl"), vb = try validations(dir.path + "/two.log.jsonl")
    #expect(va.count == 3 && vb.count == 3)
    for (x, y) in zip(va, vb) { #expect(abs(x - y) < 1e-4, "validation \(x) vs \(y)") }
    print("distributed test: 2 ranks vs 1 process after 30 steps: largest relative weight difference \(worst) (\(worstName)); validation \(va) vs \(vb)")
  }

  @Test func aTwoRankRunResumedMidwayIsBitIdenticalToAStraightOne() throws {
    let dir = Scratch()
    defer { dir.cleanup() }
    let text = corpus(dir)
    let straight = try MPIRun.run(2, ["train", text, "--out", dir.path + "/s.safetensors", "--steps", "30", "--distributed"] + Self.tiny)
    #expect(straight.status == 0, "\(straight.stderr)")
    let half = try MPIRun.run(2, ["train", text, "--out", dir.path + "/r.safetensors", "--steps", "15", "--distributed"] + Self.tiny)
    #expect(half.status == 0, "\(half.stderr)")
    let rest = try MPIRun.run(2, ["train", "--resume", dir.path + "/r.safetensors", "--steps", "30", "--threads", "1", "--sample-length", "0", "--distributed"])
    #expect(rest.status == 0, "\(rest.stderr)")
    #expect(rest.stderr.contains("resuming") && rest.stderr.contains("step 30/30"))
    let a = try tensors(dir.path + "/s.safetensors"), b = try tensors(dir.path + "/r.safetensors")
    #expect(Set(a.keys) == Set(b.keys))
    for (name, x) in a.sorted(by: { $0.key < $1.key }) {
      let y = try #require(b[name])
      if let i = x.indices.first(where: { x[$0].bitPattern != y[$0].bitPattern }) {
        Issue.record("\(name)[\(i)]: \(x[i]) straight vs \(y[i]) resumed")
      }
    }
    // A different number of processes is refused with the command that would work.
    let alone = try CLI.run(["train", "--resume", dir.path + "/r.safetensors", "--steps", "40", "--sample-length", "0"])
    #expect(alone.status == 1)
    #expect(alone.stderr.contains("trained over 2 processes") && alone.stderr.contains("mpirun -np 2"), "\(alone.stderr)")
    #expect(alone.stderr.split(separator: "\n").count == 1, "\(alone.stderr)")
  }

  @Test func aKilledRankEndsTheJobAndLeavesALoadableCheckpoint() throws {
    let dir = Scratch()
    defer { dir.cleanup() }
    let text = corpus(dir)
    for victim in [1, 0] {
      let ckpt = dir.path + "/k\(victim).safetensors"
      let job = try MPIRun.start(2, ["train", text, "--out", ckpt, "--steps", "1000000", "--checkpoint-every", "1", "--distributed"] + Self.tiny)
      // Wait for a few checkpoints, so the kill lands while rank 0 trains and saves.
      var waited = 0
      while !FileManager.default.fileExists(atPath: ckpt) && waited < 600 { usleep(50_000); waited += 1 }
      usleep(300_000)
      let ranks = MPIRun.ranks(of: job.process.processIdentifier)
      let pid = try #require(ranks[victim], "rank \(victim) not found among \(ranks)")
      kill(pid, SIGKILL)
      let ended = MPIRun.wait(job, seconds: 60)  // a hang guard, not a timing assertion
      #expect(ended, "the job did not end after rank \(victim) was killed")
      if !ended { job.process.terminate() }
      let stderr = String(decoding: job.stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
      #expect(job.process.terminationStatus != 0)
      #expect(stderr.contains("rank \(victim)") && stderr.contains("signal 9"), "\(stderr.suffix(600))")
      let inspect = try CLI.run(["inspect", ckpt, "--json"])
      #expect(inspect.status == 0, "rank \(victim) killed: the checkpoint does not load: \(inspect.stderr)")
    }
  }

  @Test func ranksThatCannotReadTheCorpusOrDisagreeEndTheJobWithOneMessage() throws {
    let dir = Scratch()
    defer { dir.cleanup() }
    let text = corpus(dir)
    let out = dir.path + "/f.safetensors"
    let base = ["train", "--out", out, "--steps", "5", "--distributed"] + Self.tiny
    let missing = try MPIRun.run([base + [text], base + [dir.path + "/missing.txt"]])
    #expect(missing.status != 0)
    #expect(missing.stderr.contains("charlstm: error: rank 1 of 2: ") && missing.stderr.contains("missing.txt"), "\(missing.stderr)")
    #expect(missing.stderr.components(separatedBy: "charlstm: error:").count == 2, "one message: \(missing.stderr)")
    #expect(!FileManager.default.fileExists(atPath: dir.path + "/f.log.jsonl"), "no run files before the ranks agree")

    let differ = try MPIRun.run([base + [text], base + [text, "--lr", "0.003"]])
    #expect(differ.status != 0)
    #expect(differ.stderr.contains("charlstm: error: rank 1 of 2 would train a different run than rank 0"), "\(differ.stderr)")
    #expect(differ.stderr.components(separatedBy: "charlstm: error:").count == 2, "one message: \(differ.stderr)")

    let undistributed = try MPIRun.run(2, ["train", text, "--out", out, "--steps", "5"])
    #expect(undistributed.status != 0)
    #expect(undistributed.stderr.contains("without --distributed"), "\(undistributed.stderr)")
    #expect(undistributed.stderr.components(separatedBy: "charlstm: error:").count == 2, "one message: \(undistributed.stderr)")
  }
}

/// The distributed tests that need no MPI: `--distributed` without the library is one line.
struct DistributedWithoutMPITests {
  @Test func distributedWithoutTheLibraryIsOneClearLine() throws {
    let dir = Scratch()
    defer { dir.cleanup() }
    let text = dir.write("t.txt", Array(String(repeating: "to be or not to be\n", count: 50).utf8))
    let r = try CLI.run(["train", text, "--out", dir.path + "/x.safetensors", "--steps", "2", "--distributed"],
                        environment: ["CHARLSTM_MPI_LIBRARY": "/nonexistent/libmpi.so.40"])
    #expect(r.status == 1)
    #expect(r.stderr.hasPrefix("charlstm: error: distributed training needs Open MPI") && r.stderr.contains("openmpi-bin"), "\(r.stderr)")
    #expect(r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
  }
}

/// Runs the built `charlstm` under Open MPI's `mpirun` (as root in CI, oversubscribing 2 cores).
enum MPIRun {
  /// `mpirun`, from PATH or /usr/bin; nil when Open MPI is not installed. CHARLSTM_TEST_MPIRUN
  /// overrides the search (set it to "none" to see the tests skip as on a machine without MPI).
  static let path: String? = {
    if let given = ProcessInfo.processInfo.environment["CHARLSTM_TEST_MPIRUN"] {
      return FileManager.default.isExecutableFile(atPath: given) ? given : nil
    }
    let dirs = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init) + ["/usr/bin"]
    return dirs.map { $0 + "/mpirun" }.first { FileManager.default.isExecutableFile(atPath: $0) }
  }()

  static let available: Bool = {
    if path == nil { print("distributed tests skipped: mpirun not found (install openmpi-bin libopenmpi-dev)") }
    return path != nil
  }()

  static let flags = ["--allow-run-as-root", "--oversubscribe"]

  struct Job {
    var process: Process
    var stderr: Pipe
  }

  /// Starts `mpirun` over one or more (count, args) application contexts.
  static func start(_ apps: [(Int, [String])]) throws -> Job {
    let exe = CLI.productsDirectory.appendingPathComponent("charlstm").path
    var args = flags
    for (i, (n, a)) in apps.enumerated() {
      if i > 0 { args.append(":") }
      args += ["-np", String(n), exe] + a
    }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path!)
    p.arguments = args
    let err = Pipe()
    p.standardError = err
    p.standardOutput = FileHandle.nullDevice
    try p.run()
    return Job(process: p, stderr: err)
  }

  static func start(_ n: Int, _ args: [String]) throws -> Job { try start([(n, args)]) }

  /// Runs to the end: `n` ranks of the same command.
  static func run(_ n: Int, _ args: [String]) throws -> CLI.Result { try finish(start(n, args)) }

  /// Runs to the end: one rank per command line (mpirun's `:` syntax).
  static func run(_ commands: [[String]]) throws -> CLI.Result { try finish(start(commands.map { (1, $0) })) }

  private static func finish(_ job: Job) throws -> CLI.Result {
    let err = job.stderr.fileHandleForReading.readDataToEndOfFile()
    job.process.waitUntilExit()
    return CLI.Result(status: job.process.terminationStatus, stdout: "", stderr: String(decoding: err, as: UTF8.self))
  }

  /// Waits up to `seconds` for the job to end.
  static func wait(_ job: Job, seconds: Double) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while job.process.isRunning && Date() < deadline { usleep(50_000) }
    if job.process.isRunning { return false }
    job.process.waitUntilExit()
    return true
  }

  /// The ranks mpirun started, by rank: its children with OMPI_COMM_WORLD_RANK in /proc.
  static func ranks(of mpirun: Int32) -> [Int: Int32] {
    var out: [Int: Int32] = [:]
    for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
      guard let pid = Int32(entry),
            let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")") else { continue }
      let fields = stat[stat.index(after: close)...].split(separator: " ")
      guard fields.count > 2, Int32(fields[1]) == mpirun,
            let env = FileManager.default.contents(atPath: "/proc/\(entry)/environ") else { continue }
      for v in env.split(separator: 0) {
        let s = String(decoding: v, as: UTF8.self)
        if s.hasPrefix("OMPI_COMM_WORLD_RANK="), let r = Int(s.dropFirst(21)) { out[r] = pid }
      }
    }
    return out
  }
}
