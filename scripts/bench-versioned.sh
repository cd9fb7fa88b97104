#!/usr/bin/env bash
# Versioned-data benchmark (issue 4): two versions of Debian's linux-source-6.1 package, unpacked
# into file trees; reports the share of the newer version's bytes already stored from the older
# one when chunking within files (mycel), beside stream CDC over the two tar archives.
#
# Usage: scripts/bench-versioned.sh [OLD_VERSION NEW_VERSION [MYCEL]]
#   Versions are Debian package versions the configured apt sources carry
#   (`apt-cache madison linux-source-6.1`); MYCEL defaults to target/release/mycel.
set -euo pipefail
OLD=${1:-6.1.159-1}
NEW=${2:-6.1.164-1}
MYCEL=${3:-target/release/mycel}
WORK=${WORK:-$(mktemp -d)}
cd "$WORK"
for v in "$OLD" "$NEW"; do
  if [ ! -d "$v/tree" ]; then
    apt-get download "linux-source-6.1=$v" >/dev/null
    mkdir -p "$v/deb" "$v/tree"
    dpkg-deb -x "linux-source-6.1_${v}_all.deb" "$v/deb"
    xz -dc "$v/deb/usr/src/linux-source-6.1.tar.xz" > "$v/src.tar"
    tar -xf "$v/src.tar" -C "$v/tree"
    rm -rf "$v/deb" "linux-source-6.1_${v}_all.deb"
  fi
done
cd - >/dev/null
echo "linux-source-6.1 $OLD -> $NEW: $(diff -rq "$WORK/$OLD/tree" "$WORK/$NEW/tree" | wc -l) files differ"
"$MYCEL" data versioned "$WORK/$OLD/tree" "$WORK/$NEW/tree" \
  --old-archive "$WORK/$OLD/src.tar" --new-archive "$WORK/$NEW/src.tar"
