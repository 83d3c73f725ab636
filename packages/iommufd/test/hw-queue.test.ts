/**
 * HW queues of the selftest mock's vIOMMU on the byte interface: Linux's
 * TEST_F(iommufd_viommu, hw_queue) step by step (tools/testing/selftests/
 * iommu/iommufd.c), the checks of viommu.c iommufd_hw_queue_alloc_ioctl()
 * / iommufd_hw_queue_alloc_phys() in their order, and selftest.c
 * mock_hw_queue_init_phys()'s; destroy, close, a fail-nth sweep and a
 * JSONL replay.
 *
 * Golden values, from the headers: struct iommu_hw_queue_alloc is 40
 * bytes {size, flags, viommu_id, type, index, out_hw_queue_id,
 * nesting_parent_iova, length} (iommufd.h); IOMMU_HW_QUEUE_TYPE_DEFAULT 0,
 * IOMMU_HW_QUEUE_TYPE_TEGRA241_CMDQV 1 (iommufd.h);
 * IOMMU_HW_QUEUE_TYPE_SELFTEST 0xdeadbeef, IOMMU_TEST_HW_QUEUE_MAX 2
 * (iommufd_test.h); errno.h: EIO 5, ERANGE 34, EOVERFLOW 75.
 */
import { encodeLog, readLog, stateHash, textSource, Vocabulary } from "@iommu-sim/eventlog";
import { IOMMU_IOCTL, isErrno, VOCABULARY } from "@iommu-sim/uapi";
import { describe, expect, it } from "vitest";
import { createEmptySystemLog } from "../src/index";
import { view } from "./fixture";
import { bytes } from "./harness";
import { sweepSteps } from "./nested-support";
import {
  EBUSY,
  EEXIST,
  EFAULT,
  EINVAL,
  ENOENT,
  EOPNOTSUPP,
  NEST_PARENT,
  ViommuFixture,
} from "./viommu-support";

const TYPE_SELFTEST = 0xdeadbeef;
const TYPE_TEGRA241_CMDQV = 1;
const [EIO, ERANGE, EOVERFLOW] = [-5, -34, -75];
const PAGE = 4096n;

class HwQueueFixture extends ViommuFixture {
  viommu = 0;

  constructor(withViommu = true) {
    super();
    if (!withViommu) return;
    const [rc, viommu] = this.viommuAlloc(this.idev, this.parent);
    expect(rc).toBe(0);
    this.viommu = viommu;
  }

  /** IOMMU_HW_QUEUE_ALLOC → [rc, out_hw_queue_id]. */
  hwQueueAlloc(
    type: number,
    index: number,
    iova: bigint,
    length: bigint,
    opts: { flags?: number; viommu?: number } = {},
  ): [number, number] {
    const arg = bytes(40, [
      [0, 4, 40],
      [4, 4, opts.flags ?? 0],
      [8, 4, opts.viommu ?? this.viommu],
      [12, 4, type],
      [16, 4, index],
      [24, 8, iova],
      [32, 8, length],
    ]);
    return [this.fd.ioctl(IOMMU_IOCTL.IOMMU_HW_QUEUE_ALLOC, arg), view(arg).getUint32(20, true)];
  }

  /** test_ioctl_ioas_map: `length` bytes of the buffer at `offset`, at an IOVA the IOAS picks. */
  mapAuto(offset: bigint, length: bigint): bigint {
    const [rc, iova] = this.map(length, 0n, false, this.buffer + offset);
    expect(rc).toBe(0);
    return iova;
  }

  /** The pins iopt holds for internal accesses, by access id. */
  pins(): number {
    let n = 0;
    for (const a of this.log.state.iopt.accesses.values()) n += a.pins.size;
    return n;
  }
}

