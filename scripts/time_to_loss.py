#!/usr/bin/env python3
"""Time to a validation loss: charlstm and PyTorch train the same recipe until validation first
reaches --target, one after the other, and the script prints both times and their ratio.

The recipe is the README's 2x512 one (E 64, dropout 0.3, Adam 2e-3 on a cosine schedule over
--steps, B 50 x T 50, clipping 5, the last 5% of the corpus validated with the state carried,
every --eval-every steps). charlstm trains with `--forget-bias 0`; PyTorch with its default
initialization (which learns as fast: README, "A real run"). Each run stops at the first
validation at or below the target (charlstm on SIGTERM: it validates, saves and exits).

Two times per run: training seconds (the sum of the step times up to that validation: charlstm's
per-step `ms` in its run log, PyTorch's `train_seconds`) and the wall time from start to that
validation's line (setup, every validation pass and the steps). PyTorch runs in fp32 and, with
--torch-bf16, also in bf16 autocast; its best is the reference.

Setup: python3 -m venv /tmp/torchpeer && /tmp/torchpeer/bin/pip install torch numpy
Run:   swift build -c release && python3 scripts/time_to_loss.py corpora/tinyshakespeare.txt
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CHARLSTM = os.path.join(ROOT, ".build", "release", "charlstm")
TORCH_TRAIN = os.path.join(HERE, "torch_reference_train.py")


def charlstm_run(a, out_dir):
    ckpt = os.path.join(out_dir, "ttl.safetensors")
    log = os.path.join(out_dir, "ttl.log.jsonl")
    cmd = [CHARLSTM, "train", a.corpus, "--hidden", "512", "--dropout", "0.3", "--forget-bias", "0",
           "--schedule", "cosine", "--lr", "2e-3", "--steps", str(a.steps), "--eval-every", str(a.eval_every),
           "--log-every", "1", "--threads", str(a.threads), "--precision", a.precision, "--ema", "0",
           "--sample-length", "0", "--quiet", "--out", ckpt]
    print("$ " + " ".join(cmd), flush=True)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd)
    reached, curve, offset, ms = None, [], 0, {}
    while proc.poll() is None and reached is None:
        time.sleep(0.5)
        if not os.path.exists(log):
            continue
        with open(log) as f:
            f.seek(offset)
            chunk = f.read()
        complete = chunk[: chunk.rfind("\n") + 1]
        offset += len(complete.encode())
        for line in complete.splitlines():
            d = json.loads(line)
            if d.get("type") == "step":
                ms[d["step"]] = d["ms"]
            elif d.get("type") == "validation":
                curve.append((d["step"], round(d["loss"], 4)))
                if d["loss"] <= a.target and reached is None:
                    wall = time.perf_counter() - t0
                    train = sum(v for s, v in ms.items() if s <= d["step"]) / 1000
                    reached = {"step": d["step"], "val": d["loss"], "train_seconds": train, "wall_seconds": wall}
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    proc.wait()
    return reached, curve


def torch_run(a, precision):
    cmd = [a.python, TORCH_TRAIN, a.corpus, "--hidden", "512", "--dropout", "0.3", "--cosine",
           "--lr", "2e-3", "--steps", str(a.steps), "--eval-every", str(a.eval_every), "--threads", str(a.threads),
           "--target", str(a.target), "--stop-at-target", "--precision", precision]
    print("$ OMP_NUM_THREADS=%d " % a.threads + " ".join(cmd), flush=True)
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads))
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)
    reached, curve = None, []
    for line in proc.stdout:
        d = json.loads(line)
        if "val" in d:
            curve.append((d["step"], round(d["val"], 4)))
            if d["val"] <= a.target and reached is None:
                reached = {"step": d["step"], "val": d["val"], "train_seconds": d["train_seconds"],
                           "wall_seconds": time.perf_counter() - t0}
    proc.wait()
    return reached, curve


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus")
    ap.add_argument("--target", type=float, default=1.50)
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--eval-every", type=int, default=250)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--precision", default="auto", help="charlstm's --precision")
    ap.add_argument("--torch-bf16", action="store_true", help="also time PyTorch in bf16 autocast")
    ap.add_argument("--python", default="/tmp/torchpeer/bin/python")
    a = ap.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as out_dir:
        results["charlstm"] = charlstm_run(a, out_dir)
    results["pytorch fp32"] = torch_run(a, "fp32")
    if a.torch_bf16:
        results["pytorch bf16"] = torch_run(a, "bf16")
    for name, (reached, curve) in results.items():
        print(json.dumps({"run": name, "reached": reached, "curve": curve}), flush=True)
    ours = results["charlstm"][0]
    theirs = [r for name, (r, _) in results.items() if name != "charlstm" and r is not None]
    if ours is None or not theirs:
        print("a run did not reach the target; no ratio", flush=True)
        return 1
    best = min(theirs, key=lambda r: r["train_seconds"])
    best_wall = min(theirs, key=lambda r: r["wall_seconds"])
    print("time to validation %.2f: charlstm %.0f s of training (%.0f s wall, step %d), PyTorch's best %.0f s (%.0f s wall): "
          "charlstm takes %.2f of PyTorch's training time, %.2f of its wall time"
          % (a.target, ours["train_seconds"], ours["wall_seconds"], ours["step"], best["train_seconds"],
             best_wall["wall_seconds"], ours["train_seconds"] / best["train_seconds"],
             ours["wall_seconds"] / best_wall["wall_seconds"]), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
