/**
 * Fault queues on the selftest mock, byte level: IOMMU_FAULT_QUEUE_ALLOC,
 * IOMMU_HWPT_ALLOC with IOMMU_HWPT_FAULT_ID_VALID, IOMMU_TEST_OP_TRIGGER_IOPF,
 * and the fault fd's read / write / poll / release — the semantics of
 * Linux's selftest (tools/testing/selftests/iommu/iommufd.c, the iopf parts
 * of alloc_hwpt_nested / iommufd_device_pasid; iommufd_utils.h
 * _test_ioctl_fault_alloc, _test_cmd_trigger_iopf: grpid 0x2, perm READ |
 * WRITE, addr 0xdeadbeaf) and drivers/iommu/iommufd/eventq.c.
 */
import { stateHash } from "@iommu-sim/eventlog";
import { IOMMU_IOCTL, IOMMU_TEST_OP, isErrno } from "@iommu-sim/uapi";
import { describe, expect, it } from "vitest";
import {
  type IommufdFile,
  iommufdFilePoll,
  iommufdFileRead,
  iommufdFileRelease,
  iommufdFileWrite,
  iommufdIoctl,
} from "../src/index";
import { Fixture, view } from "./fixture";
import { bytes } from "./harness";

const EINVAL = -22;
const ENOENT = -2;
const EBUSY = -16;
const EOPNOTSUPP = -95;
const FAULT_ID_VALID = 1 << 2;
const NEST_PARENT = 1 << 0;

/** A mock-domain fixture with a fault queue and an IOPF-capable paging HWPT the device is moved to. */
class FaultFixture extends Fixture {
  faultId = 0;
  iopfHwpt = 0;
  file!: IommufdFile;

  constructor() {
    super(1);
  }

  faultAlloc(size = 16, flags = 0): [number, number, number] {
    const arg = bytes(16, [
      [0, 4, size],
      [4, 4, flags],
    ]);
    const rc = this.fd.ioctl(IOMMU_IOCTL.IOMMU_FAULT_QUEUE_ALLOC, arg);
    return [rc, view(arg).getUint32(8, true), view(arg).getUint32(12, true)];
  }

  hwptAlloc(flags: number, faultId: number, pt = this.ioas): [number, number] {
    const arg = bytes(48, [
      [0, 4, 48],
      [4, 4, flags],
      [8, 4, this.idev],
      [12, 4, pt],
      [40, 4, faultId],
    ]);
    const rc = this.fd.ioctl(IOMMU_IOCTL.IOMMU_HWPT_ALLOC, arg);
    return [rc, view(arg).getUint32(16, true)];
  }

  replace(pt: number): number {
    return this.test(IOMMU_TEST_OP.IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE, this.stdev, [[0, 4, pt]])[0];
  }

  trigger(devId = this.idev, pasid = 0, grpid = 2, perm = 3, addr = 0xdeadbeafn): number {
    return this.test(IOMMU_TEST_OP.IOMMU_TEST_OP_TRIGGER_IOPF, 0, [
      [0, 4, devId],
      [4, 4, pasid],
      [8, 4, grpid],
      [12, 4, perm],
      [16, 8, addr],
    ])[0];
  }

  /** fault alloc + IOPF HWPT + replace, as the selftest's iopf sequence. */
  setUp(): this {
    const [rc, id, fd] = this.faultAlloc();
    expect(rc).toBe(0);
    this.faultId = id;
    this.file = { kind: "fault", ctx: this.fd.ctx, id: fd };
    const [rc2, hwpt] = this.hwptAlloc(FAULT_ID_VALID, id);
    expect(rc2).toBe(0);
    this.iopfHwpt = hwpt;
    expect(this.replace(hwpt)).toBe(0);
    return this;
  }

  read(length: number) {
    return iommufdFileRead(this.fd.env(), this.file, length);
  }

  write(b: Uint8Array) {
    return iommufdFileWrite(this.fd.env(), this.file, b);
  }

  poll() {
    return iommufdFilePoll(this.fd.env(), this.file);
  }
}

