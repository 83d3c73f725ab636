/**
 * Fault injection over the group and cdev paths (SET_CONTAINER binds and
 * attaches a whole group: all or nothing), like Linux's
 * tools/testing/selftests/iommu/iommufd_fail_nth.c: for n = 1, 2, … the nth
 * fallible step of the ioctl fails; the ioctl must answer an errno and
 * leave the state hash unchanged, until a run reaches no armed step and
 * succeeds. Then the log replays to the same state.
 */
import { stateHash } from "@iommu-sim/eventlog";
import {
  IOMMU_HWPT_ALLOC_PASID,
  IOMMU_IOCTL,
  IOMMU_VFIO_IOAS_SET,
  isErrno,
  VFIO_IOCTL,
} from "@iommu-sim/uapi";
import { describe, expect, it } from "vitest";
import { createEmptyVfioSystemLog } from "../src/index";
import { bytes } from "./harness";
import { GiB, Machine, TWO_DEVICE_GROUP } from "./vfio-harness";

/**
 * Sweep `run` (one ioctl) with the nth step failing; every failure must
 * leave no trace. @returns the sites failed, in order (the last run succeeded).
 */
function sweep(m: Machine, run: () => number): string[] {
  const sites: string[] = [];
  for (let n = 1; n < 500; n++) {
    const before = stateHash(m.log.state);
    m.log.failNth(n);
    const rc = run();
    const report = m.log.lastSteps;
    if (!report.fired) {
      expect(rc).toBeGreaterThanOrEqual(0);
      return sites;
    }
    sites.push(report.sites[n - 1]!);
    expect(rc, `fail-nth ${n} at ${report.sites[n - 1]}`).toBeLessThan(0);
    expect(stateHash(m.log.state), `fail-nth ${n} left a trace`).toBe(before);
  }
  throw new Error("no end to the sweep");
}

/** A guest-like mapping in the container so that attaching fills a domain. */
function mapSome(m: Machine, container: number): void {
  const va = m.mmap(0x20_0000n);
  const map = bytes(32, [
    [0, 4, 32],
    [4, 4, 3],
    [8, 8, va],
    [16, 8, 0x10_0000n],
    [24, 8, 0x20_0000n],
  ]);
  expect(m.ioctl(container, VFIO_IOCTL.VFIO_IOMMU_MAP_DMA, map)).toBe(0);
}

describe("fail-nth over the group path", () => {
  it("SET_CONTAINER (compat IOAS, bind + attach), GET_DEVICE_FD, a second group filling a new domain, then replay", () => {
    const m = new Machine(undefined, GiB);
    const container = m.openIommufd();
    expect(m.open("/dev/vfio/2")).toBe(2);
    const setSites = sweep(m, () => m.setContainer(2, container));
    expect(setSites[0]).toBe("iommufd.object_alloc"); // the compat IOAS first
    expect(setSites).toContain("iommufd.device_bind");
    expect(m.objects(container)).toEqual({ 1: "ioas", 2: "device:nic0", 3: "hwpt_paging" });
    mapSome(m, container);

    // The device is bound already: opening it has only the file's own steps.
    expect(sweep(m, () => m.deviceFd(2, "0000:03:00.0"))).toEqual([
      "vfio.device_file_alloc",
      "vfio.anon_inode_getfile",
    ]);
    expect(sweep(m, () => m.deviceFd(2, "0000:03:00.0"))).toEqual([
      "vfio.device_file_alloc",
      "vfio.anon_inode_getfile",
    ]);

    // gpu0 (group 3) sits behind the SMMU: joining the container makes a new domain and fills it
    // with the mapping — every one of those steps may fail without a trace.
    m.open("/dev/vfio/3");
    const smmuSites = sweep(m, () => m.setContainer(3, container));
    expect(smmuSites).toContain("iommufd.device_bind");
    expect(smmuSites.length).toBeGreaterThan(4);
    expect(m.objects(container)).toEqual({
      1: "ioas",
      2: "device:nic0",
      3: "hwpt_paging",
      4: "device:gpu0",
      5: "hwpt_paging",
    });

    // The whole log replays to the same state.
    const replay = createEmptyVfioSystemLog();
    replay.replay(m.log.records);
    expect(stateHash(replay.state)).toBe(stateHash(m.log.state));
  });

  it("a multi-device group: failing at the second device's bind leaves neither device bound", () => {
    const fresh = () => {
      const m = new Machine(TWO_DEVICE_GROUP);
      const ctx = m.openIommufd();
      m.open("/dev/vfio/7");
      return { m, ctx };
    };
    const swept = fresh();
    const sites = sweep(swept.m, () => swept.m.setContainer(7, swept.ctx));
    const binds = sites.flatMap((s, i) => (s === "iommufd.device_bind" ? [i + 1] : []));
    expect(binds.length).toBe(2); // nica, then nicb
    const { m, ctx } = fresh();
    m.log.failNth(binds[1]!);
    expect(m.setContainer(7, ctx)).toBe(-12);
    expect(m.log.lastSteps.sites[binds[1]! - 1]).toBe("iommufd.device_bind");
    expect(m.objects(ctx)).toEqual({}); // nica's bind and attach, and the compat IOAS, were undone with it
    expect(m.status(7)).toEqual([0, 1]); // VIABLE, no container
    expect(m.setContainer(7, ctx)).toBe(0);
    expect(m.objects(ctx)).toEqual({ 1: "ioas", 2: "device:nica", 3: "hwpt_paging", 4: "device:nicb" });
  });

  it("with Linux's default 8 MiB RLIMIT_MEMLOCK, pinning a 16 MiB compat IOAS at SET_CONTAINER is ENOMEM, without a trace", () => {
    const m = new Machine();
    const ctx = m.openIommufd(false); // /dev/iommu, compat IOAS chosen by hand
    const ioas = m.ioasAlloc(ctx);
    const va = m.mmap(0x100_0000n);
    const map = bytes(40, [
      [0, 4, 40],
      [4, 4, 7], // FIXED_IOVA | WRITEABLE | READABLE
      [8, 4, ioas],
      [16, 8, va],
      [24, 8, 0x100_0000n],
      [32, 8, 0n],
    ]);
    expect(m.ioctl(ctx, IOMMU_IOCTL.IOMMU_IOAS_MAP, map)).toBe(0); // no domain: nothing pinned yet
    const set = bytes(12, [
      [0, 4, 12],
      [4, 4, ioas],
      [8, 2, IOMMU_VFIO_IOAS_SET],
    ]);
    expect(m.ioctl(ctx, IOMMU_IOCTL.IOMMU_VFIO_IOAS, set)).toBe(0);
    m.open("/dev/vfio/2");
    const before = stateHash(m.log.state);
    expect(m.setContainer(2, ctx)).toBe(-12);
    expect(stateHash(m.log.state)).toBe(before);
    expect(m.objects(ctx)).toEqual({ 1: "ioas" });
    expect(m.status(2)).toEqual([0, 1]);
  });
});

