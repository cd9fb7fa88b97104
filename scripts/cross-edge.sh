#!/usr/bin/env bash
# Cross-compiles `mycel` for aarch64-unknown-linux-gnu with Debian's cross toolchain and runs the
# edge device on the emulated CPU (qemu-user):
#   1. `mycel run embed` of the same sentences on both CPUs: every int8-quantized value (what a
#      probe answer carries) within the chain's default `max_dim_diff` (2) of the host's;
#   2. an aarch64 `mycel edge run` (micro class) against an x86-64 `mycel devnet`: its probes are
#      checked by the devnet's x86-64 checker, and it must pass with no failure.
#
# Usage: scripts/cross-edge.sh [HOST_MYCEL]   (HOST_MYCEL defaults to target/debug/mycel)
# Needs the pinned models (scripts/fetch-models.sh) and root or sudo for apt.
set -euo pipefail
cd "$(dirname "$0")/.."
HOST=${1:-target/debug/mycel}
TARGET=aarch64-unknown-linux-gnu
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
need=()
command -v aarch64-linux-gnu-gcc >/dev/null 2>&1 || need+=(gcc-aarch64-linux-gnu g++-aarch64-linux-gnu libc6-dev-arm64-cross)
command -v qemu-aarch64 >/dev/null 2>&1 || need+=(qemu-user)
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" \
    || { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"; }
fi
rustup target list --installed | grep -qx "$TARGET" || rustup target add "$TARGET"
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc
export CXX_aarch64_unknown_linux_gnu=aarch64-linux-gnu-g++
export AR_aarch64_unknown_linux_gnu=aarch64-linux-gnu-ar
# (.cargo/config.toml's x86-64-v3 flags are for the x86-64 target only.)
start=$(date +%s)
cargo build -p mycel --target "$TARGET"
echo "cross build: $(( $(date +%s) - start )) s"
ARM=target/$TARGET/debug/mycel
file "$ARM" 2>/dev/null || true
QEMU=(qemu-aarch64 -L /usr/aarch64-linux-gnu)
[ -x "$HOST" ] || cargo build -p mycel

# 1. The same sentences on both CPUs.
TEXTS=("The quick brown fox jumps over the lazy dog." "Edge devices prove they are alive by doing useful work." "A small city after rain, quiet under the bridge.")
"$HOST" --json run embed "${TEXTS[@]}" > /tmp/cross-edge-x86.json
"${QEMU[@]}" "$ARM" --json run embed "${TEXTS[@]}" > /tmp/cross-edge-arm.json
python3 - <<'PY'
import json
def load(p):
    v = json.load(open(p))
    rows = v["embeddings"] if isinstance(v, dict) else v
    return [[max(-127, min(127, round(x * 127))) for x in r] for r in rows]
a, b = load("/tmp/cross-edge-x86.json"), load("/tmp/cross-edge-arm.json")
assert len(a) == len(b) and all(len(x) == len(y) for x, y in zip(a, b)), "shapes differ"
worst = max(abs(x - y) for ra, rb in zip(a, b) for x, y in zip(ra, rb))
same = sum(x == y for ra, rb in zip(a, b) for x, y in zip(ra, rb))
total = sum(len(r) for r in a)
print(f"int8 values identical across CPUs: {same}/{total}; largest difference {worst} step(s) (chain allows 2)")
assert worst <= 2, "the aarch64 answer would fail its check"
PY

# 2. An aarch64 device checked by the x86-64 devnet.
WORK=$(mktemp -d)
API_PORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
P2P_PORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
API="http://127.0.0.1:$API_PORT"
"$HOST" --home "$WORK" devnet --api.addr "127.0.0.1:$API_PORT" --p2p.addr "127.0.0.1:$P2P_PORT" \
  --worker.listen 127.0.0.1:0 > "$WORK/devnet.log" 2>&1 &
DEVNET=$!
trap 'kill $DEVNET 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 1 600); do
  "$HOST" --home "$WORK" --api "$API" query account auditor 2>/dev/null | grep -q auditor && break
  sleep 0.5
done
"$HOST" --home "$WORK" keys new arm-device > /dev/null
"$HOST" --home "$WORK" --api "$API" edge register --from dev1 --device arm-device --class micro --bond 1 --fund 1
timeout 600 "${QEMU[@]}" "$ARM" --home "$WORK" --api "$API" edge run --key arm-device --rounds 2
sleep 12
"$HOST" --home "$WORK" --api "$API" edge status --device arm-device
"$HOST" --home "$WORK" --api "$API" --json edge status --device arm-device | python3 -c '
import json, sys
d = json.load(sys.stdin)["device"]
print(f"aarch64 device: {d[\"answered\"]} answered, {d[\"passed\"]} passed, {d[\"failed\"]} failed")
assert d["passed"] >= 1 and d["failed"] == 0, d
'
echo "cross-edge: OK"
