#!/usr/bin/env python3
"""Run charlstm and the PyTorch CPU peer side by side, configuration by configuration, and print ratios.

Each measurement is its own process (so peak RSS is per configuration), and charlstm and PyTorch
alternate within a configuration so that machine noise hits both alike. PyTorch is measured in
fp32 with oneDNN on and off and in bf16 (autocast), and its best of the three is the reference
(Speed II); the fp32 ratio compares charlstm --precision fp32 with PyTorch's best fp32.

Setup (once):  python3 -m venv /tmp/torchpeer && /tmp/torchpeer/bin/pip install torch numpy
Run:           swift build -c release && python3 scripts/bench_vs_pytorch.py [--quick] [--out results.jsonl]
"""
import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PEER = os.path.join(ROOT, "..", "shared", "peers", "torch_charlstm_bench.py")
NOMINAL_PEAK = 268.0  # GFLOP/s fp32 per core, as stated in the Speed issue
SIZES = {"S": (64, 128, 2, 50, 50), "M": (64, 512, 2, 50, 50), "L": (128, 1024, 3, 32, 64)}
# (name, mode, size, threads, vocab, target ratio to PyTorch's best): Speed II's targets for an
# AVX512-BF16 (Zen) machine, the smaller of its two columns; the fp32 rows' target is 1.1.
MATRIX = [
    ("train S 2t", "train", "S", 2, 65, 1.4), ("train M 2t", "train", "M", 2, 65, 1.8),
    ("train L 2t", "train", "L", 2, 65, 1.8),
    ("train S 1t", "train", "S", 1, 65, 1.4), ("train M 1t", "train", "M", 1, 65, 1.4),
    ("train L 1t", "train", "L", 1, 65, 1.4),
    ("train M 2t V4000", "train", "M", 2, 4000, 1.6),
    ("sample S", "sample", "S", 1, 65, 15.0), ("sample M", "sample", "M", 1, 65, 5.0),
]
FP32_TARGET = 1.1


