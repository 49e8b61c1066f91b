/* Streaming completion clients for `charlstm serve`, in one thread with epoll: the load
 * generator's clients cost ~14 µs of CPU per character instead of Python's ~110, so a
 * measurement on a 2-core machine measures the server, not the clients.
 *
 *   cc -O2 -o /tmp/sse_clients scripts/sse_clients.c
 *   /tmp/sse_clients --port 8080 --model M --clients 32 --per-client 2 --tokens 200 [--prompt TEXT]
 *
 * Each of C clients sends its requests one after another (a new connection each, `"stream":
 * true`, its own seed 1000·client + request, temperature 0.8), decodes the chunked SSE body and
 * counts the characters (Unicode scalars) of every `text`. Prints one JSON object: requests,
 * characters, wall seconds, characters/s, time to first character and latency (p50, p99, mean,
 * in ms) and the client's own CPU seconds. Loopback only; every wait is bounded by --timeout. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static void die(const char *what) {
  fprintf(stderr, "sse_clients: %s\n", what);
  exit(1);
}

typedef struct {
  int fd, id, done_requests;
  double start, first;
  long chars;
  /* response parsing */
  int headers_done, chunked, finished;
  long chunk_left; /* bytes left in the current chunk; -1: reading a size line */
  int skip_crlf;
  char raw[1 << 16];
  size_t raw_len;
  char line[1 << 16];
  size_t line_len;
  char request[4096];
  size_t req_len, req_sent;
} client;

static int port = 8080, nclients = 1, per_client = 1, tokens = 200;
static const char *model = "M", *prompt = "ROMEO:";
static double timeout_s = 600;
static double *ttfc, *lat;
static long nresults, total_chars;

/* Unicode scalars in the JSON string that starts at s (after the opening quote). */
static long count_json_chars(const char *s, const char *end) {
  long n = 0;
  while (s < end && *s != '"') {
    if (*s == '\\') {
      if (s + 1 < end && s[1] == 'u') {
        unsigned v = (unsigned)strtoul((char[]){s[2], s[3], s[4], s[5], 0}, NULL, 16);
        s += 6;
        if (v >= 0xD800 && v < 0xDC00) continue; /* a high surrogate: the low one counts */
        n++;
        continue;
      }
      s += 2;
      n++;
      continue;
    }
    if (((unsigned char)*s & 0xC0) != 0x80) n++;
    s++;
  }
  return n;
}

static void on_line(client *c, const char *l, size_t len) {
  if (len < 6 || memcmp(l, "data: ", 6) != 0) return;
  if (len >= 12 && memcmp(l + 6, "[DONE]", 6) == 0) { c->finished = 1; return; }
  const char *end = l + len;
  for (const char *p = l; p + 8 <= end; p++) {
    if (memcmp(p, "\"text\":\"", 8) == 0) {
      long n = count_json_chars(p + 8, end);
      if (n > 0 && c->first < 0) c->first = now() - c->start;
      c->chars += n;
      return;
    }
  }
}

static void on_body(client *c, const char *d, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (d[i] == '\n') {
      on_line(c, c->line, c->line_len);
      c->line_len = 0;
    } else if (c->line_len < sizeof c->line - 1) {
      c->line[c->line_len++] = d[i];
    }
  }
}

/* Consumes raw bytes: status line and headers, then the (chunked) body. */
static void on_data(client *c) {
  size_t pos = 0;
  if (!c->headers_done) {
    char *e = memmem(c->raw, c->raw_len, "\r\n\r\n", 4);
    if (!e) return;
    if (c->raw_len < 12 || memcmp(c->raw + 9, "200", 3) != 0) {
      fprintf(stderr, "sse_clients: %.*s\n", (int)(strchr(c->raw, '\r') - c->raw), c->raw);
      die("the server did not answer 200");
    }
    c->chunked = memmem(c->raw, (size_t)(e - c->raw), "chunked", 7) != NULL;
    c->headers_done = 1;
    c->chunk_left = -1;
    pos = (size_t)(e - c->raw) + 4;
  }
  while (pos < c->raw_len) {
    if (!c->chunked) {
      on_body(c, c->raw + pos, c->raw_len - pos);
      pos = c->raw_len;
      break;
    }
    if (c->skip_crlf) {
      char *e = memmem(c->raw + pos, c->raw_len - pos, "\r\n", 2);
      if (!e) break;
      pos = (size_t)(e - c->raw) + 2;
      c->skip_crlf = 0;
      continue;
    }
    if (c->chunk_left < 0) {
      char *e = memmem(c->raw + pos, c->raw_len - pos, "\r\n", 2);
      if (!e) break;
      c->chunk_left = strtol(c->raw + pos, NULL, 16);
      pos = (size_t)(e - c->raw) + 2;
      if (c->chunk_left == 0) { c->finished = 1; pos = c->raw_len; break; }
      continue;
    }
    size_t take = c->raw_len - pos < (size_t)c->chunk_left ? c->raw_len - pos : (size_t)c->chunk_left;
    on_body(c, c->raw + pos, take);
    pos += take;
    c->chunk_left -= (long)take;
    if (c->chunk_left == 0) { c->chunk_left = -1; c->skip_crlf = 1; }
  }
  memmove(c->raw, c->raw + pos, c->raw_len - pos);
  c->raw_len -= pos;
}

