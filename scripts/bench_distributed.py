#!/usr/bin/env python3
"""Distributed training measurement (a benchmark, not a test): 2 ranks x 1 thread against
1 process x 2 threads, for the S (2x128) and M (2x512) models on tinyshakespeare.

Each measurement is one short `charlstm train` run (one process per measurement, the two
modes alternating); the figures are medians over its steps after the first five, read from
the run log: chars/s, step ms, and `reduce_ms` (the gradient all-reduce and loss sum).

    python3 scripts/bench_distributed.py [--rounds 2] [--only S,M]
"""
import argparse, json, os, statistics, subprocess, tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHARLSTM = os.path.join(ROOT, ".build", "release", "charlstm")
CORPUS = os.path.join(ROOT, "corpora", "tinyshakespeare.txt")
MODELS = {"S": (["--hidden", "128"], 150), "M": (["--hidden", "512"], 25)}


def run(model, mode, out):
    shape, steps = MODELS[model]
    args = [CHARLSTM, "train", CORPUS, "--out", out, "--steps", str(steps), "--eval-every", "0",
            "--checkpoint-every", "0", "--val-fraction", "0.01", "--sample-length", "0", "--quiet"] + shape
    if mode == "2 ranks x 1 thread":
        cmd = ["mpirun", "--allow-run-as-root", "--oversubscribe", "-np", "2"] + args + ["--threads", "1", "--distributed"]
    else:
        cmd = args + ["--threads", "2"]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    steps = [json.loads(l) for l in open(out[:-len(".safetensors")] + ".log.jsonl") if '"type":"step"' in l][5:]
    med = lambda k: statistics.median(s.get(k, 0) for s in steps)
    return med("chars_per_s"), med("ms"), med("reduce_ms"), " ".join(cmd).replace(ROOT + "/", "")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--only", default="S,M")
    a = p.parse_args()
    print("| model | mode | chars/s | step ms | allreduce ms/step | share of step |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for model in a.only.split(","):
            results = {}
            for r in range(a.rounds):
                for mode in ["1 process x 2 threads", "2 ranks x 1 thread"]:
                    out = os.path.join(tmp, f"{model}-{r}-{mode[0]}.safetensors")
                    results.setdefault(mode, []).append(run(model, mode, out))
            for mode, rs in results.items():
                cps = statistics.median(x[0] for x in rs)
                ms = statistics.median(x[1] for x in rs)
                red = statistics.median(x[2] for x in rs)
                print(f"| {model} | {mode} | {cps:,.0f} | {ms:.1f} | {red:.2f} | {100 * red / ms:.1f}% |")
            for mode, rs in results.items():
                print(f"  {model}, {mode}: {rs[0][3]}")


if __name__ == "__main__":
    main()
