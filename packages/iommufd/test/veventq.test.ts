/**
 * vIOMMU event queues of the selftest mock on the byte interface: the
 * vEVENTQ half of Linux's TEST_F(iommufd_viommu, vdevice_alloc)
 * (tools/testing/selftests/iommu/iommufd.c, with iommufd_utils.h's
 * _test_cmd_veventq_alloc — veventq_depth 2 — _test_cmd_trigger_vevents and
 * _test_cmd_read_vevents), plus the checks of eventq.c
 * iommufd_veventq_alloc() in their order, the read rules of
 * iommufd_veventq_fops_read(), poll, release and destroy, and
 * selftest.c iommufd_test_trigger_vevent()'s errors.
 *
 * Golden values, from the headers: struct iommu_veventq_alloc is 32 bytes
 * {size, flags, viommu_id, type, veventq_depth, out_veventq_id,
 * out_veventq_fd, __reserved}; struct iommufd_vevent_header is {u32 flags;
 * u32 sequence} (8 bytes), IOMMU_VEVENTQ_FLAG_LOST_EVENTS = 1, sequence in
 * [0, INT_MAX] wrapping to 0 (iommufd.h); IOMMU_VEVENTQ_TYPE_SELFTEST =
 * 0xbeefbeef and struct iommu_viommu_event_selftest {u32 virt_id}
 * (iommufd_test.h); IOMMU_TEST_OP_TRIGGER_VEVENT = 17, its union member
 * {u32 dev_id} (iommufd_test.h enum order); POLLIN 0x1, POLLRDNORM 0x40.
 */
import { IOMMU_IOCTL } from "@iommu-sim/uapi";
import { describe, expect, it } from "vitest";
import {
  emptyVeventQueue,
  iommufdFilePoll,
  iommufdFileRead,
  iommufdFileRelease,
  iommufdFileWrite,
  iommufdIoctl,
  queueVevent,
} from "../src/index";
import { view } from "./fixture";
import { bytes } from "./harness";
import { hwptSelftest } from "./nested-support";
import {
  DATA_SELFTEST,
  EBUSY,
  EEXIST,
  EINVAL,
  ENOENT,
  EOPNOTSUPP,
  IOTLB_DEFAULT,
  ViommuFixture,
} from "./viommu-support";

const VEVENTQ_TYPE_SELFTEST = 0xbeefbeef;
const VEVENTQ_TYPE_ARM_SMMUV3 = 1;
const TRIGGER_VEVENT = 17;
const LOST_EVENTS = 1;
const POLLIN_RDNORM = 0x41;
const EBADF = -9;
/** One mock record: 8-byte header + 4-byte virt_id. */
const REC = 12;

/** The mock_viommu variant's setup: a vIOMMU, a nested HWPT on it, and helpers for vEVENTQs. */
class VeventqFixture extends ViommuFixture {
  viommu: number;
  nested: number;

  constructor() {
    super();
    const [rc, viommu] = this.viommuAlloc(this.idev, this.parent);
    expect(rc).toBe(0);
    this.viommu = viommu;
    const [rc2, nested] = this.hwptAlloc(this.idev, viommu, 0, DATA_SELFTEST, hwptSelftest(IOTLB_DEFAULT));
    expect(rc2).toBe(0);
    this.nested = nested;
  }

  /** IOMMU_VEVENTQ_ALLOC → [rc, out_veventq_id, out_veventq_fd]. */
  veventqAlloc(
    viommuId: number,
    type = VEVENTQ_TYPE_SELFTEST,
    depth = 2,
    opts: { flags?: number; reserved?: number; size?: number } = {},
  ): [number, number, number] {
    const size = opts.size ?? 32;
    const arg = bytes(32, [
      [0, 4, size],
      [4, 4, opts.flags ?? 0],
      [8, 4, viommuId],
      [12, 4, type],
      [16, 4, depth],
      [28, 4, opts.reserved ?? 0],
    ]);
    const rc = this.fd.ioctl(IOMMU_IOCTL.IOMMU_VEVENTQ_ALLOC, arg);
    return [rc, view(arg).getUint32(20, true), view(arg).getUint32(24, true)];
  }

  /** _test_cmd_trigger_vevents: IOMMU_TEST_OP_TRIGGER_VEVENT `n` times → the last rc (first failure). */
  trigger(devId: number, n = 1): number {
    for (let i = 0; i < n; i++) {
      const rc = this.test(TRIGGER_VEVENT, 0, [[0, 4, devId]])[0];
      if (rc !== 0) return rc;
    }
    return 0;
  }

