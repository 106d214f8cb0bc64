package org.fleeced.qcow2;

import java.util.List;
import java.util.Random;
import java.util.function.Predicate;

/**
 * Picks and applies one to three structure-aware mutations to a base image, by weight. A case
 * with no mutation at all (one in {@link #CONTROL_ONE_IN}) is a control: the image is valid, so
 * every operation on it must succeed, which checks the fuzzer as much as the driver.
 */
final class Qcow2Mutator {
    static final int CONTROL_ONE_IN = 32;

    /** A kind of mutation and how often it is picked. */
    private record Kind(int weight, Predicate<Qcow2Mutation> apply) {
    }

    private static final List<Kind> KINDS = List.of(
            new Kind(18, m -> {
                Qcow2HeaderMutator.field(m);
                return true;
            }),
            new Kind(4, m -> {
                Qcow2HeaderMutator.virtualSize(m);
                return true;
            }),
            new Kind(6, m -> {
                Qcow2HeaderMutator.featureBit(m);
                return true;
            }),
            new Kind(8, m -> {
                Qcow2HeaderMutator.extension(m);
                return true;
            }),
            new Kind(6, m -> {
                Qcow2HeaderMutator.backing(m);
                return true;
            }),
            new Kind(10, Qcow2TableMutator::l1Entry),
            new Kind(16, Qcow2TableMutator::l2Entry),
            new Kind(8, Qcow2TableMutator::refcountTableEntry),
            new Kind(8, Qcow2TableMutator::refcountBlock),
            new Kind(5, Qcow2TableMutator::bitmapsExtension),
            new Kind(9, Qcow2TableMutator::bitmapDirectoryEntry),
            new Kind(5, Qcow2TableMutator::bitmapTableEntry),
            new Kind(10, Qcow2TableMutator::byteFlips),
            new Kind(2, Qcow2TableMutator::truncate));
    private static final int TOTAL_WEIGHT = KINDS.stream().mapToInt(Kind::weight).sum();

    private Qcow2Mutator() {
    }

    /** Mutates a copy of {@code base}; the returned mutation holds the bytes and the steps taken. */
    static Qcow2Mutation mutate(Qcow2BaseImages.Base base, Random random) {
        Qcow2Mutation m = new Qcow2Mutation(base, random);
        if (random.nextInt(CONTROL_ONE_IN) == 0) {
            return m;
        }
        int count = 1 + (random.nextInt(4) == 0 ? random.nextInt(3) : 0);
        for (int i = 0; i < count; i++) {
            applyOne(m);
        }
        return m;
    }

    private static void applyOne(Qcow2Mutation m) {
        for (int attempt = 0; attempt < 10; attempt++) {
            int pick = m.random().nextInt(TOTAL_WEIGHT);
            for (Kind k : KINDS) {
                pick -= k.weight();
                if (pick < 0) {
                    if (k.apply().test(m) && !m.steps().isEmpty()) {
                        return;
                    }
                    break;
                }
            }
        }
    }
}