describe("fail-nth over the cdev path", () => {
  it("open, BIND_IOMMUFD, ATTACH_IOMMUFD_PT (new auto domain), PASID attach, close", () => {
    const m = new Machine(undefined, GiB);
    const ctx = m.openIommufd(false);
    let file = 0;
    expect(
      sweep(m, () => {
        const f = m.open("/dev/vfio/devices/vfio1");
        if (isErrno(f)) return f.ret;
        file = f;
        return 0;
      }),
    ).toEqual(["vfio.device_file_alloc"]);
    expect(sweep(m, () => m.bind(file, ctx)[0])).toEqual(["iommufd.device_bind"]);
    const ioas = m.ioasAlloc(ctx);
    const va = m.mmap(0x20_0000n);
    const map = bytes(40, [
      [0, 4, 40],
      [4, 4, 7],
      [8, 4, ioas],
      [16, 8, va],
      [24, 8, 0x20_0000n],
      [32, 8, 0n],
    ]);
    expect(m.ioctl(ctx, IOMMU_IOCTL.IOMMU_IOAS_MAP, map)).toBe(0);
    const attachSites = sweep(m, () => m.attach(file, ioas)[0]);
    expect(attachSites.length).toBeGreaterThan(2);
    // PASID 0x10000 needs a new PASID-table page (64 entries per page, VT-d §9.5): a fallible step
    const hwpt = m.hwptAlloc(ctx, 1, ioas, IOMMU_HWPT_ALLOC_PASID); // PASIDs need a PASID-compatible HWPT
    expect(m.attach(file, hwpt)[0]).toBe(0); // … and so does the RID beside them (replace)
    expect(sweep(m, () => m.attach(file, hwpt, 0x1_0000)[0])).toEqual(["vtd.pasid_table_alloc"]);
    expect(m.state.iommufd.contexts[ctx]!.objects[1]!.attachments).toEqual([
      { pasid: 0, hwpt },
      { pasid: 0x1_0000, hwpt },
    ]);
    // release has no fallible step: it always goes through
    m.log.failNth(1);
    m.env.dispatch({ type: "vfio.device.close", data: { file } });
    expect(m.log.lastSteps.fired).toBe(false);
    expect(m.objects(ctx)).toEqual({ 2: "ioas", [hwpt]: "hwpt_paging" }); // a user-allocated HWPT stays
  });
});
