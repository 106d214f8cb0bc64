#!/bin/sh
# The qcow2 fuzzer for as long as asked: seeded, structure-aware mutations of valid images, each
# opened read-only and read-write as the daemon does (fleecing module's Qcow2Fuzzer; the unit
# tests run a few thousand of the same cases).
# Usage: bench/fuzz-qcow2.sh [--seed S] [--duration 30m] [--cases N] [--dir D] [--no-qemu]
#        bench/fuzz-qcow2.sh --case SEED    (repeat one failed case)
# Failures are printed and saved as failure-SEED.qcow2 / .txt in the current directory.
set -e
here=$(pwd)
cd "$(dirname "$0")/.."
JAVA_HOME=${JAVA_HOME:-$(bin/find-jdk)}
export JAVA_HOME
mvn -B -ntp -o -q -pl fleecing -am test-compile
root=$(pwd)
cp=$root/fleecing/target/classes:$root/fleecing/target/test-classes:$root/bitmaps/target/classes
cp=$cp:$(find ~/.m2/repository/org/roaringbitmap -name 'RoaringBitmap-*.jar' | head -1)
cp=$cp:$(find ~/.m2/repository/org/junit/jupiter -name 'junit-jupiter-api-*.jar' | head -1)
cp=$cp:$(find ~/.m2/repository/org/opentest4j -name 'opentest4j-*.jar' | head -1)
cd "$here"
# A small heap, so that an allocation sized from a damaged header fails loudly.
exec nice "$JAVA_HOME/bin/java" -Xmx512m --enable-native-access=ALL-UNNAMED -cp "$cp" org.fleeced.qcow2.Qcow2Fuzzer "$@"
