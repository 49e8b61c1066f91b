#!/usr/bin/env python3
"""Train the same char-LSTM recipe in PyTorch (CPU) and print its validation curve.

The reference for charlstm's quality and time-to-loss figures: Embedding(V,E) -> L x LSTM(H)
-> Linear(H,V), Adam, global-norm clipping 5, truncated BPTT over B contiguous streams with the
state carried, the last --val-fraction of the corpus held out and scored in full with the state
carried (B streams of contiguous text, like `charlstm`'s validation), every --eval-every steps.
Characters are bytes here, which for an ASCII corpus such as tinyshakespeare is the same thing.

Setup: python3 -m venv /tmp/torchpeer && /tmp/torchpeer/bin/pip install torch numpy
Run:   OMP_NUM_THREADS=2 /tmp/torchpeer/bin/python scripts/torch_reference_train.py \
           ../shared/corpora/tinyshakespeare.txt --hidden 128 --steps 5000 --threads 2
"""
import argparse
import json
import math
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class CharLSTM(nn.Module):
    def __init__(self, V, E, H, L, p):
        super().__init__()
        self.embedding = nn.Embedding(V, E)
        self.lstm = nn.LSTM(E, H, num_layers=L, batch_first=True, dropout=p if L > 1 else 0.0)
        self.drop = nn.Dropout(p)
        self.head = nn.Linear(H, V)

    def forward(self, x, state):
        out, state = self.lstm(self.embedding(x), state)
        return self.head(self.drop(out)), state


@torch.no_grad()
def evaluate(model, data, B, T, L, H):
    model.eval()
    n = (len(data) - 1) // B
    x = data[: n * B].view(B, n)
    y = data[1: n * B + 1].view(B, n)
    state = (torch.zeros(L, B, H), torch.zeros(L, B, H))
    total, count = 0.0, 0
    for s in range(0, n, T):
        logits, state = model(x[:, s:s + T], state)
        total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y[:, s:s + T].reshape(-1), reduction="sum").item()
        count += y[:, s:s + T].numel()
    model.train()
    return total / count


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus")
    ap.add_argument("--embed", type=int, default=64)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--dropout", type=float, default=0.0)
    ap.add_argument("--batch", type=int, default=50)
    ap.add_argument("--seq", type=int, default=50)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--steps", type=int, default=5000)
    ap.add_argument("--eval-every", type=int, default=250)
    ap.add_argument("--val-fraction", type=float, default=0.05)
    ap.add_argument("--cosine", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--target", type=float, default=None, help="report when validation first reaches this")
    ap.add_argument("--stop-at-target", action="store_true", help="stop once validation reaches --target")
    ap.add_argument("--precision", choices=["fp32", "bf16"], default="fp32",
                    help="bf16: torch.autocast('cpu', bfloat16) around the forward pass, as the peer benchmark does")
    ap.add_argument("--forget-bias-one", action="store_true",
                    help="charlstm's init: forget slice of bias_ih = 1, of bias_hh = 0 (PyTorch's default is U(±1/√H))")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    raw = np.frombuffer(open(a.corpus, "rb").read(), dtype=np.uint8)
    symbols, ids = np.unique(raw, return_inverse=True)
    data = torch.from_numpy(ids.astype(np.int64))
    cut = len(data) - int(round(len(data) * a.val_fraction))
    train, val = data[:cut], data[cut:]
    V, B, T, L, H = len(symbols), a.batch, a.seq, a.layers, a.hidden
    model = CharLSTM(V, a.embed, H, L, a.dropout)
    if a.forget_bias_one:
        with torch.no_grad():
            for k in range(L):
                getattr(model.lstm, f"bias_ih_l{k}")[H:2 * H] = 1.0
                getattr(model.lstm, f"bias_hh_l{k}")[H:2 * H] = 0.0
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    n = (len(train) - 1) // B
    x_all = train[: n * B].view(B, n)
    y_all = train[1: n * B + 1].view(B, n)
    windows = n // T
    state = (torch.zeros(L, B, H), torch.zeros(L, B, H))
    elapsed, reached = 0.0, None
    for step in range(1, a.steps + 1):
        w = (step - 1) % windows
        if w == 0:
            state = (torch.zeros(L, B, H), torch.zeros(L, B, H))
        t0 = time.perf_counter()
        if a.cosine:
            for g in opt.param_groups:
                g["lr"] = a.lr * 0.5 * (1 + math.cos(math.pi * (step - 1) / a.steps))
        state = tuple(s.detach() for s in state)
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.precision == "bf16"):
            logits, state = model(x_all[:, w * T:(w + 1) * T], state)
        state = tuple(s.float() for s in state)
        logits = logits.float()
        loss = F.cross_entropy(logits.reshape(-1, V), y_all[:, w * T:(w + 1) * T].reshape(-1))
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        elapsed += time.perf_counter() - t0
        if step % a.eval_every == 0 or step == a.steps:
            v = evaluate(model, val, B, T, L, H)
            if a.target is not None and reached is None and v <= a.target:
                reached = (step, elapsed)
            print(json.dumps({"step": step, "val": v, "train_seconds": round(elapsed, 2), "loss": loss.item()}), flush=True)
            if reached is not None and a.stop_at_target:
                break
    print(json.dumps({"done": True, "reached_target_at": reached}), flush=True)


if __name__ == "__main__":
    main()