/** `struct iommu_hwpt_pgfault` fields at their offsets (include/uapi/linux/iommufd.h). */
function record(b: Uint8Array, i = 0) {
  const v = new DataView(b.buffer, b.byteOffset + i * 40, 40);
  return {
    flags: v.getUint32(0, true),
    dev_id: v.getUint32(4, true),
    pasid: v.getUint32(8, true),
    grpid: v.getUint32(12, true),
    perm: v.getUint32(16, true),
    reserved: v.getUint32(20, true),
    addr: v.getBigUint64(24, true),
    length: v.getUint32(32, true),
    cookie: v.getUint32(36, true),
  };
}

/** `struct iommu_hwpt_page_response` records {cookie, code}. */
function responses(...r: [number, number][]): Uint8Array {
  return bytes(
    8 * r.length,
    r.flatMap(([cookie, code], i) => [
      [i * 8, 4, cookie] as [number, 4, number],
      [i * 8 + 4, 4, code] as [number, 4, number],
    ]),
  );
}

describe("IOMMU_FAULT_QUEUE_ALLOC", () => {
  it("answers a new object id and fd; flags → EOPNOTSUPP; a short struct → EINVAL", () => {
    const f = new FaultFixture();
    expect(f.faultAlloc(16, 1)[0]).toBe(EOPNOTSUPP);
    expect(f.faultAlloc(12)[0]).toBe(EINVAL);
    const [rc, id, fd] = f.faultAlloc();
    expect(rc).toBe(0);
    // ids 1 (IOAS), 2–4 (selftest object, HWPT, device) taken: the lowest free is 5
    expect(id).toBe(5);
    expect(fd).toBe(5); // no installFd: the object id serves as the fd
    expect(f.log.peek().iommufd.contexts[f.fd.ctx]!.objects[5]!.type).toBe("fault");
  });

  it("uses env.installFd for out_fault_fd and undoes the object when it fails", () => {
    const f = new FaultFixture();
    const arg = bytes(16, [[0, 4, 16]]);
    const installed: IommufdFile[] = [];
    const env = {
      ...f.fd.env(),
      installFd: (file: IommufdFile) => {
        installed.push(file);
        return 7;
      },
    };
    expect(iommufdIoctl(env, f.fd.ctx, IOMMU_IOCTL.IOMMU_FAULT_QUEUE_ALLOC, arg)).toBe(0);
    expect(view(arg).getUint32(12, true)).toBe(7);
    expect(installed).toEqual([{ kind: "fault", ctx: f.fd.ctx, id: 5 }]);
    const failing = { ...f.fd.env(), installFd: () => -24 }; // EMFILE
    expect(
      iommufdIoctl(failing, f.fd.ctx, IOMMU_IOCTL.IOMMU_FAULT_QUEUE_ALLOC, bytes(16, [[0, 4, 16]])),
    ).toBe(-24);
    expect(f.log.peek().iommufd.contexts[f.fd.ctx]!.objects[6]).toBeUndefined();
  });
});

describe("IOMMU_HWPT_ALLOC with IOMMU_HWPT_FAULT_ID_VALID", () => {
  it("ENOENT for a missing fault id or an object of another type; EOPNOTSUPP with NEST_PARENT", () => {
    const f = new FaultFixture();
    const [, faultId] = f.faultAlloc();
    expect(f.hwptAlloc(FAULT_ID_VALID, 0xffff_ffff)[0]).toBe(ENOENT);
    expect(f.hwptAlloc(FAULT_ID_VALID, f.ioas)[0]).toBe(ENOENT);
    expect(f.hwptAlloc(FAULT_ID_VALID | NEST_PARENT, faultId)[0]).toBe(EOPNOTSUPP);
    expect(f.hwptAlloc(FAULT_ID_VALID | (1 << 31), faultId)[0]).toBe(EOPNOTSUPP);
    // a failed alloc leaves no HWPT
    expect(Object.values(f.log.peek().iommufd.contexts[f.fd.ctx]!.objects).map((o) => o.type)).toEqual([
      "ioas",
      "selftest",
      "device",
      "hwpt_paging",
      "fault",
    ]);
  });

  it("the HWPT holds the fault object: destroying it is EBUSY until the HWPT is gone", () => {
    const f = new FaultFixture().setUp();
    expect(f.destroy(f.iopfHwpt)).toBe(EBUSY); // the device uses it
    expect(f.destroy(f.faultId)).toBe(EBUSY); // the HWPT (and the open fd) use it
    expect(f.replace(f.ioas)).toBe(0);
    expect(f.destroy(f.iopfHwpt)).toBe(0);
    expect(f.destroy(f.faultId)).toBe(EBUSY); // the fd still holds it
    iommufdFileRelease(f.fd.env(), f.file);
    expect(f.destroy(f.faultId)).toBe(0);
  });
});

