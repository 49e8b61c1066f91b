#!/usr/bin/env bash
# Downloads well-known public-domain corpora into corpora/ for users who are online, and
# verifies each against its SHA-256 so a changed or truncated download is never trained on.
# Nothing in charlstm's tests needs this script or the network.
#
#   corpora/fetch-public-domain.sh            # all of them
#   corpora/fetch-public-domain.sh tinyshakespeare
set -euo pipefail
cd "$(dirname "$0")"

# name | url | sha256
corpora=(
  "tinyshakespeare|https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt|86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"
)

want="${1:-}"
for entry in "${corpora[@]}"; do
  IFS='|' read -r name url sum <<<"$entry"
  [ -n "$want" ] && [ "$want" != "$name" ] && continue
  out="$name.txt"
  if [ -f "$out" ] && echo "$sum  $out" | sha256sum --check --status; then
    echo "$out: already here, checksum OK"
    continue
  fi
  echo "downloading $name"
  tmp="$(mktemp "$out.XXXXXX")"
  trap 'rm -f "$tmp"' EXIT
  curl --fail --location --silent --show-error "$url" -o "$tmp"
  if ! echo "$sum  $tmp" | sha256sum --check --status; then
    echo "$name: checksum mismatch (expected $sum); not keeping the download" >&2
    exit 1
  fi
  mv "$tmp" "$out"
  trap - EXIT
  echo "$out: $(wc -c <"$out") bytes, checksum OK"
done
