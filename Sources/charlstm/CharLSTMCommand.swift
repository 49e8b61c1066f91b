import ArgumentParser

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
    subcommands: [TrainCommand.self, GenerateCommand.self, EvalCommand.self, InspectCommand.self, VocabCommand.self, PlotCommand.self, BenchCommand.self])
}
