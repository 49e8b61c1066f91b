import ArgumentParser
import CharLSTMKit

/// `--threads N`, shared by every command that runs the kernels.
struct ThreadOptions: ParsableArguments {
  @Option(help: "Worker threads (default: all cores).") var threads: Int?

  func validate() throws {
    if let threads, threads < 1 || threads > 1024 { throw ValidationError("--threads \(threads) is invalid: expected 1 to 1024 (default: all cores)") }
  }

  /// Sets the kernel pool's size when `--threads` was given.
  func apply() {
    if let threads { Kernels.setThreads(threads) }
  }
}
