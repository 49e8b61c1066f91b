// The transport alone: time of one in-place MPI_Allreduce (sum) of P floats after a barrier,
// median of 30, for the S and M gradient sizes. Not part of the build.
//   mpicc -O2 scripts/allreduce_probe.c -o /tmp/allreduce_probe
//   mpirun --allow-run-as-root --oversubscribe -np 2 /tmp/allreduce_probe 243969 3322497
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

static int cmp(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return (x > y) - (x < y); }

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  for (int a = 1; a < argc; a++) {
    long n = atol(argv[a]);
    float *g = calloc(n, sizeof *g);
    double t[30];
    for (int i = 0; i < 33; i++) {
      MPI_Barrier(MPI_COMM_WORLD);
      double t0 = MPI_Wtime();
      MPI_Allreduce(MPI_IN_PLACE, g, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
      if (i >= 3) t[i - 3] = MPI_Wtime() - t0;
    }
    qsort(t, 30, sizeof t[0], cmp);
    if (rank == 0) printf("P %ld floats (%.1f MB): median %.3f ms, p10 %.3f ms\n", n, n * 4 / 1e6, t[15] * 1e3, t[3] * 1e3);
    free(g);
  }
  MPI_Finalize();
}