  file(id: number) {
    return { kind: "veventq", ctx: this.fd.ctx, id } as const;
  }

  /** read(2) of `n` bytes on vEVENTQ `id`: the bytes, or −errno. */
  read(id: number, n: number): Uint8Array | number {
    const r = iommufdFileRead(this.fd.env(), this.file(id), n);
    return r instanceof Uint8Array ? r : r.ret;
  }

  /** The device's vDEVICE at `virtId`, its RID on the nested HWPT. */
  onNested(virtId: bigint): number {
    const [rc, vdev] = this.vdeviceAlloc(this.viommu, this.idev, virtId);
    expect(rc).toBe(0);
    expect(this.mockReplace(this.stdev, this.nested)).toBe(0);
    return vdev;
  }
}

/** The records of a read as [flags, sequence, virt_id?] (virt_id absent after a lost-events header). */
function records(b: Uint8Array | number): number[][] {
  if (typeof b === "number") throw new Error(`read failed: ${b}`);
  const v = view(b);
  const out: number[][] = [];
  for (let at = 0; at < b.length; ) {
    const flags = v.getUint32(at, true);
    const seq = v.getUint32(at + 4, true);
    if (flags & LOST_EVENTS) {
      out.push([flags, seq]);
      at += 8;
    } else {
      out.push([flags, seq, v.getUint32(at + 8, true)]);
      at += REC;
    }
  }
  return out;
}

describe("TEST_F(iommufd_viommu, vdevice_alloc), mock_viommu variant", () => {
  it("runs the selftest's vEVENTQ sequence with its values", () => {
    const f = new VeventqFixture();
    expect(f.mockReplace(f.stdev, f.nested)).toBe(ENOENT); // vDEVICE needed first
    const [rc, veventq, fd] = f.veventqAlloc(f.viommu); // depth 2
    expect(rc).toBe(0);
    expect(fd).toBe(veventq); // no fd table: the object id serves as the fd
    expect(f.veventqAlloc(f.viommu)[0]).toBe(EEXIST);
    let vdev = f.onNested(0x99n);
    expect(f.trigger(f.idev)).toBe(0);
    // test_cmd_read_vevents(fd, 1, 0x99): poll, then one header + event.
    expect(iommufdFilePoll(f.fd.env(), f.file(veventq))).toBe(POLLIN_RDNORM);
    const first = f.read(veventq, REC);
    expect(first).toEqual(bytes(12, [[8, 4, 0x99]])); // flags 0, sequence 0, virt_id 0x99
    expect(f.vdeviceAlloc(f.viommu, f.idev, 0x99n)[0]).toBe(EEXIST);
    expect(f.mockReplace(f.stdev, f.ioas)).toBe(0);
    expect(f.destroy(vdev)).toBe(0);

    vdev = f.onNested(0x88n);
    expect(f.trigger(f.idev, 3)).toBe(0); // the third one is lost: depth 2
    const three = f.read(veventq, 3 * REC);
    expect(records(three)).toEqual([
      [0, 1, 0x88],
      [0, 2, 0x88],
      [LOST_EVENTS, 3],
    ]);
    expect((three as Uint8Array).length).toBe(2 * REC + 8);
    // "Overflow must be gone after the previous reads"
    expect(f.trigger(f.idev)).toBe(0);
    expect(records(f.read(veventq, REC))).toEqual([[0, 4, 0x88]]);
    iommufdFileRelease(f.fd.env(), f.file(veventq)); // close(veventq_fd)
    expect(f.mockReplace(f.stdev, f.ioas)).toBe(0);
    expect(f.destroy(vdev)).toBe(0);
    expect(f.destroy(veventq)).toBe(0);
    expect(f.log.state.iommufd.veventqs).toEqual({});
  });
});

