#!/usr/bin/env python3
"""Load generator for `charlstm serve` (a benchmark, not a test; Python standard library and cc).

Starts `charlstm serve CHECKPOINT --port 0` once per concurrency level (so each level's peak
RSS is its own), builds the clients (scripts/sse_clients.c, with `cc`: one thread and epoll,
~14 µs of CPU per character, kernel TCP included, so that on a small machine the clients do not
take the cores the server is measured on; Python clients took ~110 µs), then:

  1. runs as many requests one after another (the sequential baseline), and
  2. runs them from C concurrent streaming clients, each sending its share back to back.

Every request streams (`"stream": true`) `--tokens` characters with its own seed. Reported per
level: aggregate characters/s (all characters / wall time), p50 and p99 time to first
character and per-request latency, the server's peak RSS (VmHWM), and the ratios the issue
sets targets for. Traffic goes to 127.0.0.1 only, and every loop is bounded.

    python3 scripts/loadgen.py --checkpoint /tmp/bench/M.safetensors --clients 1,8,32,128
"""

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile


class Server:
    """A `charlstm serve` child on a free loopback port."""

    def __init__(self, binary, checkpoint, extra):
        self.proc = subprocess.Popen(
            [binary, "serve", checkpoint, "--port", "0"] + extra,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline()
        m = re.search(r"http://127\.0\.0\.1:(\d+)", line)
        if not m:
            self.proc.kill()
            raise SystemExit(f"loadgen: no listening line from the server: {line!r}")
        self.port = int(m.group(1))
        self.banner = line.strip()

    def peak_rss_mib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def build_clients():
    """Compiles scripts/sse_clients.c (the clients: C, epoll, one thread) into a temp folder."""
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sse_clients.c")
    out = os.path.join(tempfile.mkdtemp(prefix="charlstm-loadgen-"), "sse_clients")
    cc = os.environ.get("CC", "cc")
    r = subprocess.run([cc, "-O2", "-o", out, src], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"loadgen: cannot build {src} with {cc}: {r.stderr.strip()}")
    return out


def run_level(clients_bin, port, model, clients, per_client, tokens, prompt, timeout, concurrent):
    """Runs clients × per_client streaming requests, from `clients` concurrent clients or
    (concurrent=False) one after another from one client; returns sse_clients' figures."""
    n, per = (clients, per_client) if concurrent else (1, clients * per_client)
    cmd = [clients_bin, "--port", str(port), "--model", model, "--clients", str(n), "--per-client", str(per),
           "--tokens", str(tokens), "--prompt", prompt, "--timeout", str(timeout)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout + 30)
    if r.returncode != 0:
        raise SystemExit(f"loadgen: the clients failed: {r.stderr.strip()}")
    return json.loads(r.stdout)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", required=True, help="the checkpoint to serve (model id: its file name)")
    ap.add_argument("--charlstm", default=".build/release/charlstm", help="the charlstm binary")
    ap.add_argument("--clients", default="1,8,32,128", help="concurrency levels, comma-separated")
    ap.add_argument("--tokens", type=int, default=200, help="characters per request")
    ap.add_argument("--per-client", type=int, default=2, help="requests each client sends back to back")
    ap.add_argument("--prompt", default="ROMEO:", help="the prompt of every request")
    ap.add_argument("--timeout", type=float, default=600, help="seconds before a request is given up")
    ap.add_argument("--no-sequential", action="store_true", help="skip the one-after-another baseline")
    ap.add_argument("--json", action="store_true", help="print one JSON object per level")
    ap.add_argument("serve_args", nargs="*", help="extra 'charlstm serve' options, after --")
    a = ap.parse_args()
    model = os.path.splitext(os.path.basename(a.checkpoint))[0]
    levels = [int(x) for x in a.clients.split(",")]
    if '"' in a.prompt or "\\" in a.prompt or '"' in model or "\\" in model:
        raise SystemExit("loadgen: the prompt and the model id must not hold quotes or backslashes")
    clients_bin = build_clients()
    rows = []
    single = None
    for c in levels:
        server = Server(a.charlstm, a.checkpoint, ["--max-concurrent", str(max(128, 2 * c))] + a.serve_args)
        try:
            # One warm-up request: packing the weights and first-touch page faults are not load.
            run_level(clients_bin, server.port, model, 1, 1, 20, a.prompt, a.timeout, True)
            seq = None if a.no_sequential else run_level(clients_bin, server.port, model, c, a.per_client, a.tokens, a.prompt, a.timeout, False)
            con = run_level(clients_bin, server.port, model, c, a.per_client, a.tokens, a.prompt, a.timeout, True)
            rss = server.peak_rss_mib()
        finally:
            server.stop()
        if single is None and c == 1:
            single = con
        row = {"model": model, "clients": c, "concurrent": con, "sequential": seq, "peak_rss_mib": rss}
        if single:
            row["throughput_vs_1_client"] = con["chars_per_s"] / single["chars_per_s"]
            row["p99_latency_vs_1_client_p50"] = con["latency_p99_ms"] / single["latency_p50_ms"]
        rows.append(row)
        if a.json:
            print(json.dumps(row), flush=True)
        else:
            s = f" · sequential {seq['chars_per_s']:,.0f} chars/s" if seq else ""
            ratio = f" · {row['throughput_vs_1_client']:.1f}× one client, p99 latency {row['p99_latency_vs_1_client_p50']:.1f}× one request" if single else ""
            print(f"{model} C={c}: {con['chars_per_s']:,.0f} chars/s{s} · TTFC p50 {con['ttfc_p50_ms']:.0f} ms p99 {con['ttfc_p99_ms']:.0f} ms"
                  f" · latency p50 {con['latency_p50_ms']:.0f} ms p99 {con['latency_p99_ms']:.0f} ms · peak RSS {rss:.0f} MiB"
                  f" · client CPU {con['client_cpu_s']:.1f} s{ratio}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
