import ArgumentParser
import CharLSTMKit
import Foundation
import Synchronization

/// Where generated text goes: standard output as it is produced, or a file that appears
/// whole or not at all (`--output`): an error or an interruption leaves the path as it was.
final class TextSink {
  private let file: AtomicFileWriter?

  /// A sink for `output` (nil: standard output). The path must be missing or a regular file
  /// that is not a checkpoint (any safetensors file) or a run log, and an existing file is replaced only with `overwrite`.
  init(output: String?, overwrite: Bool) throws {
    guard let path = output else {
      file = nil
      return
    }
    if let why = PathKind(of: path).refusal { throw ValidationError("\(path) cannot be written: \(why); choose another --output") }
    if let what = RunFiles.isCheckpointFile(path) ? "a charlstm checkpoint" : RunFiles.isRunLogFile(path) ? "a training run's log"
      : RunFiles.isSafetensorsFile(path) ? "a safetensors checkpoint" : nil
    {
      throw ValidationError("\(path) is \(what); --output never replaces one: choose another --output")
    }
    if PathKind(of: path) == .regular && !overwrite {
      throw ValidationError("\(path) already exists and would be replaced; pass --overwrite to replace it, or choose another --output")
    }
    file = try AtomicFileWriter(path: path)
  }

  func write(_ s: String) throws {
    if let file { try file.write(s) } else { Output.write(s) }
  }

  /// Puts the file in place (nothing to do for standard output).
  func finish() throws {
    try file?.commit()
  }

  /// Leaves the path as it was (an interrupted or failed generation).
  func abandon() {
    file?.abandon()
  }
}

/// Ctrl-C (SIGINT) or SIGTERM while generating: the current text stops; without a terminal
/// loop, the command then ends with status 130 and `--output` writes nothing.
enum GenerationSignals {
  /// Set by the signal; cleared when a text starts.
  static let flag = Flag()

  final class Flag: Sendable {
    private let value = Atomic<Bool>(false)
    var isSet: Bool { value.load(ordering: .relaxed) }
    func set() { value.store(true, ordering: .relaxed) }
    func clear() { value.store(false, ordering: .relaxed) }
  }
  nonisolated(unsafe) private static var sources: [DispatchSourceSignal] = []
  /// What a signal does after setting ``flag`` (on a background queue); nil: nothing more.
  private static let action = Mutex<(@Sendable () -> Void)?>(nil)

  /// Routes SIGINT and SIGTERM to ``flag``, then to `onSignal` (see ``onSignal(_:)``). Call it
  /// before anything a signal must undo exists (e.g. `--output`'s temporary file): a signal
  /// that arrives before the routing is in place takes its default action and ends the
  /// process, one that arrives after is seen by the generation.
  static func install(onSignal: (@Sendable () -> Void)? = nil) {
    action.withLock { $0 = onSignal }
    for sig in [SIGINT, SIGTERM] {
      signal(sig, SIG_IGN)
      let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
      source.setEventHandler {
        flag.set()
        action.withLock { $0 }?()
      }
      source.resume()
      sources.append(source)
    }
  }

  /// Sets what a signal does after setting ``flag`` from now on.
  static func onSignal(_ f: @escaping @Sendable () -> Void) {
    action.withLock { $0 = f }
  }
}

/// Thrown from an event handler to stop a generation.
struct GenerationInterrupted: Error {}
