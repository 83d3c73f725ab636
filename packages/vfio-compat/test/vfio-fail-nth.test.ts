/**
 * Fault injection over the group and cdev paths, like Linux's
 * tools/testing/selftests/iommu/iommufd_fail_nth.c: for n = 1, 2, … the nth
 * fallible step of the ioctl fails; the ioctl must answer an errno and
 * leave the state hash unchanged, until a run reaches no armed step and
 * succeeds. Then the log replays to the same state.
 */
import { stateHash } from "@iommu-sim/eventlog";
import { IOMMU_IOCTL, isErrno, VFIO_IOCTL } from "@iommu-sim/uapi";
import { describe, expect, it } from "vitest";
import { createEmptyVfioSystemLog } from "../src/index";
import { bytes } from "./harness";
import { GiB, Machine } from "./vfio-harness";

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
  it("SET_CONTAINER (compat IOAS creation), then GET_DEVICE_FD (bind + attach + fill), then replay", () => {
    const m = new Machine(undefined, GiB);
    const container = m.openIommufd();
    expect(m.open("/dev/vfio/2")).toBe(2);
    const setSites = sweep(m, () => m.setContainer(2, container));
    expect(setSites).toContain("iommufd.object_alloc");
    expect(m.compatIoas(container)).toEqual([0, 1]);
    mapSome(m, container);

    const openSites = sweep(m, () => m.deviceFd(2, "0000:03:00.0"));
    expect(openSites[0]).toBe("vfio.device_file_alloc");
    expect(openSites).toContain("iommufd.device_bind");
    expect(openSites).toContain("vfio.anon_inode_getfile");
    expect(openSites.length).toBeGreaterThan(4); // the new domain's and the fill's steps too
    expect(m.objects(container)).toEqual({ 1: "ioas", 2: "device:nic0", 3: "hwpt_paging" });

    // The whole log replays to the same state.
    const replay = createEmptyVfioSystemLog();
    replay.replay(m.log.records);
    expect(stateHash(replay.state)).toBe(stateHash(m.log.state));
  });

  it("a second device fd of an open device has only the file's own steps", () => {
    const m = new Machine();
    const container = m.openIommufd();
    m.open("/dev/vfio/2");
    m.setContainer(2, container);
    m.deviceFd(2, "0000:03:00.0");
    expect(sweep(m, () => m.deviceFd(2, "0000:03:00.0"))).toEqual([
      "vfio.device_file_alloc",
      "vfio.anon_inode_getfile",
    ]);
  });

  it("with Linux's default 8 MiB RLIMIT_MEMLOCK, pinning a 16 MiB guest at GET_DEVICE_FD is ENOMEM, without a trace", () => {
    const m = new Machine();
    const container = m.openIommufd();
    m.open("/dev/vfio/2");
    m.setContainer(2, container);
    const va = m.mmap(0x100_0000n);
    const map = bytes(32, [
      [0, 4, 32],
      [4, 4, 3],
      [8, 8, va],
      [16, 8, 0n],
      [24, 8, 0x100_0000n],
    ]);
    expect(m.ioctl(container, VFIO_IOCTL.VFIO_IOMMU_MAP_DMA, map)).toBe(0); // nothing pinned yet
    const before = stateHash(m.log.state);
    expect(m.deviceFd(2, "0000:03:00.0")).toBe(-12);
    expect(stateHash(m.log.state)).toBe(before);
    expect(m.objects(container)).toEqual({ 1: "ioas" });
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
    expect(sweep(m, () => m.attach(file, ioas, 0x1_0000)[0])).toEqual(["vtd.pasid_table_alloc"]);
    expect(m.state.iommufd.contexts[ctx]!.objects[1]!.attachments).toEqual([
      { pasid: 0, hwpt: 3 },
      { pasid: 0x1_0000, hwpt: 3 },
    ]);
    // release has no fallible step: it always goes through
    m.log.failNth(1);
    m.env.dispatch({ type: "vfio.device.close", data: { file } });
    expect(m.log.lastSteps.fired).toBe(false);
    expect(m.objects(ctx)).toEqual({ 2: "ioas" });
  });
});
