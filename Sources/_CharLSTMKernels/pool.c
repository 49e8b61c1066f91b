/* Persistent worker pool: threads are created once (and re-created only by clk_set_threads);
 * jobs are handed over by bumping a generation counter. Workers spin briefly, then sleep on a
 * condition variable. One job at a time: a caller that finds the pool busy runs serially.
 *
 * Affinity: a job's tasks are cut into one contiguous range per thread (the caller is thread 0,
 * each worker keeps its own index), and a thread runs its own range first, then takes what is
 * left of the others'. A product called again with the same shape (the recurrent product of
 * every time step) so gives each thread the same tiles, whose slice of the weights stays in
 * that core's cache; handing tiles out first-come let them move between cores at every step,
 * which made the 2×128 recurrent product no faster on 2 threads than on one (Intel VM). A
 * thread that is late (descheduled) finds its range taken by the others: nobody waits for it.
 * Which thread runs a task never changes what the task computes. */
#include "internal.h"
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#if defined(__x86_64__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#elif defined(__aarch64__)
#define cpu_relax() __asm__ volatile("yield")
#else
#define cpu_relax() ((void)0)
#endif

#define MAX_THREADS 256
#define OPEN ((uint64_t)1 << 31)
/* How long an idle worker spins before it sleeps: long enough to catch the next product of a
 * training step or a generation step (they follow within microseconds), short enough that an
 * idle worker does not take a core from other threads of the process (a server's network
 * threads) for long. Bounded by time, not by a count of pause instructions: one pause costs
 * from a few cycles to ~140 depending on the CPU (30,000 took 0.9 ms on Zen 3). */
#define SPIN_NS 50000L
static long elapsed_ns(const struct timespec *t0) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (t.tv_sec - t0->tv_sec) * 1000000000L + (t.tv_nsec - t0->tv_nsec);
}

static struct {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int sleepers;
  _Atomic unsigned long gen;
  /* current job (written by the owner before bumping gen) */
  clk_task_fn fn;
  void *ctx;
  long ntasks;
  int quit;
  int nranges; /* threads taking part: range r = [r·ntasks/nranges, (r+1)·ntasks/nranges) */
  _Atomic int done;
  /* (generation << 32) | OPEN | number of workers that joined the current job. A worker runs
   * tasks only after joining while the job is open; the caller closes the job after its own
   * share and waits only for the workers that joined, never for a descheduled one. */
  _Atomic uint64_t state;
  /* configuration */
  int nworkers; /* threads - 1 */
  pthread_t tids[MAX_THREADS];
  _Atomic int busy;
  _Atomic int threads; /* desired total threads (0 = not initialised) */
} P = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

/* Per range: the next unclaimed task (a claim is a fetch-add; a value below the range's end is
 * a task the claimer runs). One cache line each. */
static struct {
  _Alignas(64) _Atomic long next;
} R[MAX_THREADS];

static long range_end(int r) { return (long)((__int128)(r + 1) * P.ntasks / P.nranges); }

/* Runs the tasks of range `self`, then whatever is left of the others'. */
static void run_tasks(int self) {
  int n = P.nranges;
  for (int i = 0; i < n; i++) {
    int r = (self + i) % n;
    long end = range_end(r), t;
    while ((t = atomic_fetch_add_explicit(&R[r].next, 1, memory_order_relaxed)) < end)
      P.fn(P.ctx, t);
  }
}

typedef struct {
  unsigned long gen; /* the generation at creation: a job published before the thread first
                        runs must not be missed */
  int index;         /* 1 … nworkers: the range this worker runs first */
} worker_arg;

static worker_arg args[MAX_THREADS];

static void *worker_main(void *arg) {
  const worker_arg *me = arg;
  unsigned long seen = me->gen;
  const int self = me->index;
  for (;;) {
    unsigned long g;
    long spins = 0;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while ((g = atomic_load_explicit(&P.gen, memory_order_acquire)) == seen) {
      /* The clock is read every 64 pauses. */
      if ((++spins & 63) != 0 || elapsed_ns(&t0) < SPIN_NS) { cpu_relax(); continue; }
      pthread_mutex_lock(&P.mu);
      P.sleepers++;
      while (atomic_load(&P.gen) == seen) pthread_cond_wait(&P.cv, &P.mu);
      P.sleepers--;
      pthread_mutex_unlock(&P.mu);
    }
    seen = g;
    if (P.quit) return NULL;
    uint64_t st = atomic_load_explicit(&P.state, memory_order_acquire);
    int joined = 0;
    while ((st >> 32) == (g & 0xffffffffu) && (st & OPEN)) {
      if (atomic_compare_exchange_weak_explicit(&P.state, &st, st + 1, memory_order_acq_rel,
                                                memory_order_acquire)) {
        joined = 1;
        break;
      }
    }
    if (!joined) continue;
    run_tasks(self < P.nranges ? self : self % P.nranges);
    atomic_fetch_add_explicit(&P.done, 1, memory_order_release);
  }
}

