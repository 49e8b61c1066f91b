// Data-parallel training over Open MPI, loaded at run time: nothing here links MPI at build
// time, so a machine without MPI builds and runs everything, and only `--distributed` needs
// libmpi.so.40 (Debian: openmpi-bin, libopenmpi-dev).

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif
import CharLSTMKit
import _CharLSTMMPI

/// Why MPI could not start.
public enum MPIError: Error, Equatable, CustomStringConvertible, Sendable {
  /// The MPI library could not be loaded (not installed, or not Open MPI 4).
  case libraryMissing(library: String, detail: String)
  /// MPI_Init_thread failed.
  case initFailed(detail: String)

  /// One line saying what went wrong and how to fix it.
  public var description: String {
    switch self {
    case .libraryMissing(let library, let detail):
      return "distributed training needs Open MPI, but \(library) could not be loaded (\(detail)); install it (Debian: apt-get install openmpi-bin libopenmpi-dev) and start the run with mpirun"
    case .initFailed(let detail):
      return "MPI could not start: \(detail)"
    }
  }
}

/// The processes of an `mpirun` job (MPI_COMM_WORLD) as a ``Collective``: in-place
/// MPI_Allreduce for sums and maxima, MPI_Bcast for bytes.
///
/// MPI is initialized with MPI_THREAD_FUNNELED: only the thread that trains calls MPI, never
/// the kernel worker threads, so N ranks × T threads works. Errors are returned rather than
/// fatal (MPI_ERRORS_RETURN) and thrown as ``CollectiveError``; when a rank dies, `mpirun`
/// ends the others.
public final class MPICollective: Collective {
  /// The library loaded by default: Open MPI 4's soname.
  public static let defaultLibrary = "libmpi.so.40"

  /// This process's rank in MPI_COMM_WORLD.
  public let rank: Int
  /// The size of MPI_COMM_WORLD.
  public let size: Int
  private var finalized = false

  /// Loads `library`, initializes MPI and joins MPI_COMM_WORLD. Call once per process.
  /// - Throws: ``MPIError`` when the library is missing or MPI cannot start.
  public init(library: String = MPICollective.defaultLibrary) throws(MPIError) {
    var text = [CChar](repeating: 0, count: 1024)
    guard clmpi_open(library, &text, Int32(text.count)) == 0 else {
      throw .libraryMissing(library: library, detail: Self.text(text))
    }
    var r: Int32 = 0, n: Int32 = 0
    let rc = clmpi_init(&r, &n)
    guard rc == 0 else { throw .initFailed(detail: Self.message(rc)) }
    rank = Int(r)
    size = Int(n)
  }

  /// Whether this process was started by Open MPI's `mpirun` as one of several ranks, read from
  /// the environment it sets (`OMPI_COMM_WORLD_SIZE`); nil when not started by mpirun.
  public static var launchedSize: Int? {
    getenv("OMPI_COMM_WORLD_SIZE").flatMap { Int(String(cString: $0)) }
  }

  /// This process's rank as `mpirun` set it in the environment (`OMPI_COMM_WORLD_RANK`).
  public static var launchedRank: Int? {
    getenv("OMPI_COMM_WORLD_RANK").flatMap { Int(String(cString: $0)) }
  }

  public func sum(_ values: UnsafeMutableBufferPointer<Float>) throws(CollectiveError) {
    try check("MPI_Allreduce (sum of \(values.count) floats)", clmpi_allreduce(values.baseAddress, values.count, Int32(CLMPI_FLOAT), Int32(CLMPI_SUM)))
  }

  public func sum(_ values: UnsafeMutableBufferPointer<Double>) throws(CollectiveError) {
    try check("MPI_Allreduce (sum of \(values.count) doubles)", clmpi_allreduce(values.baseAddress, values.count, Int32(CLMPI_DOUBLE), Int32(CLMPI_SUM)))
  }

  public func maximum(_ values: UnsafeMutableBufferPointer<UInt64>) throws(CollectiveError) {
    try check("MPI_Allreduce (maximum of \(values.count) integers)", clmpi_allreduce(values.baseAddress, values.count, Int32(CLMPI_UINT64), Int32(CLMPI_MAX)))
  }

  public func broadcast(_ bytes: UnsafeMutableRawBufferPointer, from root: Int) throws(CollectiveError) {
    try check("MPI_Bcast (\(bytes.count) bytes from rank \(root))", clmpi_bcast(bytes.baseAddress, bytes.count, Int32(root)))
  }

  /// MPI_Finalize: call once every rank is done with collective operations (a clean end).
  public func finish() {
    guard !finalized else { return }
    finalized = true
    _ = clmpi_finalize()
  }

  /// MPI_Abort: ends every rank of the job at once with `code`.
  public func abort(code: Int32) -> Never {
    clmpi_abort(code)
    exit(code)
  }

  private func check(_ operation: @autoclosure () -> String, _ rc: Int32) throws(CollectiveError) {
    guard rc != 0 else { return }
    throw CollectiveError(operation: operation(), detail: Self.message(rc))
  }

  private static func message(_ rc: Int32) -> String {
    var text = [CChar](repeating: 0, count: 1024)
    clmpi_error_string(rc, &text, Int32(text.count))
    return Self.text(text)
  }

  private static func text(_ chars: [CChar]) -> String {
    String(decoding: chars.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
  }
}
