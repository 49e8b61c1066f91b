import Foundation
import Testing

/// Output paths are regular files or do not exist; nothing that is not this run's is replaced
/// without --overwrite; a directory corpus never reads the run's own files. Temporary files,
/// FIFOs and symbolic links only: never real devices.
@Suite struct OutputSafetyTests {
  private let tiny = ["--embed", "8", "--hidden", "16", "--batch", "4", "--seq", "16", "--threads", "1", "--sample-length", "0", "--quiet"]

  private func corpus(_ dir: Scratch, _ name: String = "c.txt") -> String {
    var text = ""
    for i in 0..<200 { text += ["the quick brown fox\n", "jumps over the lazy dog\n", "and runs away\n"][i % 3] }
    return dir.write(name, Array(text.utf8))
  }

  private func entries(_ dir: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted()
  }

  private func inode(_ path: String) -> UInt64 {
    var st = stat()
    return lstat(path, &st) == 0 ? UInt64(st.st_ino) : 0
  }

  @Test func trainRefusesEveryOutputThatIsNotItsOwnAndWritesNothing() throws {
    let dir = Scratch()
    defer { dir.cleanup() }
    let text = corpus(dir)
    let precious = dir.write("precious.txt", Array("keep me".utf8))
    #expect(mkfifo(dir.path + "/fifo", 0o644) == 0)
    #expect(symlink(precious, dir.path + "/link") == 0)
    #expect(symlink(dir.path + "/nowhere.safetensors", dir.path + "/dangling") == 0)
    try FileManager.default.createDirectory(atPath: dir.path + "/folder", withIntermediateDirectories: false)
    let before = entries(dir.path)
    let cases: [(String, String)] = [
      ("fifo", "FIFO"), ("link", "symbolic link"), ("dangling", "symbolic link"), ("precious.txt", "--overwrite"),
      ("folder", "is a folder"), ("folder/", "is a folder"),
    ]
    for (out, words) in cases {
      let r = try CLI.run(["train", text, "--out", dir.path + "/" + out, "--steps", "2"] + tiny)
      #expect(r.status == 1, "--out \(out): \(r.stderr)")
      #expect(r.stderr.contains(words) && r.stderr.split(separator: "\n").count == 1, "--out \(out): \(r.stderr)")
      #expect(!r.stderr.contains("Usage"), "a run-time refusal is one line, not the usage")
    }
    #expect(entries(dir.path) == before, "nothing was created or replaced")
    #expect(entries(dir.path + "/folder").isEmpty)
    #expect(FileManager.default.contents(atPath: precious) == Data("keep me".utf8))
    var st = stat()
    #expect(lstat(dir.path + "/fifo", &st) == 0 && (st.st_mode & S_IFMT) == S_IFIFO)
    #expect(lstat(dir.path + "/link", &st) == 0 && (st.st_mode & S_IFMT) == S_IFLNK)
  }

  @Test func aNewRunRefusesAnExistingCheckpointUnlessOverwriteOrResume() throws {
    let dir = Scratch()
    defer { dir.cleanup() }
    let text = corpus(dir)
    let ckpt = dir.path + "/m.safetensors"
    let first = try CLI.run(["train", text, "--out", ckpt, "--steps", "3"] + tiny)
    #expect(first.status == 0, "\(first.stderr)")
    let saved = FileManager.default.contents(atPath: ckpt)
    let log = FileManager.default.contents(atPath: dir.path + "/m.log.jsonl")
    let again = try CLI.run(["train", text, "--out", ckpt, "--steps", "3", "--seed", "9"] + tiny)
    #expect(again.status == 1)
    #expect(again.stderr.contains("--resume") && again.stderr.contains("--overwrite"), "\(again.stderr)")
    #expect(FileManager.default.contents(atPath: ckpt) == saved, "the checkpoint is untouched")
    #expect(FileManager.default.contents(atPath: dir.path + "/m.log.jsonl") == log, "its log is not truncated")
    // A lone log or best copy of another run is protected the same way.
    let other = dir.path + "/n.safetensors"
    _ = dir.write("n.log.jsonl", Array("{\"type\":\"start\",\"step\":0}\n".utf8))
    let lone = try CLI.run(["train", text, "--out", other, "--steps", "2"] + tiny)
    #expect(lone.status == 1 && lone.stderr.contains("n.log.jsonl"), "\(lone.stderr)")
    // --overwrite replaces the run's files; --resume continues them.
    let replaced = try CLI.run(["train", text, "--out", ckpt, "--steps", "3", "--seed", "9", "--overwrite"] + tiny)
    #expect(replaced.status == 0, "\(replaced.stderr)")
    #expect(FileManager.default.contents(atPath: ckpt) != saved)
    let resumed = try CLI.run(["train", "--resume", ckpt, "--steps", "5", "--threads", "1", "--sample-length", "0", "--quiet"])
    #expect(resumed.status == 0, "\(resumed.stderr)")
    // Resuming into another existing file needs --overwrite as well.
    let taken = dir.write("taken.safetensors", Array("not a checkpoint".utf8))
    let into = try CLI.run(["train", "--resume", ckpt, "--out", taken, "--steps", "6", "--quiet", "--sample-length", "0"])
    #expect(into.status == 1 && into.stderr.contains("--overwrite"), "\(into.stderr)")
    #expect(FileManager.default.contents(atPath: taken) == Data("not a checkpoint".utf8))
    let below = try CLI.run(["train", "--resume", ckpt, "--steps", "2", "--quiet", "--sample-length", "0"])
    #expect(below.status == 1 && below.stderr.contains("below the checkpoint's step 5"), "\(below.stderr)")
  }

