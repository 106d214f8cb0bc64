package org.fleeced.daemon.host;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.fleeced.block.WriteFlag;
import org.fleeced.daemon.nbd.server.NbdExport;
import org.fleeced.daemon.nbd.server.NbdExportRegistry;
import org.fleeced.qcow2.ImageOpener;
import org.fleeced.qcow2.Qcow2CreateOptions;
import org.fleeced.qcow2.Qcow2Creator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link DiskTable} on real images in a temp directory: what attaching and detaching build,
 * remember and publish, and the reason code of each refusal.
 */
class DiskTableTest {
    private static final long SIZE = 4L << 20;

    @TempDir
    Path dir;
    Path images;
    Path state;
    Path temp;
    final NbdExportRegistry exports = new NbdExportRegistry();
    /** What the table asked to remember, newest last. */
    final List<List<RememberedDisks.Entry>> remembered = new ArrayList<>();
    final List<String> events = new ArrayList<>();
    DiskTable disks;

    @BeforeEach
    void createTable() throws Exception {
        images = Files.createDirectories(dir.resolve("images"));
        // the state and temp directories inside the image directory: only the reservation keeps them out
        state = Files.createDirectories(images.resolve("state"));
        temp = Files.createDirectories(images.resolve("temp"));
        disks = new DiskTable(new AllowedPaths("image", List.of(images)), new AllowedPaths("guest agent", List.of(dir)),
                new ReservedFiles(state, List.of(images), List.of(temp)),
                exports, remembered::add,
                (type, data) -> events.add(type + " " + data.get("disk")));
    }

    @AfterEach
    void closeDisks() {
        disks.closeAll();
    }

    private AttachedDisk create(String name, String file) throws Exception {
        return disks.attach(name, images.resolve(file).toString(), null,
                new DiskTable.CreateSpec(SIZE, 65536, null, null));
    }

    @Test
    void attachingCreatesTheImagePublishesItsExportAndRemembersIt() throws Exception {
        AttachedDisk vm = create("vm1", "vm1.qcow2");
        assertEquals(ImageOpener.Format.QCOW2, vm.format());
        assertEquals(SIZE, vm.active().exportNode().size());
        assertEquals(65536, vm.clusterBytes());
        assertTrue(exports.find("vm1").isPresent(), "the writable export has the disk's name");
        assertFalse(exports.find("vm1").get().refusesWrites());
        assertEquals(List.of(new RememberedDisks.Entry("vm1", images.resolve("vm1.qcow2").toRealPath().toString(),
                "qcow2", null, null)), remembered.getLast());
        assertEquals(List.of("disk-attached vm1"), events);
        assertEquals(List.of("vm1"), disks.list().stream().map(AttachedDisk::name).toList());
    }

    @Test
    void aDisksGuestLimitsAreRememberedAndAppliedWhenItIsAttachedAgain() throws Exception {
        create("vm1", "vm1.qcow2");
        ReadLimits limits = new ReadLimits(4 << 20, 100, 1 << 20, 0);
        disks.setIoLimits("vm1", limits);
        RememberedDisks.Entry entry = remembered.getLast().getFirst();
        assertEquals(limits, entry.ioLimits());

        disks.closeAll();
        assertEquals(List.of(), disks.restore(List.of(entry)));
        AttachedDisk again = disks.require("vm1");
        assertEquals(limits, again.guestIo().limits());
        assertEquals(limits.throttleLimits(), again.guestIo().throttle().limits(), "and they apply");
        disks.setIoLimits("vm1", ReadLimits.NONE);
        assertEquals(null, remembered.getLast().getFirst().ioLimits(), "no limits: nothing to remember");
    }

