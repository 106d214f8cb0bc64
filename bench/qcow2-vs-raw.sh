#!/usr/bin/env bash
# Compares the qcow2 driver with the raw node on the same file system (4 KiB random write/read
# with 32 virtual threads, 1 MiB sequential write/read) and prints MiB/s and qcow2/raw ratios.
# Usage: bench/qcow2-vs-raw.sh [directory] [size-MiB]   (defaults: a temp dir under ., 1024)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-$(mktemp -d ./bench-qcow2.XXXXXX)}
size=${2:-1024}
export JAVA_HOME=${JAVA_HOME:-$(bin/find-jdk)}
mvn -B -ntp -o -q -pl fleecing -am test-compile >&2
"$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED \
  -cp "fleecing/target/test-classes:fleecing/target/classes:bitmaps/target/classes" \
  org.fleeced.qcow2.bench.Qcow2VsRawBenchmark "$dir" "$size"
if [ -z "${1:-}" ]; then rm -rf "$dir"; fi