  /// `--overwrite` replaces another run's files, never the text the run trains on: not the corpus
  /// file (under any spelling, or as a run's best copy or log), not a text of a corpus folder.
  @Test func noOutputIsTheCorpusEvenWithOverwrite() throws {
    let dir = Scratch()
    defer { dir.cleanup() }
    let text = corpus(dir)
    let original = FileManager.default.contents(atPath: text)
    let data = dir.path + "/data"
    try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
    let inside = dir.write("data/a.txt", original.map(Array.init) ?? [])
    #expect(symlink(text, dir.path + "/alias.txt") == 0)
    let before = entries(dir.path)
    let cases: [([String], String)] = [
      ([text, "--out", text], text),
      ([text, "--out", dir.path + "/./c.txt"], text),
      ([dir.path + "/alias.txt", "--out", text], text),  // the corpus through a link
      ([data, "--out", inside], inside),
      ([data, "--out", data + "/../data/a.txt"], "a.txt"),
    ]
    for (args, named) in cases {
      let r = try CLI.run(["train"] + args + ["--overwrite", "--steps", "2"] + tiny)
      #expect(r.status == 1, "\(args): \(r.stderr)")
      #expect(r.stderr.contains("write over") && r.stderr.contains(named) && r.stderr.split(separator: "\n").count == 1, "\(args): \(r.stderr)")
    }
    #expect(entries(dir.path) == before, "nothing was created")
    // The corpus as the run's log: --out x.safetensors with a corpus named x.log.jsonl.
    let asLog = dir.write("x.log.jsonl", original.map(Array.init) ?? [])
    let r = try CLI.run(["train", asLog, "--out", dir.path + "/x.safetensors", "--overwrite", "--steps", "2"] + tiny)
    #expect(r.status == 1 && r.stderr.contains("write over"), "\(r.stderr)")
    #expect(FileManager.default.contents(atPath: asLog) == original)
    #expect(FileManager.default.contents(atPath: text) == original)
    #expect(FileManager.default.contents(atPath: inside) == original)
    // A checkpoint of an earlier run inside a corpus folder is still replaced with --overwrite.
    let ckpt = data + "/run.safetensors"
    #expect(try CLI.run(["train", data, "--out", ckpt, "--steps", "2"] + tiny).status == 0)
    let again = try CLI.run(["train", data, "--out", ckpt, "--steps", "2", "--seed", "5", "--overwrite"] + tiny)
    #expect(again.status == 0, "\(again.stderr)")
  }