    @Test
    void detachingClosesTheImageSoItAttachesAgainWithWhatWasWritten() throws Exception {
        AttachedDisk vm = create("vm1", "vm1.qcow2");
        vm.active().exportNode().write(0, ByteBuffer.wrap(new byte[] {7}), WriteFlag.NONE);
        disks.detach("vm1", false);
        assertTrue(exports.find("vm1").isEmpty());
        assertEquals(List.of(), remembered.getLast());
        assertTrue(disks.find("vm1").isEmpty());

        AttachedDisk again = disks.attach("vm1", images.resolve("vm1.qcow2").toString(), "qcow2", null);
        ByteBuffer first = ByteBuffer.allocate(512);
        again.active().exportNode().read(0, first);
        assertEquals(7, first.get(0));
    }

    @Test
    void anExistingImageNeedsItsFormatWhichIsNeverGuessed() throws Exception {
        disks.attach("raw1", images.resolve("raw1.img").toString(), "raw", new DiskTable.CreateSpec(SIZE, 65536, null, null));
        disks.detach("raw1", false);
        HostRefusal refusal = assertThrows(HostRefusal.class,
                () -> disks.attach("raw1", images.resolve("raw1.img").toString(), null, null));
        assertEquals(ProblemReason.FORMAT_REQUIRED, refusal.reason());
        assertTrue(refusal.getMessage().contains("looks like raw"), refusal.getMessage());
        create("vm1", "vm1.qcow2");
        disks.detach("vm1", false);
        HostRefusal qcow2 = assertThrows(HostRefusal.class,
                () -> disks.attach("vm1", images.resolve("vm1.qcow2").toString(), null, null));
        assertTrue(qcow2.getMessage().contains("looks like qcow2 v3; pass \"format\": \"qcow2\""), qcow2.getMessage());
        AttachedDisk raw = disks.attach("raw1", images.resolve("raw1.img").toString(), "raw", null);
        assertEquals(ImageOpener.Format.RAW, raw.format());
        assertTrue(raw.active().checkpoints().persistent(), "raw images keep their checkpoints in a sidecar beside them");
    }

    @Test
    void attachRefusalsNameTheirReason() throws Exception {
        create("vm1", "vm1.qcow2");
        Files.writeString(dir.resolve("outside.img"), "x");
        assertRefused(ProblemReason.NAME_IN_USE, () -> create("vm1", "other.qcow2"));
        assertRefused(ProblemReason.PATH_NOT_ALLOWED, () -> disks.attach("vm2", dir.resolve("outside.img").toString(),
                null, null));
        assertRefused(ProblemReason.PATH_NOT_ALLOWED, () -> disks.attach("vm2",
                images.resolve("../outside.img").toString(), null, null));
        assertRefused(ProblemReason.IMAGE_NOT_FOUND, () -> disks.attach("vm2", images.resolve("none.qcow2").toString(),
                null, null));
        Files.writeString(images.resolve("loose.img"), "x");
        assertRefused(ProblemReason.IMAGE_EXISTS, () -> create("vm2", "loose.img"));
        assertRefused(ProblemReason.RAW_HAS_NO_BACKING, () -> disks.attach("vm2", images.resolve("r.img").toString(),
                "raw", new DiskTable.CreateSpec(SIZE, 65536, images.resolve("vm1.qcow2").toString(), "qcow2")));
        Qcow2Creator.create(images.resolve("base.qcow2"), Qcow2CreateOptions.of(SIZE));
        assertRefused(ProblemReason.BACKING_FORMAT_REQUIRED, () -> disks.attach("vm2", images.resolve("b.qcow2").toString(),
                "qcow2", new DiskTable.CreateSpec(SIZE, 65536, images.resolve("base.qcow2").toString(), null)));
        Qcow2Creator.create(images.resolve("escape.qcow2"),
                Qcow2CreateOptions.of(SIZE).withBacking(dir.resolve("outside.img").toString(), "raw"));
        assertRefused(ProblemReason.BACKING_OUTSIDE, () -> disks.attach("vm2", images.resolve("escape.qcow2").toString(),
                "qcow2", null));
        Qcow2Creator.create(images.resolve("climb.qcow2"), Qcow2CreateOptions.of(SIZE).withBacking("../outside.img", "raw"));
        assertRefused(ProblemReason.BACKING_OUTSIDE, () -> disks.attach("vm2", images.resolve("climb.qcow2").toString(),
                "qcow2", null));
        assertRefused(ProblemReason.DISK_UNKNOWN, () -> disks.detach("vm9", false));
        assertEquals(1, disks.list().size(), "no refusal attached anything");
        assertTrue(exports.find("vm2").isEmpty());
    }

