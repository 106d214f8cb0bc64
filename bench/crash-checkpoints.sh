#!/usr/bin/env bash
# Hundreds of seeded crash rounds for the checkpoint journal (issue 12): after each crash, every
# acknowledged checkpoint must exist and hold every acknowledged change, and qemu-img check must
# find nothing but leaks.
#   in process: CheckpointJournalCrashTest, ROUNDS rounds of random transitions, writes and
#               background stores, a crash copy (= kill -9) at random points of each;
#   daemon:     CheckpointJournalScenarioIT, KILLS kill -9 of a real daemon, 4 disks each.
# Usage: SEED=123 ROUNDS=300 KILLS=40 bench/crash-checkpoints.sh   (run from anywhere)
set -euo pipefail
cd "$(dirname "$0")/.."
SEED=${SEED:-$(date +%s%N)}
ROUNDS=${ROUNDS:-300}
KILLS=${KILLS:-40}
JAVA_HOME=$(bin/find-jdk)
export JAVA_HOME
echo "seed $SEED: $ROUNDS in-process rounds, $KILLS daemon kills"
mvn -o -q install -DskipTests
mvn -o -B test -pl fleecing -Dtest=CheckpointJournalCrashTest -Dsurefire.failIfNoSpecifiedTests=false \
    -Dfleeced.crashSeed="$SEED" -Dfleeced.crashRounds="$ROUNDS" | grep -E 'Tests run:|FAIL|seed' || true
mvn -o -B verify -pl integration-tests -Dit.test='CheckpointJournalScenarioIT#seeded*' \
    -Dfleeced.crashSeed="$SEED" -Dfleeced.crashRounds="$KILLS" | grep -E 'Tests run:|FAIL|seed' || true
