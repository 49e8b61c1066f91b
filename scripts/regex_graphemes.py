#!/usr/bin/env python3
"""The Python baseline for `charlstm vocab`: NFC, then extended grapheme clusters with the
`regex` module's \\X, counted. Prints the number of distinct clusters and their total.

  python3 scripts/regex_graphemes.py FILE
"""
import collections
import sys
import unicodedata

import regex

text = unicodedata.normalize("NFC", open(sys.argv[1], encoding="utf-8").read())
counts = collections.Counter(regex.findall(r"\X", text))
print(len(counts), sum(counts.values()))