describe("IOMMU_TEST_OP_TRIGGER_IOPF and the fault fd", () => {
  it("read gives the record, write SUCCESS answers it (_test_cmd_trigger_iopf)", () => {
    const f = new FaultFixture().setUp();
    expect(f.poll()).toBe(0x4); // POLLOUT only
    expect(f.trigger()).toBe(0);
    expect(f.poll()).toBe(0x1 | 0x4 | 0x40); // POLLIN | POLLOUT | POLLRDNORM
    const r = f.read(40);
    if (isErrno(r)) throw new Error(`${r}`);
    expect(r.length).toBe(40);
    expect(record(r)).toEqual({
      flags: 2, // IOMMU_PGFAULT_FLAGS_LAST_PAGE
      dev_id: f.idev,
      pasid: 0,
      grpid: 2,
      perm: 3, // READ | WRITE
      reserved: 0,
      addr: 0xdeadbeafn,
      length: 0,
      cookie: 1, // xa_alloc on XA_FLAGS_ALLOC1: the first cookie is 1
    });
    expect(f.poll()).toBe(0x4);
    expect(f.write(responses([1, 0]))).toBe(8);
    expect(
      f.log.peek().iommufd.faults![f.log.peek().iommufd.contexts[f.fd.ctx]!.objects[f.faultId]!.kobj!],
    ).toMatchObject({ deliver: [], response: {} });
  });

  it("a PASID sets PASID_VALID; no attachment at that PASID: nothing queued, the op still succeeds", () => {
    const f = new FaultFixture().setUp();
    expect(f.trigger(f.idev, 0x100)).toBe(0);
    expect(f.read(40)).toEqual(new Uint8Array(0));
  });

  it("a mock device's PASID attached to the IOPF HWPT delivers with PASID_VALID (iommufd_device_pasid)", () => {
    const f = new FaultFixture();
    f.ioas = f.ioasAlloc(); // a fresh IOAS, as the iommufd_device_pasid fixture
    // mock_domain_flags {out_stdev_id, out_hwpt_id, out_idev_id, dev_flags = MOCK_FLAGS_DEVICE_PASID}
    const md = f.test(IOMMU_TEST_OP.IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS, f.ioas, [[12, 4, 1 << 2]]);
    expect(md[0]).toBe(0);
    [f.stdev, f.hwpt, f.idev] = [16, 20, 24].map((o) => view(md[1]).getUint32(o, true)) as [
      number,
      number,
      number,
    ];
    const [, faultId, fd] = f.faultAlloc();
    f.file = { kind: "fault", ctx: f.fd.ctx, id: fd };
    const [rc, iopf] = f.hwptAlloc(FAULT_ID_VALID | (1 << 3), faultId); // | IOMMU_HWPT_ALLOC_PASID
    expect(rc).toBe(0);
    // The RID's HWPT must allow PASIDs too (an auto domain does not): a plain one with ALLOC_PASID.
    const [rc1, rid] = f.hwptAlloc(1 << 3, 0);
    expect(rc1).toBe(0);
    expect(f.replace(rid)).toBe(0);
    const pasid = 0x100;
    const attach = f.test(IOMMU_TEST_OP.IOMMU_TEST_OP_PASID_ATTACH, f.stdev, [
      [0, 4, pasid],
      [4, 4, iopf],
    ]);
    expect(attach[0]).toBe(0);
    expect(f.trigger(f.idev, 0)).toBe(0); // the RID's HWPT has no fault queue: nothing delivered
    expect(f.trigger(f.idev, pasid)).toBe(0);
    const r = f.read(80) as Uint8Array;
    expect(r.length).toBe(40);
    expect(record(r)).toMatchObject({ flags: 3, dev_id: f.idev, pasid, grpid: 2, cookie: 1 }); // LAST_PAGE | PASID_VALID
    expect(f.write(responses([1, 0]))).toBe(8);
  });

  it("ENOENT for an id that is not a device", () => {
    const f = new FaultFixture().setUp();
    expect(f.trigger(0xffff)).toBe(ENOENT);
    expect(f.trigger(f.ioas)).toBe(ENOENT);
  });

  it("read length rules: not a multiple of 40 → ESPIPE; 0 or too short for the head group → 0 bytes", () => {
    const f = new FaultFixture().setUp();
    expect(f.trigger()).toBe(0);
    expect(isErrno(f.read(39)) && (f.read(39) as { ret: number }).ret).toBe(-29); // ESPIPE
    expect(isErrno(f.read(41)) && (f.read(41) as { ret: number }).ret).toBe(-29);
    expect(f.read(0)).toEqual(new Uint8Array(0));
    expect(f.poll() & 0x1).toBe(1); // still pending
    expect((f.read(40) as Uint8Array).length).toBe(40);
    expect(f.read(40)).toEqual(new Uint8Array(0)); // nothing left
  });

  it("whole groups while they fit, cookies in order; a response frees its cookie for reuse", () => {
    const f = new FaultFixture().setUp();
    expect(f.trigger(f.idev, 0, 1, 1, 0x1000n)).toBe(0);
    expect(f.trigger(f.idev, 0, 2, 2, 0x2000n)).toBe(0);
    expect(f.trigger(f.idev, 0, 3, 1, 0x3000n)).toBe(0);
    const two = f.read(80) as Uint8Array;
    expect(two.length).toBe(80);
    expect([
      record(two, 0).grpid,
      record(two, 0).cookie,
      record(two, 1).grpid,
      record(two, 1).cookie,
    ]).toEqual([1, 1, 2, 2]);
    expect(f.write(responses([1, 0]))).toBe(8);
    const third = f.read(120) as Uint8Array;
    expect(third.length).toBe(40);
    expect(record(third)).toMatchObject({ grpid: 3, addr: 0x3000n, cookie: 1 });
  });

  it("a cookie allocation failing after the first group ends the read there (done ≠ 0 wins over rc)", () => {
    const f = new FaultFixture().setUp();
    f.trigger(f.idev, 0, 1);
    f.trigger(f.idev, 0, 2);
    f.log.failNth(2); // the second group's xa_alloc
    const r = f.read(80) as Uint8Array;
    expect(f.log.lastSteps.fired).toBe(true);
    expect(r.length).toBe(40);
    expect(record(r).grpid).toBe(1);
    expect(f.poll() & 0x1).toBe(1); // the second group is still to be read
    f.log.failNth(1); // the first one's: nothing read, ENOMEM
    expect((f.read(80) as { ret: number }).ret).toBe(-12);
    expect(record(f.read(80) as Uint8Array)).toMatchObject({ grpid: 2, cookie: 2 });
  });

  it("write: ESPIPE off 8; stops at the first bad record; EINVAL when the first is bad", () => {
    const f = new FaultFixture().setUp();
    f.trigger();
    f.trigger(f.idev, 0, 5);
    f.read(80);
    expect((f.write(new Uint8Array(7)) as { ret: number }).ret).toBe(-29);
    expect((f.write(responses([9, 0])) as { ret: number }).ret).toBe(EINVAL); // unknown cookie
    expect((f.write(responses([1, 2])) as { ret: number }).ret).toBe(EINVAL); // code FAILURE is not userspace's
    expect(f.write(responses([1, 1], [1, 0]))).toBe(8); // the repeat of cookie 1 stops the write
    expect((f.write(responses([1, 0])) as { ret: number }).ret).toBe(EINVAL); // already answered
    expect(f.write(responses([2, 0]))).toBe(8);
  });

  it("moving the device off the IOPF HWPT answers its pending groups INVALID (iommufd_auto_response_faults)", () => {
    const f = new FaultFixture().setUp();
    f.trigger();
    f.trigger(f.idev, 0, 7);
    f.read(40); // one read, one still in the deliver list
    const seqBefore = f.log.seq;
    expect(f.replace(f.ioas)).toBe(0);
    const responded = f.log.records
      .filter((r) => r.seq > seqBefore && r.type === "iommufd.fault.responded")
      .map((r) => r.data);
    expect(responded).toEqual([
      expect.objectContaining({ seq: 1, code: 1 }),
      expect.objectContaining({ seq: 0, code: 1 }),
    ]);
    expect(f.poll()).toBe(0x4);
  });

  it("closing the fault fd answers every pending group INVALID; the object stays until destroyed", () => {
    const f = new FaultFixture().setUp();
    f.trigger();
    f.trigger(f.idev, 0, 9);
    f.read(40); // one group awaits a response, one is still in the deliver list
    const seqBefore = f.log.seq;
    iommufdFileRelease(f.fd.env(), f.file);
    const answered = f.log.records
      .filter((r) => r.seq > seqBefore && r.type === "iommufd.fault.responded")
      .map((r) => (r.data as { code: number }).code);
    expect(answered).toEqual([1, 1]); // IOMMUFD_PAGE_RESP_INVALID, both groups
    expect(f.log.peek().iommufd.contexts[f.fd.ctx]!.objects[f.faultId]?.type).toBe("fault");
    f.trigger(f.idev, 0, 11); // later faults still queue on the object
    expect(
      f.log.peek().iommufd.faults?.[f.log.peek().iommufd.contexts[f.fd.ctx]!.objects[f.faultId]!.kobj!]
        ?.deliver.length,
    ).toBe(1);
  });

  it("closing the context answers every pending group INVALID and the queue goes", () => {
    const f = new FaultFixture().setUp();
    f.trigger();
    f.trigger(f.idev, 0, 9);
    f.read(40);
    const seqBefore = f.log.seq;
    expect(isErrno(f.fd.close())).toBe(false);
    const codes = f.log.records
      .filter((r) => r.seq > seqBefore && r.type === "iommufd.fault.responded")
      .map((r) => (r.data as { code: number }).code);
    expect(codes).toEqual([1, 1]);
    expect(f.log.peek().iommufd.faults).toEqual({});
    expect(isErrno(f.read(40))).toBe(true); // EBADF: the queue is gone
  });
});