describe("IOMMU_VEVENTQ_ALLOC", () => {
  it("checks in eventq.c's order: flags/__reserved/type EOPNOTSUPP, depth EINVAL, vIOMMU ENOENT, EEXIST", () => {
    const f = new VeventqFixture();
    expect(f.veventqAlloc(f.viommu, VEVENTQ_TYPE_SELFTEST, 2, { flags: 1 })[0]).toBe(EOPNOTSUPP);
    expect(f.veventqAlloc(f.viommu, VEVENTQ_TYPE_SELFTEST, 2, { reserved: 1 })[0]).toBe(EOPNOTSUPP);
    expect(f.veventqAlloc(999, 0, 0)[0]).toBe(EOPNOTSUPP); // TYPE_DEFAULT before depth and lookup
    expect(f.veventqAlloc(999, VEVENTQ_TYPE_SELFTEST, 0)[0]).toBe(EINVAL); // depth before lookup
    expect(f.veventqAlloc(999)[0]).toBe(ENOENT);
    expect(f.veventqAlloc(f.parent)[0]).toBe(ENOENT); // a HWPT is not a vIOMMU
    expect(f.veventqAlloc(f.viommu, VEVENTQ_TYPE_SELFTEST, 2, { size: 24 })[0]).toBe(EINVAL); // < offsetofend(out_veventq_fd)
    const [rc, id] = f.veventqAlloc(f.viommu, VEVENTQ_TYPE_SELFTEST, 0xffff_ffff);
    expect(rc).toBe(0);
    expect(f.veventqAlloc(f.viommu, VEVENTQ_TYPE_SELFTEST, 1)[0]).toBe(EEXIST);
    // One per type: the core takes another type on the same vIOMMU.
    const [rc2, other] = f.veventqAlloc(f.viommu, VEVENTQ_TYPE_ARM_SMMUV3, 1);
    expect(rc2).toBe(0);
    expect(f.objects()[id]).toBe("veventq");
    expect(f.objects()[other]).toBe("veventq");
  });

  it("holds its vIOMMU; its fd holds it until closed (EBUSY)", () => {
    const f = new VeventqFixture();
    const [, id] = f.veventqAlloc(f.viommu);
    expect(f.destroy(f.nested)).toBe(0);
    expect(f.destroy(f.viommu)).toBe(EBUSY);
    expect(f.destroy(id)).toBe(EBUSY); // the fd
    iommufdFileRelease(f.fd.env(), f.file(id));
    expect(f.read(id, 64)).toEqual(new Uint8Array(0)); // the object lives on; nothing to read
    expect(f.destroy(id)).toBe(0);
    expect(f.read(id, 64)).toBe(EBADF);
    expect(f.destroy(f.viommu)).toBe(0);
  });

  it("an fd install that fails undoes the object and answers its errno", () => {
    const f = new VeventqFixture();
    const before = f.objects();
    const env = { ...f.fd.env(), installFd: () => -24 }; // EMFILE
    const arg = bytes(32, [
      [0, 4, 32],
      [8, 4, f.viommu],
      [12, 4, VEVENTQ_TYPE_SELFTEST],
      [16, 4, 2],
    ]);
    expect(iommufdIoctl(env, f.fd.ctx, IOMMU_IOCTL.IOMMU_VEVENTQ_ALLOC, arg)).toBe(-24);
    expect(f.objects()).toEqual(before);
    expect(f.log.state.iommufd.veventqs).toEqual({});
  });
});

describe("IOMMU_TEST_OP_TRIGGER_VEVENT", () => {
  it("ENOENT without a device, a nested attach or a vDEVICE; EOPNOTSUPP without a vEVENTQ", () => {
    const f = new VeventqFixture();
    expect(f.trigger(f.ioas)).toBe(ENOENT); // not a device
    expect(f.trigger(f.idev)).toBe(ENOENT); // RID on the paging HWPT: mdev->viommu is NULL
    f.onNested(0x99n);
    expect(f.trigger(f.idev)).toBe(EOPNOTSUPP); // iommufd_viommu_report_event: no vEVENTQ of the type
    const [, other] = f.veventqAlloc(f.viommu, VEVENTQ_TYPE_ARM_SMMUV3, 4);
    expect(f.trigger(f.idev)).toBe(EOPNOTSUPP);
    expect(f.read(other, 64)).toEqual(new Uint8Array(0));
    const [, q] = f.veventqAlloc(f.viommu);
    expect(f.trigger(f.idev)).toBe(0);
    expect(records(f.read(q, 64))).toEqual([[0, 0, 0x99]]);
  });

  it("virt_id 0 is no vdev_id (ENOENT); a 64-bit virt_id reaches the event as its low 32 bits", () => {
    const f = new VeventqFixture();
    const [, q] = f.veventqAlloc(f.viommu);
    const vdev = f.onNested(0n);
    expect(f.trigger(f.idev)).toBe(ENOENT);
    expect(f.mockReplace(f.stdev, f.ioas)).toBe(0);
    expect(f.destroy(vdev)).toBe(0);
    f.onNested(0x1_0000_0042n);
    expect(f.trigger(f.idev)).toBe(0);
    expect(records(f.read(q, 64))).toEqual([[0, 0, 0x42]]);
  });
});

