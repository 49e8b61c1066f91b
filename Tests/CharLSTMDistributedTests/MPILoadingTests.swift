import CharLSTMDistributed
import Testing

/// MPI is loaded at run time: its absence is an error naming the library, never a crash, and
/// costs nothing to a process that never asks for it.
struct MPILoadingTests {
  @Test func aMissingLibraryIsAnErrorNamingIt() {
    #expect {
      _ = try MPICollective(library: "/nonexistent/libmpi.so.40")
    } throws: { error in
      guard case MPIError.libraryMissing(let library, _) = error else { return false }
      return library == "/nonexistent/libmpi.so.40" && "\(error)".contains("apt-get install openmpi-bin libopenmpi-dev")
    }
  }

  @Test func aLibraryThatIsNotMPIIsRefusedByTheSymbolItLacks() {
    // libm is on every Linux machine and has none of MPI's symbols.
    #expect {
      _ = try MPICollective(library: "libm.so.6")
    } throws: { error in
      guard case MPIError.libraryMissing(_, let detail) = error else { return false }
      return detail.contains("MPI_Init_thread")
    }
  }
}
