// Run-time binding of the MPI calls in charlstm_mpi.h. See the header for why dlopen.
#include "charlstm_mpi.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

typedef void *Handle;  // MPI_Comm, MPI_Datatype, MPI_Op, MPI_Errhandler: pointers in Open MPI
#define MPI_IN_PLACE ((void *)1)
#define MPI_THREAD_FUNNELED 1

static int (*p_init_thread)(int *, char ***, int, int *);
static int (*p_comm_rank)(Handle, int *);
static int (*p_comm_size)(Handle, int *);
static int (*p_allreduce)(const void *, void *, int, Handle, Handle, Handle);
static int (*p_bcast)(void *, int, Handle, int, Handle);
static int (*p_abort)(Handle, int);
static int (*p_finalize)(void);
static int (*p_initialized)(int *);
static int (*p_finalized)(int *);
static int (*p_set_errhandler)(Handle, Handle);
static int (*p_error_string)(int, char *, int *);
static Handle comm_world, errors_return;
static Handle types[4];
static Handle ops[3];

static void *library_handle;

int clmpi_open(const char *library, char *error, int error_size) {
  if (library_handle) return 0;
  void *h = dlopen(library, RTLD_NOW | RTLD_GLOBAL);
  if (!h) {
    snprintf(error, error_size, "%s", dlerror());
    return -1;
  }
  struct { const char *name; void **slot; } wanted[] = {
    {"MPI_Init_thread", (void **)&p_init_thread},   {"MPI_Comm_rank", (void **)&p_comm_rank},
    {"MPI_Comm_size", (void **)&p_comm_size},       {"MPI_Allreduce", (void **)&p_allreduce},
    {"MPI_Bcast", (void **)&p_bcast},               {"MPI_Abort", (void **)&p_abort},
    {"MPI_Finalize", (void **)&p_finalize},         {"MPI_Initialized", (void **)&p_initialized},
    {"MPI_Finalized", (void **)&p_finalized},       {"MPI_Comm_set_errhandler", (void **)&p_set_errhandler},
    {"MPI_Error_string", (void **)&p_error_string}, {"ompi_mpi_comm_world", &comm_world},
    {"ompi_mpi_errors_return", &errors_return},     {"ompi_mpi_float", &types[CLMPI_FLOAT]},
    {"ompi_mpi_double", &types[CLMPI_DOUBLE]},      {"ompi_mpi_uint64_t", &types[CLMPI_UINT64]},
    {"ompi_mpi_byte", &types[CLMPI_BYTE]},          {"ompi_mpi_op_sum", &ops[CLMPI_SUM]},
    {"ompi_mpi_op_max", &ops[CLMPI_MAX]},           {"ompi_mpi_op_min", &ops[CLMPI_MIN]},
  };
  for (size_t i = 0; i < sizeof wanted / sizeof wanted[0]; i++) {
    void *s = dlsym(h, wanted[i].name);
    if (!s) {
      snprintf(error, error_size, "%s has no symbol %s (charlstm needs Open MPI 4 or later)", library, wanted[i].name);
      dlclose(h);
      return -1;
    }
    *wanted[i].slot = s;
  }
  library_handle = h;
  return 0;
}

int clmpi_init(int *rank, int *size) {
  int provided = 0;
  int rc = p_init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
  if (rc) return rc;
  if ((rc = p_set_errhandler(comm_world, errors_return))) return rc;
  if ((rc = p_comm_rank(comm_world, rank))) return rc;
  return p_comm_size(comm_world, size);
}

int clmpi_allreduce(void *buffer, long count, int type, int op) {
  static const long chunk = 1L << 30;
  static const long width[4] = {4, 8, 8, 1};
  char *p = buffer;
  for (long done = 0; done < count; done += chunk) {
    long n = count - done < chunk ? count - done : chunk;
    int rc = p_allreduce(MPI_IN_PLACE, p + done * width[type], (int)n, types[type], ops[op], comm_world);
    if (rc) return rc;
  }
  return 0;
}

int clmpi_bcast(void *buffer, long count, int root) {
  static const long chunk = 1L << 30;
  char *p = buffer;
  for (long done = 0; done < count; done += chunk) {
    long n = count - done < chunk ? count - done : chunk;
    int rc = p_bcast(p + done, (int)n, types[CLMPI_BYTE], root, comm_world);
    if (rc) return rc;
  }
  return 0;
}

void clmpi_error_string(int code, char *text, int size) {
  char buffer[1024];  // MPI_MAX_ERROR_STRING is 256 in Open MPI
  int length = 0;
  if (!p_error_string || p_error_string(code, buffer, &length)) {
    snprintf(text, size, "MPI error %d", code);
    return;
  }
  buffer[length < (int)sizeof buffer ? length : (int)sizeof buffer - 1] = 0;
  snprintf(text, size, "%s", buffer);
}

void clmpi_abort(int code) {
  if (p_abort) p_abort(comm_world, code);
}

int clmpi_finalize(void) {
  int initialized = 0, finalized = 0;
  if (!p_initialized || p_initialized(&initialized) || !initialized) return 0;
  if (p_finalized(&finalized) || finalized) return 0;
  return p_finalize();
}