describe("the vEVENTQ fd", () => {
  it("reads whole records only: a buffer short of the head record reads 0 and leaves it", () => {
    const f = new VeventqFixture();
    const [, q] = f.veventqAlloc(f.viommu, VEVENTQ_TYPE_SELFTEST, 4);
    f.onNested(0x77n);
    expect(f.read(q, 64)).toEqual(new Uint8Array(0)); // empty
    expect(iommufdFilePoll(f.fd.env(), f.file(q))).toBe(0); // no POLLOUT: a vEVENTQ has no write
    expect(f.trigger(f.idev, 2)).toBe(0);
    expect(f.read(q, 0)).toEqual(new Uint8Array(0));
    expect(f.read(q, 11)).toEqual(new Uint8Array(0));
    expect(records(f.read(q, 23))).toEqual([[0, 0, 0x77]]); // the second needs 24
    expect(records(f.read(q, 12))).toEqual([[0, 1, 0x77]]);
    expect(iommufdFilePoll(f.fd.env(), f.file(q))).toBe(0);
    expect(iommufdFileWrite(f.fd.env(), f.file(q), new Uint8Array(8))).toMatchObject({ name: "EINVAL" });
  });

  it("keeps one lost-events header at the tail with the latest lost sequence; a new vEVENT replaces it", () => {
    const f = new VeventqFixture();
    const [, q] = f.veventqAlloc(f.viommu, VEVENTQ_TYPE_SELFTEST, 1);
    f.onNested(0x55n);
    expect(f.trigger(f.idev, 3)).toBe(0); // seq 0 kept, 1 and 2 lost
    expect(records(f.read(q, REC))).toEqual([[0, 0, 0x55]]); // the header needs 8 more bytes
    expect(iommufdFilePoll(f.fd.env(), f.file(q))).toBe(POLLIN_RDNORM); // the header waits
    expect(f.trigger(f.idev)).toBe(0); // room again: the header leaves, seq 3 joins
    expect(records(f.read(q, 64))).toEqual([[0, 3, 0x55]]); // the gap 0 → 3 tells of 2 lost
    expect(f.trigger(f.idev, 2)).toBe(0);
    expect(records(f.read(q, 8))).toEqual([]); // the vEVENT at the head needs 12
    expect(records(f.read(q, 64))).toEqual([
      [0, 4, 0x55],
      [LOST_EVENTS, 5],
    ]);
    expect(records(f.read(q, 8))).toEqual([]);
    expect(f.trigger(f.idev, 2)).toBe(0);
    expect(records(f.read(q, 64))).toEqual([
      [0, 6, 0x55],
      [LOST_EVENTS, 7],
    ]);
  });

  it("a lone lost-events header reads in 8 bytes", () => {
    const f = new VeventqFixture();
    const [, q] = f.veventqAlloc(f.viommu, VEVENTQ_TYPE_SELFTEST, 1);
    f.onNested(0x55n);
    expect(f.trigger(f.idev, 2)).toBe(0);
    expect(records(f.read(q, REC))).toEqual([[0, 0, 0x55]]);
    expect(f.read(q, 8)).toEqual(
      bytes(8, [
        [0, 4, LOST_EVENTS],
        [4, 4, 1],
      ]),
    );
  });

  it("numbers sequences up to INT_MAX, then from 0 (iommufd.h: the index following INT_MAX is 0)", () => {
    let q = { ...emptyVeventQueue(1, 1, 1, VEVENTQ_TYPE_SELFTEST, 4), sequence: 0x7fff_fffe };
    for (let i = 0; i < 3; i++) q = queueVevent(q, new Uint8Array(4));
    expect(q.deliver.map((v) => v.sequence)).toEqual([0x7fff_fffe, 0x7fff_ffff, 0]);
    expect(q.sequence).toBe(1);
  });

  it("closing the context frees the vEVENTQ and its records; a later release is a no-op", () => {
    const f = new VeventqFixture();
    const [, q] = f.veventqAlloc(f.viommu);
    f.onNested(0x99n);
    expect(f.trigger(f.idev, 3)).toBe(0);
    f.fd.close();
    expect(f.log.state.iommufd.contexts).toEqual({});
    expect(f.log.state.iommufd.veventqs).toEqual({});
    iommufdFileRelease(f.fd.env(), f.file(q));
    expect(f.read(q, 64)).toBe(EBADF);
  });
});
