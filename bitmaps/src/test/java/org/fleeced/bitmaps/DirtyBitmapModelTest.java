package org.fleeced.bitmaps;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Random operations on a {@link DirtyBitmap} and a {@link BitSetModel} side by side, every query
 * compared after every operation. Seeds are fixed; each assertion message names the case, seed,
 * step and operation, so a failure replays exactly.
 */
class DirtyBitmapModelTest {

  private static final int STEPS = 400;
  private static final long G31 = 1L << 31;

  /** Geometry and window of one case; {@code base}/{@code width} select the modelled clusters. */
  record Case(String name, long sizeBytes, long granularity, long base, int width, long seed) {
    boolean wholeDisk() {
      return base == 0 && width == Math.ceilDiv(sizeBytes, granularity);
    }

    @Override
    public String toString() {
      return name + " (seed " + seed + ")";
    }
  }

  static Stream<Arguments> cases() {
    return Stream.of(
        whole("512 B, partial last cluster", 512 * 1500 + 100, 512, 1),
        whole("512 B, exact multiple", 512 * 1024, 512, 2),
        whole("4 KiB, last cluster one byte short", 4096 * 700 + 4095, 4096, 3),
        whole("64 KiB, last cluster one byte", 65536 * 900 + 1, 65536, 4),
        whole("2 GiB granularity, partial last", G31 * 600 + 12345, G31, 5),
        whole("one partial cluster only", 1000, 1024, 6),
        window("2 GiB granularity, 2^63-1 bytes, last clusters", Long.MAX_VALUE, G31, (1L << 32) - 800, 800, 7),
        window("512 B, 2^63-1 bytes, last clusters", Long.MAX_VALUE, 512, (1L << 54) - 1500, 1500, 8),
        window("512 B, 2^63-1 bytes, across a 2^32 chunk boundary", Long.MAX_VALUE, 512, 3 * (1L << 32) - 700, 1400, 9))
        .map(Arguments::of);
  }

  private static Case whole(String name, long size, long granularity, long seed) {
    return new Case(name, size, granularity, 0, (int) Math.ceilDiv(size, granularity), seed);
  }