    @Test
    void aDiskCannotTakeTheNameOfAnExport() throws Exception {
        AttachedDisk vm = create("vm1", "vm1.qcow2");
        exports.register(new NbdExport("taken", "", vm.active().exportNode(), true,
                false, true, List.of()));
        assertRefused(ProblemReason.NAME_IN_USE, () -> create("taken", "taken.qcow2"));
    }

    @Test
    void fleecedsOwnFilesAreReserved() throws Exception {
        create("vm1", "vm1.qcow2");
        Path intent = images.resolve("vm1.qcow2.fleeced-intent");
        assertTrue(Files.exists(intent), "a qcow2 disk keeps its intent log beside the image");
        assertRefused(ProblemReason.RESERVED_PATH, () -> disks.attach("p", intent.toString(), "raw", null));
        Path linkedIntent = Files.createLink(images.resolve("innocent.img"), intent);
        assertRefused(ProblemReason.RESERVED_PATH, () -> disks.attach("p", linkedIntent.toString(), "raw", null));
        assertRefused(ProblemReason.RESERVED_PATH, () -> disks.attach("p",
                images.resolve("other.qcow2.fleeced-intent").toString(), "raw", new DiskTable.CreateSpec(SIZE, 65536, null, null)));
        Files.writeString(state.resolve("disks.json"), "[]");
        assertRefused(ProblemReason.RESERVED_PATH, () -> disks.attach("p", state.resolve("disks.json").toString(), "raw", null));
        assertRefused(ProblemReason.RESERVED_PATH, () -> create("p", "temp/t.qcow2"));
        assertEquals(1, disks.list().size(), "no refusal attached anything");
    }

    @Test
    void theImageADiskWritesIsInUseUnderAnyName() throws Exception {
        create("vm1", "vm1.qcow2");
        Path image = images.resolve("vm1.qcow2");
        Path hardLink = Files.createLink(images.resolve("hard.qcow2"), image);
        Path symlink = Files.createSymbolicLink(images.resolve("soft.qcow2"), image);
        for (Path name : List.of(image, hardLink, symlink)) {
            HostRefusal refusal = assertThrows(HostRefusal.class, () -> disks.attach("p", name.toString(), "qcow2", null));
            assertEquals(ProblemReason.IMAGE_IN_USE, refusal.reason(), refusal.getMessage());
            assertTrue(refusal.getMessage().contains("'vm1'"), refusal.getMessage());
        }
        assertRefused(ProblemReason.IMAGE_IN_USE, () -> disks.attach("p", images.resolve("o.qcow2").toString(), null,
                new DiskTable.CreateSpec(SIZE, 65536, hardLink.toString(), "qcow2")));
        disks.detach("vm1", false);
        assertEquals("vm2", disks.attach("vm2", hardLink.toString(), "qcow2", null).name(),
                "once detached, the image is free again");
    }

    @Test
    void aBackingImageIsSharedByOverlays() throws Exception {
        disks.attach("base", images.resolve("base.qcow2").toString(), null, new DiskTable.CreateSpec(SIZE, 65536, null, null));
        disks.detach("base", false);
        for (String name : List.of("o1", "o2")) {
            disks.attach(name, images.resolve(name + ".qcow2").toString(), null,
                    new DiskTable.CreateSpec(SIZE, 65536, images.resolve("base.qcow2").toString(), "qcow2"));
        }
        assertEquals(List.of("o1", "o2"), disks.list().stream().map(AttachedDisk::name).toList());
    }

    static void assertRefused(ProblemReason reason, Executable call) {
        HostRefusal refusal = assertThrows(HostRefusal.class, call);
        assertEquals(reason, refusal.reason(), refusal.getMessage());
    }
}
