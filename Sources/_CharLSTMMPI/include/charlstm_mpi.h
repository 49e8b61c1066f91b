// The few MPI calls data-parallel training needs, bound at run time (dlopen) so that nothing
// links MPI at build time: a machine without Open MPI builds and runs charlstm, and only
// `--distributed` needs libmpi.so.40. No MPI header is used: Open MPI's handles
// (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM, …) are the addresses of exported objects
// (`ompi_mpi_comm_world`, `ompi_mpi_float`, `ompi_mpi_op_sum`), which dlsym finds.
#ifndef CHARLSTM_MPI_H
#define CHARLSTM_MPI_H

#ifdef __cplusplus
extern "C" {
#endif

/// Element types of a reduction.
enum { CLMPI_FLOAT = 0, CLMPI_DOUBLE = 1, CLMPI_UINT64 = 2, CLMPI_BYTE = 3 };
/// Reduction operations.
enum { CLMPI_SUM = 0, CLMPI_MAX = 1, CLMPI_MIN = 2 };

/// Loads the MPI library (`library`, e.g. "libmpi.so.40") with RTLD_GLOBAL, as Open MPI's
/// plug-ins need, and resolves every symbol. Returns 0, or -1 with a message in `error`.
int clmpi_open(const char *library, char *error, int error_size);

/// MPI_Init_thread(MPI_THREAD_FUNNELED): only the thread that calls MPI does so; the kernel
/// worker threads never do. Errors on MPI_COMM_WORLD are then returned, not fatal, so the
/// caller can report them. Fills rank and size. Returns an MPI error code (0: success).
int clmpi_init(int *rank, int *size);

/// In-place MPI_Allreduce over MPI_COMM_WORLD of `count` elements of `type` with `op`.
/// Counts above 2^30 are reduced in chunks. Returns an MPI error code (0: success).
int clmpi_allreduce(void *buffer, long count, int type, int op);

/// MPI_Bcast of `count` bytes from `root` over MPI_COMM_WORLD. Returns an MPI error code.
int clmpi_bcast(void *buffer, long count, int root);

/// MPI_Error_string: the library's text for `code` in `text` (NUL-terminated).
void clmpi_error_string(int code, char *text, int size);

/// MPI_Abort(MPI_COMM_WORLD, code): ends every process of the job.
void clmpi_abort(int code);

/// MPI_Finalize when MPI was initialized and not yet finalized. Returns an MPI error code.
int clmpi_finalize(void);

#ifdef __cplusplus
}
#endif
#endif
