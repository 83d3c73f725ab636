/**
 * Helpers of the vIOMMU tests on the byte interface: IOMMU_VIOMMU_ALLOC,
 * IOMMU_VDEVICE_ALLOC and IOMMU_HWPT_INVALIDATE on a vIOMMU, with the
 * layouts of include/uapi/linux/iommufd.h (struct iommu_viommu_alloc: 40
 * bytes; struct iommu_vdevice_alloc: 24 bytes) and iommufd_test.h
 * (struct iommu_viommu_selftest {u32 in_data; u32 out_data}: 8 bytes;
 * struct iommu_viommu_invalidate_selftest {u32 flags; u32 vdev_id; u32
 * cache_id}: 12 bytes). Offsets transcribed from the headers.
 */
import { IOMMU_IOCTL } from "@iommu-sim/uapi";
import { view } from "./fixture";
import { bytes } from "./harness";
import { hwptSelftest, NestedFixture } from "./nested-support";

/** IOMMU_VIOMMU_TYPE_SELFTEST (iommufd_test.h) and IOMMU_VIOMMU_TYPE_DEFAULT (iommufd.h). */
export const VIOMMU_TYPE_SELFTEST = 0xdeadbeef;
export const VIOMMU_TYPE_DEFAULT = 0;
/** IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST and _INVALID (iommufd_test.h). */
export const VIOMMU_INV_SELFTEST = 0xdeadbeef;
export const VIOMMU_INV_SELFTEST_INVALID = 0xdadbeef;
/** IOMMU_HWPT_DATA_SELFTEST, IOMMU_TEST_IOTLB_DEFAULT, IOMMU_TEST_DEV_CACHE_DEFAULT (iommufd_test.h). */
export const DATA_SELFTEST = 0xdead;
export const IOTLB_DEFAULT = 0xbadbeef;
export const DEV_CACHE_DEFAULT = 0xbaddad;
/** IOMMU_HWPT_ALLOC_NEST_PARENT, _FAULT_ID_VALID, _PASID (iommufd.h enum iommufd_hwpt_alloc_flags). */
export const NEST_PARENT = 1;
export const FAULT_ID_VALID = 1 << 2;
export const ALLOC_PASID = 1 << 3;
/** asm-generic/errno-base.h and errno.h, negated. */
export const [ENOENT, EFAULT, EBUSY, EEXIST, EINVAL, EOPNOTSUPP] = [-2, -14, -16, -17, -22, -95];

/** Entries of struct iommu_viommu_invalidate_selftest (12 bytes each). */
export const viommuInv = (...e: [flags: number, vdevId: number, cacheId: number][]) =>
  bytes(
    12 * e.length,
    e.flatMap(([f, v, c], i): [number, 4, number][] => [
      [12 * i, 4, f],
      [12 * i + 4, 4, v],
      [12 * i + 8, 4, c],
    ]),
  );

/** The iommufd_viommu fixture's setup: a mock device on the IOAS and a NEST_PARENT HWPT (`parent`). */
export class ViommuFixture extends NestedFixture {
  parent: number;

  constructor() {
    super(1);
    const [rc, parent] = this.hwptAlloc(this.idev, this.ioas, NEST_PARENT);
    if (rc !== 0) throw new Error(`NEST_PARENT HWPT: ${rc}`);
    this.parent = parent;
  }

  /**
   * IOMMU_VIOMMU_ALLOC → [rc, out_viommu_id]; `data` (null: none) is put in
   * the scratch area (`dataUptr` overrides its address).
   */
  viommuAlloc(
    devId: number,
    hwptId: number,
    type = VIOMMU_TYPE_SELFTEST,
    opts: { data?: Uint8Array; dataLen?: number; dataUptr?: bigint; flags?: number; reserved?: number } = {},
  ): [number, number] {
    const data = opts.data ?? null;
    const arg = bytes(40, [
      [0, 4, 40],
      [4, 4, opts.flags ?? 0],
      [8, 4, type],
      [12, 4, devId],
      [16, 4, hwptId],
      [24, 4, opts.dataLen ?? data?.length ?? 0],
      [28, 4, opts.reserved ?? 0],
      [32, 8, opts.dataUptr ?? this.put(data)],
    ]);
    return [this.fd.ioctl(IOMMU_IOCTL.IOMMU_VIOMMU_ALLOC, arg), view(arg).getUint32(20, true)];
  }

