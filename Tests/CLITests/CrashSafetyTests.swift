import Foundation
import Testing

/// A run must never be lost: kills at any moment leave a checkpoint that loads and resumes.
@Suite(.serialized) struct CrashSafetyTests {
  private func corpus(_ dir: Scratch) -> String {
    var text = ""
    for i in 0..<300 { text += ["the quick brown fox\n", "jumps over the lazy dog\n", "and runs away\n"][i % 3] }
    return dir.write("fox.txt", Array(text.utf8))
  }

  private func start(_ args: [String]) throws -> (Process, Pipe) {
    let p = Process()
    p.executableURL = CLI.productsDirectory.appendingPathComponent("charlstm")
    p.arguments = args
    let err = Pipe()
    p.standardError = err
    p.standardOutput = FileHandle.nullDevice
    try p.run()
    return (p, err)
  }

  @Test func sigkillAtManyMomentsLeavesALoadableResumableCheckpoint() throws {
    let dir = Scratch()
    defer { dir.cleanup() }
    let text = corpus(dir)
    let ckpt = dir.path + "/k.safetensors"
    // Save every step so kills land inside saves too.
    let common = ["--embed", "8", "--hidden", "32", "--layers", "2", "--batch", "4", "--seq", "16", "--threads", "1",
                  "--checkpoint-every", "1", "--eval-every", "7", "--sample-length", "0", "--quiet"]
    var rng = SystemRandomNumberGenerator()
    var kills = 0
    var resumedRuns = 0
    for round in 0..<30 {
      let exists = FileManager.default.fileExists(atPath: ckpt)
      let args = exists ? ["train", "--resume", ckpt, "--steps", "1000000", "--threads", "1", "--sample-length", "0", "--quiet"]
                        : ["train", text, "--out", ckpt, "--steps", "1000000"] + common
      let (p, err) = try start(args)
      usleep(UInt32.random(in: 30_000...400_000, using: &rng))
      kill(p.processIdentifier, SIGKILL)
      p.waitUntilExit()
      if p.terminationReason != .uncaughtSignal {
        let said = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        Issue.record("round \(round): the run ended by itself (status \(p.terminationStatus)): \(said)")
      }
      kills += 1
      if exists { resumedRuns += 1 }
      guard FileManager.default.fileExists(atPath: ckpt) else { continue }  // killed before the first save
      let inspect = try CLI.run(["inspect", ckpt, "--json"])
      #expect(inspect.status == 0, "round \(round): checkpoint does not load after SIGKILL: \(inspect.stderr)")
    }
    // The final checkpoint resumes to completion, and the resumed run (holding the lock)
    // removes the temporary files that killed saves left, so none is there afterwards.
    let info = try JSONSerialization.jsonObject(with: Data(try CLI.run(["inspect", ckpt, "--json"]).stdout.utf8)) as? [String: Any]
    let step = try #require(info?["step"] as? Int)
    let temporaries = { (try? FileManager.default.contentsOfDirectory(atPath: dir.path))?.filter { $0.contains(".tmp-") } ?? [] }
    let leftBehind = temporaries().count
    let finish = try CLI.run(["train", "--resume", ckpt, "--steps", String(step + 3), "--threads", "1", "--sample-length", "0"])
    #expect(finish.status == 0, "\(finish.stderr)")
    #expect(finish.stderr.contains("step \(step + 3)/\(step + 3)"))
    #expect(temporaries().isEmpty, "\(temporaries())")
    print("crash test: \(kills) SIGKILLs (\(resumedRuns) during resumed runs), checkpoint at step \(step) loaded after each and resumed; \(leftBehind) temporary files left by killed saves, removed by the resume")
    #expect(resumedRuns > 0)
  }

