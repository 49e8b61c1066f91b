import CharLSTMKit
import Dispatch
import Foundation

/// Keeps the signal sources alive for the process.
nonisolated(unsafe) private var signalSources: [DispatchSourceSignal] = []

/// SIGINT (Ctrl-C), SIGTERM, SIGHUP (the terminal closed) and SIGQUIT (Ctrl-\) ask the
/// trainer to stop after the current step; it then validates, saves a checkpoint and exits
/// cleanly. A second signal exits at once (the last checkpoint is whole: saves are atomic).
func installStopHandlers(_ trainer: Trainer) {
  let flag = trainer.stopFlag
  for sig in [SIGINT, SIGTERM, SIGHUP, SIGQUIT] {
    signal(sig, SIG_IGN)
    let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
    source.setEventHandler {
      if flag.isSet {
        Output.note("second signal: exiting without saving (the last checkpoint is intact)")
        exit(130)
      }
      Output.note("stopping after this step and saving a checkpoint (signal again to quit at once)")
      flag.set()
    }
    source.resume()
    signalSources.append(source)
  }
}