  /** IOMMU_VDEVICE_ALLOC → [rc, out_vdevice_id]. */
  vdeviceAlloc(viommuId: number, devId: number, virtId: bigint): [number, number] {
    const arg = bytes(24, [
      [0, 4, 24],
      [4, 4, viommuId],
      [8, 4, devId],
      [16, 8, virtId],
    ]);
    return [this.fd.ioctl(IOMMU_IOCTL.IOMMU_VDEVICE_ALLOC, arg), view(arg).getUint32(12, true)];
  }

  /** test_cmd_dev_check_cache_all: every entry of the device's cache is `value` → the rcs. */
  checkDevCacheAll(devId: number, value: number): number[] {
    return [0, 1, 2, 3].map((i) => this.checkDevCache(devId, i, value));
  }

  /** The object types of the context, by id. */
  objects(): Record<number, string> {
    const c = this.log.state.iommufd.contexts[this.fd.ctx]!;
    return Object.fromEntries(Object.values(c.objects).map((o) => [o.id, o.type]));
  }
}

/**
 * The fixture of the fail-nth step sequences (viommu-fail-nth,
 * veventq-fail-nth): ids found along a sequence that builds a mock
 * device → NEST_PARENT HWPT → vIOMMU → nested HWPT stack from a context
 * holding only its IOAS (`fresh()`); the nested HWPT's iommu_hwpt_selftest
 * data is at scratch +0.
 */
export class ViommuSeq extends ViommuFixture {
  dev = 0;
  viommu = 0;
  nested = 0;

  constructor() {
    super();
    this.poke(this.scratch, hwptSelftest(IOTLB_DEFAULT));
  }

  /** A fixture whose own device and parent HWPT are destroyed again: the context holds only its IOAS. */
  static fresh<F extends ViommuSeq>(this: new () => F): F {
    const f = new this();
    if (f.destroy(f.parent) !== 0 || f.destroy(f.stdev) !== 0)
      throw new Error("cannot empty the fixture's context");
    return f;
  }
}

/** One step of a sequence: an ioctl (or read) and its return value (0 or −errno). */
export type SeqStep<F extends ViommuSeq> = (f: F) => number;

/** Bind a mock device to the IOAS (IOMMU_TEST_OP_MOCK_DOMAIN). */
const bind: SeqStep<ViommuSeq> = (f) => {
  const [rc, ids] = f.mockDomain(f.ioas);
  if (rc === 0) [f.stdev, , f.dev] = ids;
  return rc;
};
/** A NEST_PARENT paging HWPT on the IOAS. */
const parent: SeqStep<ViommuSeq> = (f) => {
  const [rc, id] = f.hwptAlloc(f.dev, f.ioas, NEST_PARENT);
  f.parent = id;
  return rc;
};
/** IOMMU_VIOMMU_ALLOC of the selftest type on the parent. */
const viommu: SeqStep<ViommuSeq> = (f) => {
  const [rc, id] = f.viommuAlloc(f.dev, f.parent);
  f.viommu = id;
  return rc;
};
/** IOMMU_HWPT_ALLOC of a nested HWPT on the vIOMMU (iommu_hwpt_selftest at scratch). */
const nested: SeqStep<ViommuSeq> = (f) => {
  const arg = bytes(48, [
    [0, 4, 48],
    [8, 4, f.dev],
    [12, 4, f.viommu],
    [24, 4, DATA_SELFTEST],
    [28, 4, 4],
    [32, 8, f.scratch],
  ]);
  const rc = f.fd.ioctl(IOMMU_IOCTL.IOMMU_HWPT_ALLOC, arg);
  f.nested = view(arg).getUint32(16, true);
  return rc;
};

/** The steps of VIOMMU_STACK by name (a test may start part way, from the fixture's own device and parent). */
export const STACK_STEPS = { bind, parent, viommu, nested } as const;

/** The steps from a context holding only its IOAS to a mock device's nested HWPT on a vIOMMU. */
export const VIOMMU_STACK: readonly SeqStep<ViommuSeq>[] = [bind, parent, viommu, nested];