  @Test func staleTemporaryOfTheCheckpointIsRemovedOthersAreKept() throws {
    let dir = Scratch()
    defer { dir.cleanup() }
    let text = corpus(dir)
    let ckpt = dir.path + "/s.safetensors"
    let stale = dir.write(".s.safetensors.tmp-999999-abc", [1, 2, 3])
    let staleBest = dir.write(".s.best.safetensors.tmp-999998-abc", [1, 2, 3])
    let foreign = dir.write(".other.safetensors.tmp-999997-abc", [1, 2, 3])
    let r = try CLI.run(["train", text, "--out", ckpt, "--steps", "2", "--embed", "8", "--hidden", "16", "--batch", "4", "--seq", "16", "--sample-length", "0"])
    #expect(r.status == 0, "\(r.stderr)")
    #expect(!FileManager.default.fileExists(atPath: stale) && !FileManager.default.fileExists(atPath: staleBest))
    #expect(FileManager.default.fileExists(atPath: foreign), "another checkpoint's temporary is not ours to remove")
    #expect(r.stderr.contains("left by an interrupted save"))
  }

  @Test(arguments: [SIGINT, SIGTERM, SIGHUP, SIGQUIT])
  func interruptSavesAndExitsCleanly(signal: Int32) throws {
    let dir = Scratch()
    defer { dir.cleanup() }
    let text = corpus(dir)
    let ckpt = dir.path + "/i.safetensors"
    let (p, err) = try start(["train", text, "--out", ckpt, "--steps", "1000000", "--embed", "8", "--hidden", "32", "--batch", "4",
                              "--seq", "16", "--threads", "1", "--log-every", "1000000", "--eval-every", "0", "--checkpoint-every", "0"])
    usleep(600_000)
    kill(p.processIdentifier, signal)
    p.waitUntilExit()
    let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    #expect(p.terminationStatus == 0, "\(stderr)")
    #expect(stderr.contains("interrupted at step"))
    let inspect = try CLI.run(["inspect", ckpt, "--json"])
    #expect(inspect.status == 0, "\(inspect.stderr)")
    let step = try #require((try JSONSerialization.jsonObject(with: Data(inspect.stdout.utf8)) as? [String: Any])?["step"] as? Int)
    #expect(step >= 1)
    let resumed = try CLI.run(["train", "--resume", ckpt, "--steps", String(step + 2), "--threads", "1", "--sample-length", "0"])
    #expect(resumed.status == 0, "\(resumed.stderr)")
    #expect(resumed.stderr.contains("resuming") && resumed.stderr.contains("step \(step + 2)/"))
  }

  @Test func aSecondTrainerOnTheSameCheckpointIsRefused() throws {
    let dir = Scratch()
    defer { dir.cleanup() }
    let text = corpus(dir)
    let ckpt = dir.path + "/l.safetensors"
    let tiny = ["--embed", "8", "--hidden", "16", "--batch", "4", "--seq", "16", "--threads", "1", "--quiet", "--sample-length", "0"]
    let (p, _) = try start(["train", text, "--out", ckpt, "--steps", "1000000"] + tiny)
    defer {
      kill(p.processIdentifier, SIGKILL)
      p.waitUntilExit()
    }
    usleep(300_000)
    let second = try CLI.run(["train", text, "--out", ckpt, "--steps", "5"] + tiny)
    #expect(second.status != 0)
    #expect(second.stderr.contains("another charlstm train is writing"), "\(second.stderr)")
  }

  @Test func unwritableCheckpointFolderIsReportedAndKeepsNothingHalfWritten() throws {
    let dir = Scratch()
    defer { dir.cleanup() }
    let text = corpus(dir)
    let blocker = dir.write("afile", Array("x".utf8))
    let r = try CLI.run(["train", text, "--out", blocker + "/sub/c.safetensors", "--steps", "2", "--embed", "8", "--hidden", "16", "--batch", "4", "--seq", "16"])
    #expect(r.status != 0)
    #expect(r.stderr.contains("afile"), "\(r.stderr)")
  }
}