describe("TEST_F(iommufd_viommu, hw_queue), mock_viommu variant", () => {
  it("runs the selftest's sequence with its errnos", () => {
    const f = new HwQueueFixture();
    const start = 1n << 24n; // MOCK_APERTURE_START
    expect(f.hwQueueAlloc(0, 0, start, PAGE)[0]).toBe(EOPNOTSUPP); // IOMMU_HW_QUEUE_TYPE_DEFAULT
    expect(f.hwQueueAlloc(TYPE_SELFTEST, 0, start, 0n)[0]).toBe(EINVAL); // length 0
    expect(f.hwQueueAlloc(TYPE_SELFTEST, 0, (1n << 64n) - 1n, PAGE)[0]).toBe(EOVERFLOW);
    expect(f.hwQueueAlloc(TYPE_SELFTEST, 0, start, PAGE)[0]).toBe(ENOENT); // not mapped
    const iova = f.mapAuto(0n, PAGE);
    const iova2 = f.mapAuto(PAGE, PAGE);
    expect(f.hwQueueAlloc(TYPE_SELFTEST, 1, iova, PAGE)[0]).toBe(EIO); // index 0 first
    expect(f.hwQueueAlloc(TYPE_SELFTEST, 2, iova, PAGE)[0]).toBe(EINVAL); // IOMMU_TEST_HW_QUEUE_MAX
    const [rc0, q0] = f.hwQueueAlloc(TYPE_SELFTEST, 0, iova, PAGE);
    expect(rc0).toBe(0);
    expect(f.hwQueueAlloc(TYPE_SELFTEST, 0, iova, PAGE)[0]).toBe(EEXIST);
    expect(f.unmap(iova, PAGE)).toBe(EBUSY); // the queue owns the page
    expect(f.unmap(iova2, PAGE)).toBe(0);
    const [rc1, q1] = f.hwQueueAlloc(TYPE_SELFTEST, 1, iova + PAGE / 2n, PAGE / 2n);
    expect(rc1).toBe(0);
    expect(f.destroy(q0)).toBe(EBUSY); // queue 1 depends on it
    expect(f.destroy(q1)).toBe(0);
    expect(f.destroy(q0)).toBe(0);
    expect(f.unmap(iova, PAGE)).toBe(0);
    expect(f.pins()).toBe(0);
  });
});

describe("IOMMU_HW_QUEUE_ALLOC", () => {
  it("checks in viommu.c's order: flags/type, length, wrap, vIOMMU, the driver's type", () => {
    const f = new HwQueueFixture();
    const iova = f.mapAuto(0n, PAGE);
    expect(f.hwQueueAlloc(TYPE_SELFTEST, 0, iova, PAGE, { flags: 1 })[0]).toBe(EOPNOTSUPP);
    expect(f.hwQueueAlloc(0, 5, 0n, 0n, { viommu: 999 })[0]).toBe(EOPNOTSUPP); // type before all else
    expect(f.hwQueueAlloc(TYPE_SELFTEST, 5, (1n << 64n) - 1n, 0n, { viommu: 999 })[0]).toBe(EINVAL);
    expect(f.hwQueueAlloc(TYPE_SELFTEST, 5, 1n << 63n, 1n << 63n, { viommu: 999 })[0]).toBe(ENOENT); // ends at 2^64 − 1: fits
    expect(f.hwQueueAlloc(TYPE_SELFTEST, 5, (1n << 63n) + 1n, 1n << 63n, { viommu: 999 })[0]).toBe(EOVERFLOW);
    expect(f.hwQueueAlloc(TYPE_SELFTEST, 0, iova, PAGE, { viommu: f.parent })[0]).toBe(ENOENT);
    expect(f.hwQueueAlloc(TYPE_TEGRA241_CMDQV, 0, iova, PAGE)[0]).toBe(EOPNOTSUPP); // the mock's type only
    expect(f.hwQueueAlloc(TYPE_SELFTEST, 5, iova, PAGE)[0]).toBe(EINVAL); // index after the pin
  });

  it("ERANGE when offset + length rounds past 2^64 (iommufd_hw_queue_alloc_phys)", () => {
    const f = new HwQueueFixture();
    expect(f.hwQueueAlloc(TYPE_SELFTEST, 0, 1n, (1n << 64n) - 1n)[0]).toBe(ERANGE);
  });

  it("EFAULT when the queue's pages are not physically contiguous", () => {
    const f = new HwQueueFixture();
    // Touch the second page first: the process gets its frames in reverse order.
    for (const at of [PAGE, 0n]) {
      const r = f.log.dispatch({
        type: "mm.write",
        data: { pid: 100, va: f.buffer + at, bytes: new Uint8Array([1]) },
      });
      expect(isErrno(r)).toBe(false);
    }
    const iova = f.mapAuto(0n, 2n * PAGE);
    const before = stateHash(f.log.state);
    expect(f.hwQueueAlloc(TYPE_SELFTEST, 0, iova, 2n * PAGE)[0]).toBe(EFAULT);
    expect(stateHash(f.log.state)).toBe(before);
    expect(f.hwQueueAlloc(TYPE_SELFTEST, 0, iova + PAGE, PAGE)[0]).toBe(0); // one page is contiguous
  });

  it("holds its vIOMMU; closing the context unpins and frees everything", () => {
    const f = new HwQueueFixture();
    const iova = f.mapAuto(0n, PAGE);
    expect(f.hwQueueAlloc(TYPE_SELFTEST, 0, iova, PAGE)[0]).toBe(0);
    expect(f.hwQueueAlloc(TYPE_SELFTEST, 1, iova, 8n)[0]).toBe(0);
    expect(f.destroy(f.viommu)).toBe(EBUSY);
    expect(f.pins()).toBe(2);
    f.fd.close();
    expect(f.log.state.iommufd.contexts).toEqual({});
    expect(f.log.state.iopt.accesses.size).toBe(0);
    expect(f.log.state.iopt.ioas.size).toBe(0);
  });

  it("a second vIOMMU has queues of its own, from index 0", () => {
    const f = new HwQueueFixture();
    const iova = f.mapAuto(0n, PAGE);
    const [rc, other] = f.viommuAlloc(f.idev, f.parent);
    expect(rc).toBe(0);
    expect(f.hwQueueAlloc(TYPE_SELFTEST, 0, iova, PAGE)[0]).toBe(0);
    expect(f.hwQueueAlloc(TYPE_SELFTEST, 1, iova, PAGE, { viommu: other })[0]).toBe(EIO);
    expect(f.hwQueueAlloc(TYPE_SELFTEST, 0, iova, PAGE, { viommu: other })[0]).toBe(0);
  });
});

