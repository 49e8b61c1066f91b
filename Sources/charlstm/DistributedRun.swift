import ArgumentParser
import CharLSTMDistributed
import CharLSTMKit
import Foundation

/// The processes `charlstm train` runs on: this one alone, or the ranks of an `mpirun` job
/// (`--distributed`). Rank 0 is the lead: it alone checks and writes the run's files, prints
/// progress and the sample; every rank reads the corpus and trains its share of the batch.
final class Ranks {
  /// The collective the trainer sums over (``SingleProcess`` without `--distributed`).
  let collective: any Collective
  private let mpi: MPICollective?
  /// The job being run, so that the error path knows who reports and how to end.
  nonisolated(unsafe) static var current: Ranks?

  /// Whether this process prints and writes the run's files (rank 0).
  var lead: Bool { collective.rank == 0 }
  /// N, for ``TrainingConfig/ranks`` (nil for one process).
  var recorded: Int? { collective.size > 1 ? collective.size : nil }

  private init(collective: any Collective, mpi: MPICollective?) {
    self.collective = collective
    self.mpi = mpi
  }

  /// Joins the `mpirun` job when `distributed`, else stays one process (and refuses to run as
  /// one of several processes that `mpirun` started without `--distributed`).
  static func start(distributed: Bool) throws -> Ranks {
    guard distributed else {
      if let n = MPICollective.launchedSize, n > 1 {
        throw ValidationError("charlstm was started by mpirun as one of \(n) processes without --distributed: add --distributed to train one run over them (each would otherwise train alone and write the same files)")
      }
      return Ranks(collective: SingleProcess(), mpi: nil)
    }
    // CHARLSTM_MPI_LIBRARY names another libmpi (an Open MPI installed elsewhere).
    let mpi = try MPICollective(library: ProcessInfo.processInfo.environment["CHARLSTM_MPI_LIBRARY"] ?? MPICollective.defaultLibrary)
    let ranks = Ranks(collective: mpi, mpi: mpi)
    current = ranks
    return ranks
  }

  /// The checkpoint at `path`, read by rank 0 and sent to every rank, so only rank 0's machine
  /// needs the file and every rank decodes the very same bytes.
  func checkpoint(at path: String) throws -> Checkpoint {
    guard collective.size > 1 else { return try Checkpoint.load(from: path) }
    var bytes: [UInt8] = []
    var failure: (any Error)?
    if lead {
      do {
        _ = try Checkpoint.load(from: path)  // its errors name the problem
        guard let data = FileManager.default.contents(atPath: path) else {
          throw ValidationError("\(path) could not be read again; check the file")
        }
        bytes = [UInt8](data)
      } catch { failure = error }
    }
    var count: [UInt64] = [failure == nil ? UInt64(bytes.count) : UInt64.max]
    try count.withUnsafeMutableBytes { try collective.broadcast($0, from: 0) }
    if count[0] == UInt64.max {
      throw failure ?? ValidationError("rank 0 could not read \(path)")
    }
    if !lead { bytes = [UInt8](repeating: 0, count: Int(count[0])) }
    try bytes.withUnsafeMutableBytes { try collective.broadcast($0, from: 0) }
    do { return try Checkpoint.decode(try SafeTensorsFile(bytes: bytes, path: path)) } catch let e as SafeTensorsError {
      throw CheckpointError.file(e)
    }
  }

  /// A clean end: every rank is past its last collective operation.
  func finish() { mpi?.finish() }

  /// Ends this rank after `error` with one line, from rank 0 only for errors every rank meets
  /// alike (options, agreement, divergence); any rank reports what only it saw (a transport
  /// failure). Exits 1 without MPI_Finalize, so `mpirun` ends the other ranks.
  func fail(_ error: any Error, command: ParsableCommand) -> Never {
    let own = error is CollectiveError || error is MPIError
    if lead || own {
      let who = lead || !own ? "" : "rank \(collective.rank) of \(collective.size): "
      FileHandle.standardError.write(Data("charlstm: error: \(who)\(userMessage(error, command: command))\n".utf8))
    }
    exit(1)
  }
}