static void start_request(client *c, int ep) {
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->fd < 0) die("socket failed");
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  char body[2048];
  int seed = 1000 * c->id + c->done_requests;
  int bl = snprintf(body, sizeof body,
                    "{\"model\":\"%s\",\"prompt\":\"%s\",\"max_tokens\":%d,\"seed\":%d,\"temperature\":0.8,\"stream\":true}",
                    model, prompt, tokens, seed);
  c->req_len = (size_t)snprintf(c->request, sizeof c->request,
                                "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                                "Content-Length: %d\r\nConnection: close\r\n\r\n%s", bl, body);
  c->req_sent = 0;
  c->headers_done = c->chunked = c->finished = c->skip_crlf = 0;
  c->raw_len = c->line_len = 0;
  c->chars = 0;
  c->first = -1;
  c->start = now();
  if (connect(c->fd, (struct sockaddr *)&a, sizeof a) < 0 && errno != EINPROGRESS) die("connect failed");
  struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
  if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) die("epoll_ctl failed");
}

static void end_request(client *c, int ep, long *active) {
  double latency = now() - c->start;
  if (!c->finished) die("a response ended before its last event");
  ttfc[nresults] = c->first < 0 ? latency : c->first;
  lat[nresults] = latency;
  nresults++;
  total_chars += c->chars;
  epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  c->done_requests++;
  if (c->done_requests < per_client) start_request(c, ep);
  else (*active)--;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* Nearest rank, as scripts/loadgen.py's percentile(). */
static double pct(double *v, long n, double p) {
  qsort(v, (size_t)n, sizeof *v, cmp);
  long k = (long)(p / 100 * n + 0.5 + 0.5) - 1;
  if (k < 0) k = 0;
  if (k > n - 1) k = n - 1;
  return v[k];
}

int main(int argc, char **argv) {
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--port")) port = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--model")) model = argv[i + 1];
    else if (!strcmp(argv[i], "--clients")) nclients = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--per-client")) per_client = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--tokens")) tokens = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--prompt")) prompt = argv[i + 1];
    else if (!strcmp(argv[i], "--timeout")) timeout_s = atof(argv[i + 1]);
    else die("unknown option (see the comment at the top of sse_clients.c)");
  }
  if (port < 1 || port > 65535 || nclients < 1 || nclients > 4096 || per_client < 1 || per_client > 10000 || tokens < 0)
    die("--port 1-65535, --clients 1-4096, --per-client 1-10000, --tokens >= 0");
  if (strpbrk(model, "\"\\") || strpbrk(prompt, "\"\\")) die("--model and --prompt must not hold quotes or backslashes");
  long total = (long)nclients * per_client;
  ttfc = calloc((size_t)total, sizeof *ttfc);
  lat = calloc((size_t)total, sizeof *lat);
  client *cs = calloc((size_t)nclients, sizeof *cs);
  if (!ttfc || !lat || !cs) die("out of memory");
  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) die("epoll_create1 failed");
  double t0 = now();
  for (int i = 0; i < nclients; i++) {
    cs[i].id = i;
    start_request(&cs[i], ep);
  }
  long active = nclients;
  struct epoll_event evs[256];
  while (active > 0) {
    if (now() - t0 > timeout_s) die("timed out");
    int n = epoll_wait(ep, evs, 256, 1000);
    if (n < 0 && errno != EINTR) die("epoll_wait failed");
    for (int i = 0; i < n; i++) {
      client *c = evs[i].data.ptr;
      if (c->req_sent < c->req_len && (evs[i].events & EPOLLOUT)) {
        ssize_t w = write(c->fd, c->request + c->req_sent, c->req_len - c->req_sent);
        if (w > 0) c->req_sent += (size_t)w;
        else if (w < 0 && errno != EAGAIN) die("write failed");
        if (c->req_sent == c->req_len) {
          struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
          epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
        }
      }
      if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        for (;;) {
          ssize_t r = read(c->fd, c->raw + c->raw_len, sizeof c->raw - c->raw_len);
          if (r > 0) {
            c->raw_len += (size_t)r;
            on_data(c);
            if (c->raw_len == sizeof c->raw) die("a response line is too long");
            continue;
          }
          if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) { end_request(c, ep, &active); break; }
          if (c->finished) { end_request(c, ep, &active); }
          break;
        }
      }
    }
  }
  double wall = now() - t0;
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec * 1e-6;
  double ml = 0;
  for (long i = 0; i < nresults; i++) ml += lat[i];
  printf("{\"requests\": %ld, \"chars\": %ld, \"wall_s\": %.6f, \"chars_per_s\": %.1f, \"client_cpu_s\": %.4f, ",
         nresults, total_chars, wall, total_chars / wall, cpu);
  printf("\"ttfc_p50_ms\": %.3f, \"ttfc_p99_ms\": %.3f, ", 1000 * pct(ttfc, nresults, 50), 1000 * pct(ttfc, nresults, 99));
  printf("\"latency_p50_ms\": %.3f, \"latency_p99_ms\": %.3f, \"latency_mean_ms\": %.3f}\n",
         1000 * pct(lat, nresults, 50), 1000 * pct(lat, nresults, 99), 1000 * ml / nresults);
  return fflush(stdout) != 0;
}