type Step = (f: HwQueueFixture & { q: bigint }) => number;
const SEQUENCE: Step[] = [
  (f) => {
    const [rc, id] = f.hwptAlloc(f.idev, f.ioas, NEST_PARENT);
    f.parent = id;
    return rc;
  },
  (f) => {
    const [rc, id] = f.viommuAlloc(f.idev, f.parent);
    f.viommu = id;
    return rc;
  },
  (f) => {
    const [rc, iova] = f.map(2n * PAGE, 0n, false);
    f.q = iova;
    return rc;
  },
  (f) => f.hwQueueAlloc(TYPE_SELFTEST, 0, f.q, PAGE)[0],
  (f) => f.hwQueueAlloc(TYPE_SELFTEST, 1, f.q + PAGE + 16n, 64n)[0],
];

describe("fail-nth sweep and replay: mock HW queues", () => {
  it("every fallible step fails cleanly and closing frees everything", () => {
    const fresh = () => {
      const f = Object.assign(new HwQueueFixture(false), { q: 0n });
      expect(f.destroy(f.parent)).toBe(0);
      return f;
    };
    const sites = sweepSteps(fresh, SEQUENCE, (f) => {
      const s = f.log.state;
      expect(s.iommufd.contexts).toEqual({});
      expect(s.iopt.accesses.size).toBe(0);
      expect(s.iopt.ioas.size).toBe(0);
    });
    for (const site of ["iommufd.hw_queue_alloc", "iommufd.hw_queue_pages", "iopt.access_alloc"])
      expect(sites).toContain(site);
  });

  it("a session round-trips through JSON Lines and replays to the same state hash", async () => {
    const f = Object.assign(new HwQueueFixture(false), { q: 0n });
    expect(f.destroy(f.parent)).toBe(0);
    for (const step of SEQUENCE) expect(step(f)).toBe(0);
    expect(f.unmap(f.q, 2n * PAGE)).toBe(EBUSY);
    const opened = await readLog(textSource(encodeLog(f.log.records)), {
      vocabulary: new Vocabulary(VOCABULARY),
    });
    const fresh = createEmptySystemLog();
    for await (const batch of opened.batches) fresh.append(batch);
    expect(stateHash(fresh.state)).toBe(stateHash(f.log.state));
    const queues = Object.values(fresh.state.iommufd.contexts[f.fd.ctx]!.objects).filter(
      (o) => o.type === "hw_queue",
    );
    expect(queues.map((o) => [o.queueIndex, o.iova! - f.q, o.length, o.refs.length])).toEqual([
      [0, 0n, PAGE, 1],
      [1, PAGE + 16n, 64n, 2],
    ]);
  });
});
