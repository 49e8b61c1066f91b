#!/usr/bin/env bash
# Coverage-guided fuzzing of the safetensors loader with libFuzzer and AddressSanitizer.
#   Fuzz/run.sh [SECONDS]   (default 60)
# Seeds: a valid checkpoint-like file written by the test-suite's writer lives in Fuzz/seeds.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
out=.build-fuzz
mkdir -p "$out" "$out/corpus"
swiftc -sanitize=fuzzer,address -parse-as-library -O -module-name SafeTensorsFuzz \
  Sources/SafeTensors/*.swift Fuzz/SafeTensorsFuzzer.swift -o "$out/safetensors-fuzzer"
cp Fuzz/seeds/* "$out/corpus/" 2>/dev/null || true
"$out/safetensors-fuzzer" -max_total_time="$seconds" -max_len=4096 -timeout=5 -print_final_stats=1 "$out/corpus"