describe("fail-nth over the fault sequence", () => {
  it("every fallible step fails cleanly (hash restored) and closing then answers and frees everything", () => {
    const file = (f: FaultFixture): IommufdFile => ({ kind: "fault", ctx: f.fd.ctx, id: 5 });
    const seq: ((f: FaultFixture) => number)[] = [
      (f) => f.faultAlloc()[0],
      (f) => f.hwptAlloc(FAULT_ID_VALID, 5)[0],
      (f) => f.replace(6),
      (f) => f.trigger(),
      (f) => {
        const r = iommufdFileRead(f.fd.env(), file(f), 40);
        return isErrno(r) ? r.ret : r.length === 40 ? 0 : -1;
      },
      (f) => {
        const w = iommufdFileWrite(f.fd.env(), file(f), responses([1, 0]));
        return isErrno(w) ? w.ret : w === 8 ? 0 : -1;
      },
    ];
    let injected = 0;
    const sites = new Set<string>();
    for (let n = 1; n < 1000; n++) {
      const f = new FaultFixture();
      let remaining = n;
      let failed = false;
      for (const step of seq) {
        const before = stateHash(f.log.state);
        f.log.failNth(remaining);
        const report = f.log.lastSteps;
        const rc = step(f);
        const dispatched = f.log.lastSteps !== report;
        if (dispatched && f.log.lastSteps.fired) {
          expect(rc, `step ${n} must fail`).toBeLessThan(0);
          expect(stateHash(f.log.state), `step ${n} left a trace`).toBe(before);
          sites.add(f.log.lastSteps.sites[f.log.lastSteps.sites.length - 1]!);
          failed = true;
          injected++;
          break;
        }
        expect(rc).toBe(0);
        if (dispatched) remaining -= f.log.lastSteps.sites.length;
      }
      f.fd.close();
      expect(f.log.state.iommufd.faults ?? {}).toEqual({});
      if (!failed) break;
    }
    for (const site of [
      "iommufd.fault_alloc",
      "iommufd.fault_getfile",
      "selftest.domain_alloc",
      "iommufd.fault_cookie_alloc",
    ])
      expect(sites).toContain(site);
    expect(injected).toBeGreaterThanOrEqual(4);
  });
});
