#!/bin/sh
# The NBD server fuzzer for as long as asked: seeded, structure-aware sessions (handshake, options,
# requests with payloads) with mutated fields, truncations, garbage and oversized lengths, fed in
# odd-sized slices to the frame decoder and over TCP to an in-process server with real export
# nodes (daemon module's NbdFuzzTest; the unit tests run 2000 cases of a fixed seed).
# Usage: bench/fuzz-nbd.sh [SEED] [SECONDS]        (defaults: a random seed, 600 s)
#        FUZZ_CASE=CASE_SEED bench/fuzz-nbd.sh     (replays one failed case, as the failure names it)
# A failure names its case seed; the run stops at the first one.
set -e
cd "$(dirname "$0")/.."
JAVA_HOME=${JAVA_HOME:-$(bin/find-jdk)}
export JAVA_HOME
seed=${1:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
seconds=${2:-600}
echo "fuzz-nbd: seed $seed, $seconds s" >&2
# A small heap, so that an allocation sized from a client's header fails loudly.
exec nice mvn -B -ntp -o -q -pl daemon -am test -Dtest=NbdFuzzTest -Dsurefire.failIfNoSpecifiedTests=false \
  -Dfleeced.test.argLine="--enable-native-access=ALL-UNNAMED -Xmx256m" \
  -Dfuzz.seed="$seed" -Dfuzz.seconds="$seconds" ${FUZZ_CASE:+-Dfuzz.case=$FUZZ_CASE}
