import ArgumentParser
import CharLSTMDistributed
import CharLSTMKit
import Foundation

/// `charlstm`: train character-level LSTMs on any text, generate from them, inspect them.
@main
struct CharLSTMCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "charlstm",
    abstract: "Character-level LSTM text generation: train on a corpus, generate from a prompt.",
    discussion: """
      A character is a user-perceived character (an extended grapheme cluster), so every \
      script works: emoji sequences, Hindi, Thai, Korean, CJK.

      Example:
        charlstm vocab ../shared/corpora/tinyshakespeare.txt
      """,
    subcommands: [TrainCommand.self, GenerateCommand.self, EvalCommand.self, InspectCommand.self, VocabCommand.self, PlotCommand.self, BenchCommand.self, ServeCommand.self])

  /// Two kinds of failure, two exits: a command line that does not parse or validate prints
  /// the command's usage and exits 64 (ArgumentParser); anything that fails while the command
  /// runs (a missing file, a bad checkpoint, a full disk) prints one line and exits 1.
  static func main() {
    // Arguments that are not UTF-8 (a Latin-1 file name) reach Swift repaired with U+FFFD, so
    // the path would be "missing": say what is wrong instead.
    for i in 1..<Int(CommandLine.argc) {
      guard let arg = CommandLine.unsafeArgv[i] else { continue }
      let bytes = UnsafeBufferPointer(start: UnsafeRawPointer(arg).assumingMemoryBound(to: UInt8.self), count: strlen(arg))
      if String(validating: bytes, as: UTF8.self) == nil {
        FileHandle.standardError.write(Data("charlstm: error: argument \(i) is not valid UTF-8 (\(String(decoding: bytes, as: UTF8.self))); charlstm reads UTF-8 paths and text: rename the file (e.g. convmv -f latin1 -t utf8)\n".utf8))
        Foundation.exit(64)
      }
    }
    var command: ParsableCommand
    do { command = try parseAsRoot() } catch {
      // Under mpirun every rank parses the same command line: rank 0 alone prints the usage.
      if let rank = MPICollective.launchedRank, rank > 0 { Foundation.exit(exitCode(for: error).rawValue) }
      exit(withError: error)
    }
    do {
      try command.run()
    } catch {
      if let ranks = Ranks.current { ranks.fail(error, command: command) }
      // Several processes of mpirun that could not start alike: rank 0 alone says why.
      if let rank = MPICollective.launchedRank, rank > 0 { Foundation.exit(1) }
      if let e = error as? ValidationError { fail(e.message) }
      // ArgumentParser's own errors (help, version, exit codes) keep its handling.
      if String(reflecting: type(of: error)).hasPrefix("ArgumentParser.") { exit(withError: error) }
      fail(userMessage(error, command: command))
    }
  }
}

/// One line on standard error, exit 1.
func fail(_ message: String) -> Never {
  FileHandle.standardError.write(Data("charlstm: error: \(message)\n".utf8))
  Foundation.exit(1)
}
