#!/bin/sh
# Copy-before-write overhead and job-start stall, in-process (fleecing module's CbwBench).
# Usage: bench/cbw-overhead.sh [directory for the images, default /tmp]
set -e
cd "$(dirname "$0")/.."
JAVA_HOME=${JAVA_HOME:-$(bin/find-jdk)}
export JAVA_HOME
mvn -B -ntp -o -q -pl fleecing -am test-compile
cp=fleecing/target/classes:fleecing/target/test-classes:bitmaps/target/classes
cp=$cp:$(find ~/.m2/repository/org/roaringbitmap -name 'RoaringBitmap-*.jar' | head -1)
exec "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -cp "$cp" org.fleeced.cbw.CbwBench "$@"