static void publish(void) {
  atomic_store_explicit(&P.done, 0, memory_order_relaxed);
  unsigned long g = atomic_load_explicit(&P.gen, memory_order_relaxed) + 1;
  atomic_store_explicit(&P.state, ((uint64_t)(g & 0xffffffffu) << 32) | OPEN,
                        memory_order_relaxed);
  atomic_store_explicit(&P.gen, g, memory_order_release);
  pthread_mutex_lock(&P.mu);
  if (P.sleepers) pthread_cond_broadcast(&P.cv);
  pthread_mutex_unlock(&P.mu);
}

/* Closes the job and waits for the workers that joined it. */
static void wait_done(void) {
  uint64_t st = atomic_fetch_and_explicit(&P.state, ~OPEN, memory_order_acq_rel);
  int joined = (int)(st & (OPEN - 1));
  long spins = 0;
  while (atomic_load_explicit(&P.done, memory_order_acquire) < joined) {
    if (++spins < 4096) cpu_relax();
    else sched_yield();
  }
}

static int default_threads(void) {
  const char *env = getenv("CHARLSTM_THREADS");
  int n = env ? atoi(env) : 0;
  if (n < 1) n = (int)sysconf(_SC_NPROCESSORS_ONLN);
  return n < 1 ? 1 : n;
}

static void acquire_pool(void) {
  int expected = 0;
  while (!atomic_compare_exchange_weak(&P.busy, &expected, 1)) { expected = 0; sched_yield(); }
}

/* Must hold busy. */
static void resize(int threads) {
  if (threads > MAX_THREADS) threads = MAX_THREADS;
  if (P.nworkers > 0) {
    P.quit = 1;
    publish();
    for (int i = 0; i < P.nworkers; i++) pthread_join(P.tids[i], NULL);
    P.quit = 0;
    P.nworkers = 0;
  }
  int created = 0;
  for (int i = 0; i < threads - 1; i++) {
    args[created] = (worker_arg){atomic_load(&P.gen), created + 1};
    if (pthread_create(&P.tids[created], NULL, worker_main, &args[created]) == 0) created++;
  }
  P.nworkers = created;
  atomic_store(&P.threads, threads);
}

void clk_set_threads(int n) {
  if (n < 1) n = default_threads();
  acquire_pool();
  if (n != atomic_load(&P.threads)) resize(n);
  atomic_store(&P.busy, 0);
}

int clk_get_threads(void) {
  int t = atomic_load(&P.threads);
  return t ? t : default_threads();
}

void clk_parallel_for(long ntasks, double work, clk_task_fn fn, void *ctx) {
  if (ntasks <= 0) return;
  int threads = clk_get_threads();
  int expected = 0;
  if (ntasks == 1 || threads <= 1 || work < 1.5e6 ||
      !atomic_compare_exchange_strong(&P.busy, &expected, 1)) {
    for (long t = 0; t < ntasks; t++) fn(ctx, t);
    return;
  }
  if (atomic_load(&P.threads) == 0) resize(threads);
  if (P.nworkers == 0) {
    atomic_store(&P.busy, 0);
    for (long t = 0; t < ntasks; t++) fn(ctx, t);
    return;
  }
  P.fn = fn;
  P.ctx = ctx;
  P.ntasks = ntasks;
  P.nranges = P.nworkers + 1 < ntasks ? P.nworkers + 1 : (int)ntasks;
  for (int r = 0; r < P.nranges; r++)
    atomic_store_explicit(&R[r].next, (long)((__int128)r * ntasks / P.nranges), memory_order_relaxed);
  publish();
  run_tasks(0);
  wait_done();
  atomic_store(&P.busy, 0);
}
