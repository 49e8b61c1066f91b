import CharLSTMKit
import Dispatch
import Foundation

/// Keeps the signal sources alive for the process.
nonisolated(unsafe) private var signalSources: [DispatchSourceSignal] = []

/// SIGINT (Ctrl-C), SIGTERM, SIGHUP (the terminal closed) and SIGQUIT (Ctrl-\) ask the
/// trainer to stop after the current step; it then validates, saves a checkpoint and exits
/// cleanly. A second signal exits at once (the last checkpoint is whole: saves are atomic).
/// `extra` adds signals that stop the same way (a distributed run: SIGUSR1 and SIGUSR2, which
/// `mpirun` forwards to every rank, while it answers SIGINT and SIGTERM by ending the job).
/// `announce: false` (ranks other than 0) stops as quietly.
func installStopHandlers(_ trainer: Trainer, also extra: [Int32] = [], announce: Bool = true) {
  let flag = trainer.stopFlag
  for sig in [SIGINT, SIGTERM, SIGHUP, SIGQUIT] + extra {
    signal(sig, SIG_IGN)
    let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
    source.setEventHandler {
      if flag.isSet {
        if announce { Output.note("second signal: exiting without saving (the last checkpoint is intact)") }
        exit(130)
      }
      if announce { Output.note("stopping after this step and saving a checkpoint (signal again to quit at once)") }
      flag.set()
    }
    source.resume()
    signalSources.append(source)
  }
}
