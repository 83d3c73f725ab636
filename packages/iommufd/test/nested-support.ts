/**
 * Helpers of the nested-HWPT tests: IOMMU_HWPT_ALLOC with driver data,
 * IOMMU_HWPT_INVALIDATE, the selftest probes MD_CHECK_IOTLB /
 * DEV_CHECK_CACHE, on the byte interface (layouts: include/uapi/linux/iommufd.h,
 * drivers/iommu/iommufd/iommufd_test.h), and a scratch area of process
 * memory for the structs those point at.
 */

import { stateHash } from "@iommu-sim/eventlog";
import { IOMMU_IOCTL, IOMMU_TEST_OP, isErrno, MOCK_NESTED_DOMAIN_IOTLB_NUM } from "@iommu-sim/uapi";
import { expect } from "vitest";
import { Fixture, view } from "./fixture";
import { bytes } from "./harness";

const PAGE = 4096n;

/** A struct iommu_hwpt_selftest {u32 iotlb} (4 bytes). */
export const hwptSelftest = (iotlb: number) => bytes(4, [[0, 4, iotlb]]);

/** Entries of struct iommu_hwpt_invalidate_selftest {u32 flags; u32 iotlb_id} (8 bytes each). */
export const invSelftest = (...e: [flags: number, iotlbId: number][]) =>
  bytes(
    8 * e.length,
    e.flatMap(([f, id], i): [number, 4, number][] => [
      [8 * i, 4, f],
      [8 * i + 4, 4, id],
    ]),
  );

/** Entries of struct iommu_hwpt_vtd_s1_invalidate {u64 addr; u64 npages; u32 flags; u32 __reserved} (24 bytes each). */
export const invVtd = (...e: [addr: bigint, npages: bigint, flags?: number][]) =>
  bytes(
    24 * e.length,
    e.flatMap(([a, n, f], i): [number, 4 | 8, number | bigint][] => [
      [24 * i, 8, a],
      [24 * i + 8, 8, n],
      [24 * i + 16, 4, f ?? 0],
    ]),
  );

/** Fixture + a 4-page scratch mapping of process 100 for the structs ioctls point at. */
export class NestedFixture extends Fixture {
  scratch: bigint;

  constructor(mockDomains: number) {
    super(mockDomains);
    const m = this.log.dispatch({
      type: "mm.mmap",
      data: { pid: 100, length: 4n * PAGE, prot: 3, shared: false },
    });
    if (isErrno(m)) throw new Error(`${m}`);
    this.scratch = (m[0]!.data as { addr: bigint }).addr;
  }

  /** Write `b` at `va` of process 100. */
  poke(va: bigint, b: Uint8Array): void {
    const r = this.log.dispatch({ type: "mm.write", data: { pid: 100, va, bytes: b } });
    if (isErrno(r)) throw new Error(`${r}`);
  }

  /** Put `b` at the start of the scratch area and return its address (null → 0, a NULL pointer). */
  put(b: Uint8Array | null): bigint {
    if (b === null) return 0n;
    this.poke(this.scratch, b);
    return this.scratch;
  }

  /** IOMMU_HWPT_ALLOC {flags, dev_id, pt_id, data_type, data_len, data_uptr, fault_id} → [rc, out_hwpt_id]. */
  hwptAlloc(
    devId: number,
    ptId: number,
    flags = 0,
    dataType = 0,
    data: Uint8Array | null = null,
    dataLen = data?.length ?? 0,
    faultId = 0,
  ): [number, number] {
    const arg = bytes(48, [
      [0, 4, 48],
      [4, 4, flags],
      [8, 4, devId],
      [12, 4, ptId],
      [24, 4, dataType],
      [28, 4, dataLen],
      [32, 8, this.put(data)],
      [40, 4, faultId],
    ]);
    return [this.fd.ioctl(IOMMU_IOCTL.IOMMU_HWPT_ALLOC, arg), view(arg).getUint32(16, true)];
  }

  /** IOMMU_HWPT_INVALIDATE → [rc, entry_num written back]. */
  invalidate(
    hwptId: number,
    reqs: Uint8Array | null,
    dataType: number,
    entryLen: number,
    entryNum: number,
    reserved = 0,
  ): [number, number] {
    const arg = bytes(32, [
      [0, 4, 32],
      [4, 4, hwptId],
      [8, 8, this.put(reqs)],
      [16, 4, dataType],
      [20, 4, entryLen],
      [24, 4, entryNum],
      [28, 4, reserved],
    ]);
    return [this.fd.ioctl(IOMMU_IOCTL.IOMMU_HWPT_INVALIDATE, arg), view(arg).getUint32(24, true)];
  }

  /** IOMMU_TEST_OP_MD_CHECK_IOTLB: entry `id` of nested HWPT `hwptId`'s mock IOTLB is `value` → rc. */
  checkIotlb(hwptId: number, id: number, value: number): number {
    return this.test(IOMMU_TEST_OP.IOMMU_TEST_OP_MD_CHECK_IOTLB, hwptId, [
      [0, 4, id],
      [4, 4, value],
    ])[0];
  }

  /** test_cmd_hwpt_check_iotlb_all: every entry is `value` → the rcs. */
  checkIotlbAll(hwptId: number, value: number): number[] {
    return Array.from({ length: MOCK_NESTED_DOMAIN_IOTLB_NUM }, (_, i) => this.checkIotlb(hwptId, i, value));
  }

  /** IOMMU_TEST_OP_DEV_CHECK_CACHE: entry `id` of device `devId`'s mock cache is `value` → rc. */
  checkDevCache(devId: number, id: number, value: number): number {
    return this.test(IOMMU_TEST_OP.IOMMU_TEST_OP_DEV_CHECK_CACHE, devId, [
      [0, 4, id],
      [4, 4, value],
    ])[0];
  }

  /** IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE of selftest object `stdev` to `ptId` → rc. */
  mockReplace(stdev: number, ptId: number): number {
    return this.test(IOMMU_TEST_OP.IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE, stdev, [[0, 4, ptId]])[0];
  }
}

/**
 * A fail-nth sweep over a sequence of ioctl steps: for n = 1, 2, … a fresh
 * fixture from `make()` runs `steps` with its n-th fault point (counted
 * across the steps) failing. The step where it fires must fail and leave
 * the state hash unchanged; the steps before it must succeed. Then the
 * fixture's fd closes and `closed(f)` checks what is left. The sweep ends
 * with the first run in which no fault point fired.
 * @returns the fault sites that fired.
 */
export function sweepSteps<F extends NestedFixture>(
  make: () => F,
  steps: readonly ((f: F) => number)[],
  closed: (f: F) => void,
): Set<string> {
  const sites = new Set<string>();
  for (let n = 1; n < 10_000; n++) {
    const f = make();
    let remaining = n;
    let failed = false;
    for (const step of steps) {
      const before = stateHash(f.log.state);
      f.log.failNth(remaining);
      const rc = step(f);
      if (f.log.lastSteps.fired) {
        expect(rc, `step ${n} must fail`).toBeLessThan(0);
        expect(stateHash(f.log.state), `step ${n} left a trace`).toBe(before);
        sites.add(f.log.lastSteps.sites[remaining - 1]!);
        failed = true;
        break;
      }
      expect(rc).toBe(0);
      remaining -= f.log.lastSteps.sites.length;
    }
    f.fd.close();
    closed(f);
    if (!failed) break;
  }
  return sites;
}