  private static Case window(String name, long size, long granularity, long base, int width, long seed) {
    return new Case(name, size, granularity, base, width, seed);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void matchesTheModel(Case c) {
    var run = new Run(c);
    for (int step = 0; step < STEPS; step++) {
      String op = run.randomOperation();
      int at = step;
      run.compare(() -> c + ", step " + at + ", after " + op);
    }
  }

  /** One random run: the bitmap, its model, frozen copies taken on the way and theirs. */
  private static final class Run {
    private final Case c;
    private final Random random;
    private DirtyBitmap bitmap;
    private BitSetModel model;
    private final List<FrozenBitmap> frozen = new ArrayList<>();
    private final List<BitSetModel> frozenModels = new ArrayList<>();

    Run(Case c) {
      this.c = c;
      this.random = new Random(c.seed());
      this.bitmap = new DirtyBitmap(c.sizeBytes(), c.granularity());
      this.model = new BitSetModel(c.sizeBytes(), c.granularity(), c.base(), c.width());
    }

    /** An offset in or at the edge of the window, often on or next to a cluster boundary. */
    long randomOffset() {
      long cluster = c.base() + random.nextInt(c.width() + 1);
      long start = model.startOf(Math.min(cluster, model.clusterCount));
      if (cluster >= model.clusterCount) {
        return c.sizeBytes();
      }
      long[] deltas = {0, 0, 1, c.granularity() / 2, c.granularity() - 1, random.nextLong(c.granularity())};
      return Math.min(c.sizeBytes(), start + deltas[random.nextInt(deltas.length)]);
    }

    /** A range {@code {offset, length}} inside the window, sometimes empty. */
    long[] randomRange() {
      long a = randomOffset();
      long b = random.nextInt(8) == 0 ? a : randomOffset();
      return new long[] {Math.min(a, b), Math.abs(a - b)};
    }

    String randomOperation() {
      long[] r = randomRange();
      int kind = random.nextInt(100);
      if (kind < 25) {
        bitmap.set(r[0], r[1]);
        model.set(r[0], r[1]);
        return "set(" + r[0] + ", " + r[1] + ")";
      } else if (kind < 45) {
        bitmap.track(r[0], r[1]);
        model.track(r[0], r[1]);
        return "track(" + r[0] + ", " + r[1] + ") enabled=" + model.enabled;
      } else if (kind < 65) {
        bitmap.reset(r[0], r[1]);
        model.reset(r[0], r[1]);
        return "reset(" + r[0] + ", " + r[1] + ")";
      } else if (kind < 70) {
        model.enabled = random.nextBoolean();
        bitmap.setEnabled(model.enabled);
        return "setEnabled(" + model.enabled + ")";
      } else if (kind < 77) {
        return combine();
      }
      return wholeBitmapOperation(kind);
    }

    private String combine() {
      var other = new DirtyBitmap(c.sizeBytes(), c.granularity());
      var otherModel = new BitSetModel(c.sizeBytes(), c.granularity(), c.base(), c.width());
      for (int i = random.nextInt(4); i >= 0; i--) {
        long[] r = randomRange();
        other.set(r[0], r[1]);
        otherModel.set(r[0], r[1]);
      }
      BitmapView source = random.nextBoolean() ? other : other.frozenCopy();
      if (random.nextBoolean()) {
        bitmap.merge(source);
        model.merge(otherModel);
        return "merge(" + other.dirtyExtents(0, c.sizeBytes(), 10) + ")";
      }
      bitmap.andNot(source);
      model.andNot(otherModel);
      return "andNot(" + other.dirtyExtents(0, c.sizeBytes(), 10) + ")";
    }

    private String wholeBitmapOperation(int kind) {
      if (kind < 80) {
        bitmap.clear();
        model.clear();
        return "clear()";
      } else if (kind < 83) {
        if (c.wholeDisk()) {
          bitmap.setAll();
        } else {
          bitmap.set(model.startOf(c.base()), model.endOf(model.windowEnd() - 1) - model.startOf(c.base()));
        }
        model.set(model.startOf(c.base()), model.endOf(model.windowEnd() - 1) - model.startOf(c.base()));
        return "setAll()";
      } else if (kind < 88) {
        DirtyBitmap original = bitmap;
        bitmap = original.copy();
        original.setAll();
        original.setEnabled(!model.enabled);
        return "copy(), then setAll() and toggle enabled on the original";
      } else if (kind < 95) {
        if (frozen.size() == 3) {
          frozen.removeFirst();
          frozenModels.removeFirst();
        }
        frozen.add(bitmap.frozenCopy());
        frozenModels.add(model.copy());
        return "frozenCopy()";
      }
      bitmap = bitmap.frozenCopy().thaw();
      model = model.copy();
      model.enabled = true;
      return "frozenCopy().thaw()";
    }

    void compare(Supplier<String> where) {
      assertEquals(model.enabled, bitmap.isEnabled(), () -> where.get() + ": isEnabled");
      compareView(bitmap, model, where);
      for (int i = 0; i < frozen.size(); i++) {
        int index = i;
        compareView(frozen.get(i), frozenModels.get(i), () -> where.get() + ": frozen copy " + index);
      }
    }

    private void compareView(BitmapView view, BitSetModel expected, Supplier<String> where) {
      assertEquals(expected.dirtyClusters(), view.dirtyClusters(), () -> where.get() + ": dirtyClusters");
      assertEquals(expected.dirtyBytes(), view.dirtyBytes(), () -> where.get() + ": dirtyBytes");
      long windowStart = expected.startOf(c.base());
      assertEquals(
          expected.dirtyExtents(windowStart, c.sizeBytes(), Integer.MAX_VALUE),
          view.dirtyExtents(windowStart, c.sizeBytes(), Integer.MAX_VALUE),
          () -> where.get() + ": all dirty extents");
      for (int i = 0; i < 4; i++) {
        compareQueries(view, expected, randomRange(), where);
      }
    }

    private void compareQueries(BitmapView view, BitSetModel expected, long[] r, Supplier<String> where) {
      long offset = r[0];
      long length = r[1];
      long end = offset + length;
      Supplier<String> at = () -> where.get() + ": query range (" + offset + ", " + length + ")";
      if (offset < c.sizeBytes()) {
        assertEquals(expected.get(offset), view.get(offset), () -> at.get() + " get");
      }
      assertEquals(expected.anyDirty(offset, length), view.anyDirty(offset, length), () -> at.get() + " anyDirty");
      assertEquals(expected.nextDirty(offset, end), view.nextDirty(offset, end), () -> at.get() + " nextDirty");
      assertEquals(expected.nextClean(offset, end), view.nextClean(offset, end), () -> at.get() + " nextClean");
      assertEquals(expected.status(offset, length), view.status(offset, length), () -> at.get() + " status");
      int maxCount = 1 + random.nextInt(4);
      long longLength = random.nextBoolean() ? length : Long.MAX_VALUE;
      assertEquals(
          expected.dirtyExtents(offset, longLength, maxCount),
          view.dirtyExtents(offset, longLength, maxCount),
          () -> at.get() + " dirtyExtents length " + longLength + " max " + maxCount);
    }
  }
}