  /// `bench --json` appends to a results file; it never appends to a checkpoint or a run log.
  @Test func benchJSONNeverAppendsToACheckpointOrARunLog() throws {
    let dir = Scratch()
    defer { dir.cleanup() }
    let text = corpus(dir)
    let ckpt = dir.path + "/m.safetensors"
    #expect(try CLI.run(["train", text, "--out", ckpt, "--steps", "2"] + tiny).status == 0)
    let bench = ["bench", "train", "--hidden", "8", "--embed", "4", "--batch", "2", "--seq", "4", "--steps", "1", "--warmup", "0", "--threads", "1", "--json"]
    for (target, words) in [(ckpt, "checkpoint"), (dir.path + "/m.best.safetensors", "checkpoint"), (dir.path + "/m.log.jsonl", "log")] {
      let before = FileManager.default.contents(atPath: target)
      let r = try CLI.run(bench + [target])
      #expect(r.status == 1 && r.stderr.contains(words) && r.stderr.split(separator: "\n").count == 1, "\(target): \(r.stderr)")
      #expect(FileManager.default.contents(atPath: target) == before, "\(target) is unchanged")
    }
    let results = dir.write("results.jsonl", [])  // an empty file is appended to, not taken for a log
    for _ in 0..<2 { #expect(try CLI.run(bench + [results]).status == 0) }
    let lines = String(decoding: FileManager.default.contents(atPath: results) ?? Data(), as: UTF8.self).split(separator: "\n")
    #expect(lines.count == 2 && lines.allSatisfy { $0.hasPrefix("{") }, "\(lines)")
  }

  @Test func aDirectoryCorpusNeverReadsTheRunsOwnFolder() throws {
    let dir = Scratch()
    defer { dir.cleanup() }
    let data = dir.path + "/data"
    try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
    var text = ""
    for i in 0..<300 { text += ["abc abc\n", "cab bac\n"][i % 2] }
    _ = dir.write("data/a.txt", Array(text.utf8))
    let ckpt = data + "/checkpoints/run.safetensors"
    let first = try CLI.run(["train", data, "--out", ckpt, "--steps", "3", "--eval-every", "1"] + tiny)
    #expect(first.status == 0, "\(first.stderr)")
    // The log (JSON, text with braces and digits) is now inside the corpus folder: a resume must
    // see the same corpus (same fingerprint), so it must not read it.
    let resumed = try CLI.run(["train", "--resume", ckpt, "--steps", "5", "--threads", "1", "--sample-length", "0", "--quiet"])
    #expect(resumed.status == 0, "\(resumed.stderr)")
    let vocab = try CLI.run(["inspect", ckpt, "--json"])
    let info = try #require(try JSONSerialization.jsonObject(with: Data(vocab.stdout.utf8)) as? [String: Any])
    #expect(info["vocabulary_size"] as? Int == 5, "a b c space newline: \(info)")
  }

  @Test func plotReplacesOnlyItsOwnFiguresAndNeverSpecialFiles() throws {
    let dir = Scratch()
    defer { dir.cleanup() }
    let text = corpus(dir)
    let ckpt = dir.path + "/p.safetensors"
    #expect(try CLI.run(["train", text, "--out", ckpt, "--steps", "3"] + tiny).status == 0)
    let svg = dir.path + "/curves.svg"
    let first = try CLI.run(["plot", ckpt, "--out", svg])
    #expect(first.status == 0, "\(first.stderr)")
    let again = try CLI.run(["plot", dir.path + "/p.best.safetensors", "--out", svg])
    #expect(again.status == 0, "its own figure is replaced; a best copy means the run's log: \(again.stderr)")
    // Never over what it is drawn from, nor any checkpoint or run log, even with --overwrite.
    let other = dir.path + "/q.safetensors"
    #expect(try CLI.run(["train", text, "--out", other, "--steps", "2"] + tiny).status == 0)
    for target in [ckpt, dir.path + "/p.log.jsonl", dir.path + "/p.best.safetensors", other, dir.path + "/q.log.jsonl"] {
      let before = FileManager.default.contents(atPath: target)
      let r = try CLI.run(["plot", ckpt, "--out", target, "--overwrite"])
      #expect(r.status == 1 && r.stderr.split(separator: "\n").count == 1, "\(target): \(r.stderr)")
      #expect(FileManager.default.contents(atPath: target) == before, "\(target) is unchanged")
    }
    let notes = dir.write("notes.svg", Array("<svg>mine</svg>".utf8))
    let refused = try CLI.run(["plot", ckpt, "--out", notes])
    #expect(refused.status == 1 && refused.stderr.contains("--overwrite"), "\(refused.stderr)")
    #expect(FileManager.default.contents(atPath: notes) == Data("<svg>mine</svg>".utf8))
    #expect(try CLI.run(["plot", ckpt, "--out", notes, "--overwrite"]).status == 0)
    #expect(mkfifo(dir.path + "/pipe.svg", 0o644) == 0)
    #expect(symlink(notes, dir.path + "/link.svg") == 0)
    let linkInode = inode(dir.path + "/link.svg")
    for out in ["pipe.svg", "link.svg"] {
      let r = try CLI.run(["plot", ckpt, "--out", dir.path + "/" + out, "--overwrite"])
      #expect(r.status == 1, "\(out): \(r.stderr)")
    }
    #expect(inode(dir.path + "/link.svg") == linkInode)
    // A checkpoint given without the .safetensors name is recognised by its contents.
    try FileManager.default.copyItem(atPath: ckpt, toPath: dir.path + "/renamed")
    try FileManager.default.copyItem(atPath: dir.path + "/p.log.jsonl", toPath: dir.path + "/renamed.log.jsonl")
    let renamed = try CLI.run(["plot", dir.path + "/renamed", "--out", dir.path + "/r.svg"])
    #expect(renamed.status == 0, "\(renamed.stderr)")
  }
}
