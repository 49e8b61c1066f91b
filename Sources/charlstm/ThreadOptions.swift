import ArgumentParser
import CharLSTMKit

/// `--threads N`, shared by every command that runs the kernels.
struct ThreadOptions: ParsableArguments {
  @Option(help: "Worker threads (default: all cores).") var threads: Int?

  func validate() throws {
    if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
  }

  /// Sets the kernel pool's size when `--threads` was given.
  func apply() {
    if let threads { Kernels.setThreads(threads) }
  }
}