def run(cmd, env):
    out = subprocess.run(cmd, check=True, env=env, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def try_run(cmd, env):
    """run(), or None with the reason when the program fails (PyTorch's oneDNN has no bf16 LSTM
    on CPUs without AVX-512: "could not create a primitive descriptor")."""
    try:
        return run(cmd, env), None
    except subprocess.CalledProcessError as e:
        last = (e.stderr or "").strip().splitlines()
        return None, (last[-1] if last else f"exit {e.returncode}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--python", default="/tmp/torchpeer/bin/python")
    ap.add_argument("--charlstm", default=os.path.join(ROOT, ".build", "release", "charlstm"))
    ap.add_argument("--quick", action="store_true", help="fewer steps (a smoke run, noisy)")
    ap.add_argument("--only", default=None, help="a substring of the configuration names to run, or a comma-separated list of names")
    ap.add_argument("--out", default=None, help="append every JSON result here")
    ap.add_argument("--precision", default="auto", help="charlstm's --precision for the main rows (fp32|bf16|auto)")
    a = ap.parse_args()
    rows = []
    for name, mode, size, threads, vocab, target in MATRIX:
        if a.only and not any(part and part == name for part in a.only.split(",")) and a.only not in name:
            continue
        E, H, L, B, T = SIZES[size]
        warm, steps = (1, 3) if a.quick else ((3, 10) if size == "L" else (5, 20))
        knobs = ["--embed", str(E), "--hidden", str(H), "--layers", str(L), "--batch", str(B), "--seq", str(T),
                 "--vocab", str(vocab), "--threads", str(threads), "--warmup", str(warm), "--steps", str(steps),
                 "--sample-len", "2000", "--temperature", "0.8"]
        env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
        ours = run([a.charlstm, "bench", mode, "--precision", a.precision] + knobs, env)
        theirs = {}
        for mk in ("on", "off"):
            theirs[mk] = run([a.python, PEER, "--mode", mode, "--mkldnn", mk, "--precision", "fp32"] + knobs, env)
        ours_fp32 = run([a.charlstm, "bench", mode, "--precision", "fp32"] + knobs, env)
        bf16, why = try_run([a.python, PEER, "--mode", mode, "--mkldnn", "on", "--precision", "bf16"] + knobs, env)
        if bf16 is not None:
            theirs["bf16"] = bf16
        else:
            print(f"{name}: PyTorch bf16 (oneDNN) not available here: {why}", file=sys.stderr, flush=True)
        ours_again = run([a.charlstm, "bench", mode, "--precision", a.precision] + knobs, env)
        key = "train" if mode == "train" else "sample"
        cps = lambda r: r[key]["chars_per_s"]["median"]
        best_mk = max(theirs, key=lambda k: cps(theirs[k]))
        ref = theirs[best_mk]
        best_fp32 = max(cps(theirs["on"]), cps(theirs["off"]))
        our = max(ours, ours_again, key=cps)
        ratio = cps(our) / cps(ref)
        # Our fp32 figure, best of every fp32 run of the row (where --precision auto resolved to
        # fp32, the two main runs are fp32 runs too), against PyTorch's best of its two fp32 runs.
        our_fp32_runs = [ours_fp32] + [r for r in (ours, ours_again) if r.get("precision") == "fp32"]
        fp32_ratio = max(cps(r) for r in our_fp32_runs) / best_fp32
        rss = our["peak_rss_mib"] / ref["peak_rss_mib"]
        used = threads  # the ceiling of the threads the run was given
        peak = NOMINAL_PEAK * used
        ceiling = max(ours.get("fma_peak_gflops_per_thread", 0), ours_again.get("fma_peak_gflops_per_thread", 0)) * used
        # The machine's best ceiling: the bf16 dot-product loop where it outruns the FMAs (any
        # implementation may multiply in bf16, PyTorch's autocast does), else the FMA loop.
        best_ceiling = max(ceiling, max([(r.get("bf16_dot_peak_gflops_per_thread") or 0) * used for r in (ours, ours_again) if r.get("bf16_dot_faster")], default=0))
        torch_gf = ref[key]["gflops_median"]
        rows.append((name, our[key]["chars_per_s"]["median"], ref[key]["chars_per_s"]["median"], best_mk, ratio, target, fp32_ratio,
                     our[key]["gflops_median"], our[key]["gflops_median"] / peak, our["peak_rss_mib"], ref["peak_rss_mib"], rss,
                     our[key]["gflops_median"] / ceiling if ceiling else float("nan"),
                     torch_gf / ceiling if ceiling else float("nan"),
                     ceiling / torch_gf if ceiling and torch_gf else float("nan"),
                     our[key]["gflops_median"] / best_ceiling if best_ceiling else float("nan"),
                     torch_gf / best_ceiling if best_ceiling else float("nan"),
                     best_ceiling / torch_gf if best_ceiling and torch_gf else float("nan")))
        if a.out:
            with open(a.out, "a") as f:
                for r in [ours, ours_fp32, ours_again] + list(theirs.values()):
                    f.write(json.dumps(dict(r, config=name)) + "\n")
        print(f"{name}: charlstm {rows[-1][1]:,.0f} chars/s ({our.get('precision', '?')}) vs torch {rows[-1][2]:,.0f} ({best_mk}) = {ratio:.2f}x; fp32 vs fp32 {fp32_ratio:.2f}x", file=sys.stderr, flush=True)
    print(f"charlstm precision: {a.precision}; PyTorch's best of fp32 oneDNN on / off and bf16 autocast\n")
    print("| config | charlstm chars/s | PyTorch chars/s (best) | ratio | target | fp32 / fp32 (target 1.1) | charlstm GFLOP/s | % of nominal peak | % of measured FMA ceiling: ours / PyTorch | ceiling ÷ PyTorch | % of the best ceiling: ours / PyTorch | best ceiling ÷ PyTorch (largest ratio possible) | RSS MiB ours / torch | RSS ratio |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for (name, o, t, mk, ratio, target, f32, gf, frac, ro, rt, rr, ours_c, torch_c, possible, ours_b, torch_b, possible_b) in rows:
        ok = "ok" if ratio >= target else "below"
        ok32 = "ok" if f32 >= FP32_TARGET else "below"
        print(f"| {name} | {o:,.0f} | {t:,.0f} ({mk}) | {ratio:.2f}x | ≥{target}x {ok} | {f32:.2f}x {ok32} | {gf:.1f} | {100*frac:.0f}% "
              f"| {100*ours_c:.0f}% / {100*torch_c:.0f}% | {possible:.2f}x | {100*ours_b:.0f}% / {100*torch_b:.0f}% | {possible_b:.2f}x "
              f"| {ro:.0f} / {rt:.0f} | {rr:.2f} |")
    print(f"\nnominal peak {NOMINAL_PEAK:.0f} GFLOP/s per core (the Speed issue's figure); measured FMA ceiling = "
          f"`charlstm bench`'s fma_peak_gflops_per_thread (an FMA-only loop) × threads used; the best ceiling is "
          f"its bf16_dot_peak_gflops_per_thread (a VDPBF16PS-only loop) × threads where bench finds that faster (bf16_dot_faster), "
          f"else the FMA ceiling. No implementation exceeds it, so (best ceiling ÷ PyTorch's GFLOP/s) bounds any ratio.")

if __name__ == "__main__":
    main()
