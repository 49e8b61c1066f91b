#!/usr/bin/env python3
"""Load generator for `charlstm serve` (a benchmark, not a test; Python standard library only).

Starts `charlstm serve CHECKPOINT --port 0` once per concurrency level (so each level's peak
RSS is its own), then:

  1. runs the level's requests one after another (the sequential baseline), and
  2. runs them from C concurrent streaming clients, each sending its share back to back.

Every request streams (`"stream": true`) `--tokens` characters with its own seed. Reported per
level: aggregate characters/s (all characters / wall time), p50 and p99 time to first
character and per-request latency, the server's peak RSS (VmHWM), and the ratios the issue
sets targets for. Traffic goes to 127.0.0.1 only, and every loop is bounded.

    python3 scripts/loadgen.py --checkpoint /tmp/bench/M.safetensors --clients 1,8,32,128
"""

import argparse
import http.client
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time


def percentile(values, p):
    """The p-th percentile (nearest rank) of values."""
    s = sorted(values)
    if not s:
        return float("nan")
    k = max(0, min(len(s) - 1, int(round(p / 100 * len(s) + 0.5)) - 1))
    return s[k]


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


def one_request(port, model, prompt, tokens, seed, timeout):
    """Streams one completion; returns (time to first character, latency, characters)."""
    body = json.dumps({"model": model, "prompt": prompt, "max_tokens": tokens, "seed": seed,
                       "temperature": 0.8, "stream": True})
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    start = time.perf_counter()
    conn.request("POST", "/v1/completions", body, {"Content-Type": "application/json"})
    resp = conn.getresponse()
    if resp.status != 200:
        raise RuntimeError(f"HTTP {resp.status}: {resp.read()[:200]!r}")
    first = None
    chars = 0
    while True:
        line = resp.readline()
        if not line:
            break
        if not line.startswith(b"data: "):
            continue
        payload = line[6:].strip()
        if payload == b"[DONE]":
            break
        for c in json.loads(payload)["choices"]:
            n = len(c["text"])
            if n and first is None:
                first = time.perf_counter() - start
            chars += n
    latency = time.perf_counter() - start
    conn.close()
    return first if first is not None else latency, latency, chars


def run_level(port, model, clients, per_client, tokens, prompt, timeout, concurrent):
    """Runs clients × per_client requests, concurrently or one after another."""
    results = []
    lock = threading.Lock()
    errors = []

    def client(c):
        for r in range(per_client):
            try:
                out = one_request(port, model, prompt, tokens, 1000 * c + r, timeout)
            except Exception as e:  # reported, never retried
                with lock:
                    errors.append(str(e))
                return
            with lock:
                results.append(out)

    cpu0 = os.times()
    start = time.perf_counter()
    if concurrent:
        threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    else:
        for c in range(clients):
            client(c)
    wall = time.perf_counter() - start
    cpu1 = os.times()
    if errors:
        raise SystemExit(f"loadgen: {len(errors)} requests failed, first: {errors[0]}")
    chars = sum(r[2] for r in results)
    return {
        "requests": len(results),
        "chars": chars,
        "wall_s": wall,
        "chars_per_s": chars / wall,
        "ttfc_p50_ms": 1000 * percentile([r[0] for r in results], 50),
        "ttfc_p99_ms": 1000 * percentile([r[0] for r in results], 99),
        "latency_p50_ms": 1000 * percentile([r[1] for r in results], 50),
        "latency_p99_ms": 1000 * percentile([r[1] for r in results], 99),
        "latency_mean_ms": 1000 * statistics.mean(r[1] for r in results),
        "client_cpu_s": (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system),
    }


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
    rows = []
    single = None
    for c in levels:
        server = Server(a.charlstm, a.checkpoint, ["--max-concurrent", str(max(128, c))] + a.serve_args)
        try:
            # One warm-up request: packing the weights and first-touch page faults are not load.
            one_request(server.port, model, a.prompt, 20, 0, a.timeout)
            seq = None if a.no_sequential else run_level(server.port, model, c, a.per_client, a.tokens, a.prompt, a.timeout, False)
            con = run_level(server.port, model, c, a.per_client, a.tokens, a.prompt, a.timeout, True)
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
