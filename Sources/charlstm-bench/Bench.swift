import ArgumentParser

/// `charlstm-bench`: measures and prints figures. Benchmarks never assert; tests never time.
@main
struct Bench: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "charlstm-bench",
    abstract: "Benchmarks for charlstm's parts (prints figures; asserts nothing).",
    subcommands: [TokenizeBench.self, KernelBench.self, StepBench.self])
}
