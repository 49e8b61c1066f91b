#!/usr/bin/env python3
"""Writes a large test corpus from the shipped tinyshakespeare, for memory and speed figures.

  scripts/make_corpus.py ascii OUT --bytes 1e9   # tinyshakespeare repeated to ~1 GB
  scripts/make_corpus.py mixed OUT --copies 10   # each line in one of seven scripts, in turn

"mixed" keeps Shakespeare's line structure and rewrites every line but one in seven into another
script letter by letter: Cyrillic, Greek, Devanagari (consonant + vowel sign clusters), Hangul
syllables, Japanese kana, and Latin with decomposed accents (e + U+0301, which NFC composes)
and emoji ZWJ sequences, so grapheme segmentation and normalization do real work on most lines.
Deterministic: the same arguments give the same bytes.
"""
import argparse
import os

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.join(HERE, "..", "corpora", "tinyshakespeare.txt")

LOWER = "abcdefghijklmnopqrstuvwxyz"
CYRILLIC = "абцдефгхийклмнопярстуввхуз"
GREEK = "αβψδεφγηιξκλμνοπ;ρστθωςχυζ"
DEVANAGARI_C = "कखगघचछजझटठडढणतथदधनपफबभमयरल"
DEVANAGARI_V = ["", "\u093e", "\u093f", "\u0940", "\u0941", "\u0947", "\u094b", "\u094d"]
KANA = "あいうえおかきくけこさしすせそたちつてとなにぬねのは"
EMOJI = ["\U0001F469\u200D\U0001F469\u200D\U0001F467", "\U0001F44D\U0001F3FD", "\U0001F1EF\U0001F1F5"]


def table(alphabet):
    return {a: b for a, b in zip(LOWER, alphabet)} | {a.upper(): b.upper() for a, b in zip(LOWER, alphabet)}


CYR, GRK, KAN = table(CYRILLIC), table(GREEK), table(KANA)


def devanagari(line):
    out = []
    for k, ch in enumerate(line):
        i = LOWER.find(ch.lower())
        out.append(DEVANAGARI_C[i] + DEVANAGARI_V[(i + k) % len(DEVANAGARI_V)] if i >= 0 else ch)
    return "".join(out)


def hangul(line):
    out = []
    for k, ch in enumerate(line):
        i = LOWER.find(ch.lower())
        out.append(chr(0xAC00 + (i * 1021 + k * 28) % 11172) if i >= 0 else ch)
    return "".join(out)


def accents(line):
    out = []
    for k, ch in enumerate(line):
        out.append(ch + "\u0301" if ch in "aeiou" else ch)
        if ch == " " and k % 5 == 0:
            out.append(EMOJI[k % len(EMOJI)])
    return "".join(out)


def rewrite(n, line):
    kind = n % 7
    if kind == 0:
        return line
    if kind == 1:
        return "".join(CYR.get(c, c) for c in line)
    if kind == 2:
        return "".join(GRK.get(c, c) for c in line)
    if kind == 3:
        return devanagari(line)
    if kind == 4:
        return hangul(line)
    if kind == 5:
        return "".join(KAN.get(c, c) for c in line)
    return accents(line)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("kind", choices=["ascii", "mixed"])
    p.add_argument("out")
    p.add_argument("--bytes", type=float, help="ascii: stop at the first copy reaching this size")
    p.add_argument("--copies", type=int, default=10, help="copies of tinyshakespeare (ascii without --bytes, mixed)")
    a = p.parse_args()
    text = open(SOURCE, encoding="utf-8").read()
    if a.kind == "mixed":
        lines = text.split("\n")
        text = "\n".join(rewrite(n, l) for n, l in enumerate(lines))
    data = text.encode("utf-8")
    with open(a.out, "wb") as f:
        written = 0
        copies = 0
        while (written < a.bytes) if a.bytes else (copies < a.copies):
            f.write(data)
            written += len(data)
            copies += 1
    print(f"{a.out}: {written:,} bytes, {copies} copies of {len(data):,}")


if __name__ == "__main__":
    main()
