/**
 * FIXTURE(iommufd_device_pasid) of tools/testing/selftests/iommu/iommufd.c
 * on the byte interface: a mock device created with MOCK_FLAGS_DEVICE_PASID
 * on an IOAS (and, in the `no_pasid` variant, a second one without), its
 * PASIDs attached, replaced and detached with IOMMU_TEST_OP_PASID_ATTACH /
 * _REPLACE / _DETACH and checked with IOMMU_TEST_OP_PASID_CHECK_HWPT —
 * TEST_F(iommufd_device_pasid, pasid_attach) step by step, plus the errnos
 * of selftest.c and device.c around it and the auto-response of a PASID's
 * pending page requests on detach / replace (iommufd_auto_response_faults).
 */
import { stateHash } from "@iommu-sim/eventlog";
import { checkInvariants } from "@iommu-sim/iopt";
import {
  IOMMU_HWPT_ALLOC_NEST_PARENT,
  IOMMU_HWPT_ALLOC_PASID,
  IOMMU_HWPT_DATA_SELFTEST,
  IOMMU_HWPT_FAULT_ID_VALID,
  IOMMU_IOCTL,
  IOMMU_TEST_IOTLB_DEFAULT,
  IOMMU_TEST_OP,
  IOMMU_VIOMMU_TYPE_SELFTEST,
  MOCK_FLAGS_DEVICE_PASID,
} from "@iommu-sim/uapi";
import { describe, expect, it } from "vitest";
import { type IommufdFile, iommufdFileRead, iommufdFileRelease, iommufdFileWrite } from "../src/index";
import { view } from "./fixture";
import { bytes } from "./harness";
import { hwptSelftest, NestedFixture } from "./nested-support";

const ENOENT = -2;
const ENOMEM = -12;
const EBUSY = -16;
const EINVAL = -22;
const OP = IOMMU_TEST_OP;
const IOMMUFD_PAGE_RESP_INVALID = 1;

/** FIXTURE_SETUP(iommufd_device_pasid): ioas 1; stdev 2, idev 3, auto HWPT 4; [no_pasid stdev 5, idev 6]. */
class PasidFixture extends NestedFixture {
  noPasidStdev = 0;
  noPasidIdev = 0;

  constructor(pasidCapable = true, devFlags = MOCK_FLAGS_DEVICE_PASID) {
    super(0);
    [this.stdev, this.hwpt, this.idev] = this.mockDomainFlags(this.ioas, devFlags);
    if (!pasidCapable) [this.noPasidStdev, , this.noPasidIdev] = this.mockDomainFlags(this.ioas, 0);
  }

  /** test_cmd_mock_domain_flags → [stdev, hwpt, idev]. */
  mockDomainFlags(pt: number, flags: number): [number, number, number] {
    const [rc, arg] = this.test(OP.IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS, pt, [[12, 4, flags]]);
    expect(rc).toBe(0);
    return [0, 4, 8].map((o) => view(arg).getUint32(16 + o, true)) as [number, number, number];
  }

  /** IOMMU_HWPT_ALLOC {flags, dev_id = idev, pt_id, data_type, data_len, data_uptr, fault_id} → [rc, id]. */
  alloc(ptId: number, flags: number, data: Uint8Array | null = null, faultId = 0): [number, number] {
    const arg = bytes(48, [
      [0, 4, 48],
      [4, 4, flags],
      [8, 4, this.idev],
      [12, 4, ptId],
      [24, 4, data === null ? 0 : IOMMU_HWPT_DATA_SELFTEST],
      [28, 4, data?.length ?? 0],
      [32, 8, this.put(data)],
      [40, 4, faultId],
    ]);
    return [this.fd.ioctl(IOMMU_IOCTL.IOMMU_HWPT_ALLOC, arg), view(arg).getUint32(16, true)];
  }

  /** A HWPT allocated without error → its id. */
  must(r: [number, number]): number {
    expect(r[0]).toBe(0);
    return r[1];
  }

  /** test_cmd_hwpt_alloc_nested / _iopf with `struct iommu_hwpt_selftest {IOMMU_TEST_IOTLB_DEFAULT}`. */
  nested(parent: number, flags: number, faultId = 0): number {
    return this.must(this.alloc(parent, flags, hwptSelftest(IOMMU_TEST_IOTLB_DEFAULT), faultId));
  }

  /** test_cmd_viommu_alloc(idev, hwptId, IOMMU_VIOMMU_TYPE_SELFTEST, NULL, 0) → out_viommu_id. */
  viommuAlloc(hwptId: number): number {
    const arg = bytes(40, [
      [0, 4, 40],
      [8, 4, IOMMU_VIOMMU_TYPE_SELFTEST],
      [12, 4, this.idev],
      [16, 4, hwptId],
    ]);
    expect(this.fd.ioctl(IOMMU_IOCTL.IOMMU_VIOMMU_ALLOC, arg)).toBe(0);
    return view(arg).getUint32(20, true);
  }

  /** test_ioctl_fault_alloc → [fault_id, the fault fd as a file]. */
  faultAlloc(): [number, IommufdFile] {
    const arg = bytes(16, [[0, 4, 16]]);
    expect(this.fd.ioctl(IOMMU_IOCTL.IOMMU_FAULT_QUEUE_ALLOC, arg)).toBe(0);
    return [
      view(arg).getUint32(8, true),
      { kind: "fault", ctx: this.fd.ctx, id: view(arg).getUint32(12, true) },
    ];
  }

  /** IOMMU_TEST_OP_TRIGGER_IOPF as _test_cmd_trigger_iopf: grpid 2, perm READ | WRITE, addr 0xdeadbeaf. */
  trigger(devId: number, pasid: number): number {
    return this.test(OP.IOMMU_TEST_OP_TRIGGER_IOPF, 0, [
      [0, 4, devId],
      [4, 4, pasid],
      [8, 4, 2],
      [12, 4, 3],
      [16, 8, 0xdeadbeafn],
    ])[0];
  }

  /** _test_cmd_trigger_iopf: trigger, read one record, answer its cookie SUCCESS → 0, or -EIO. */
  triggerIopf(devId: number, pasid: number, file: IommufdFile): number {
    const rc = this.trigger(devId, pasid);
    if (rc !== 0) return rc;
    const r = iommufdFileRead(this.fd.env(), file, 40);
    if (!(r instanceof Uint8Array) || r.length === 0) return -5;
    const cookie = view(r.slice()).getUint32(36, true);
    const response = bytes(8, [
      [0, 4, cookie],
      [4, 4, 0],
    ]);
    return iommufdFileWrite(this.fd.env(), file, response) === 8 ? 0 : -5;
  }

  /** PASID_ATTACH → [rc, pt_id as answered]. */
  attach(pasid: number, ptId: number, stdev = this.stdev): [number, number] {
    const [rc, arg] = this.test(OP.IOMMU_TEST_OP_PASID_ATTACH, stdev, [
      [0, 4, pasid],
      [4, 4, ptId],
    ]);
    return [rc, view(arg).getUint32(20, true)];
  }

  replace(pasid: number, ptId: number): number {
    return this.test(OP.IOMMU_TEST_OP_PASID_REPLACE, this.stdev, [
      [0, 4, pasid],
      [4, 4, ptId],
    ])[0];
  }

  detach(pasid: number): number {
    return this.test(OP.IOMMU_TEST_OP_PASID_DETACH, this.stdev, [[0, 4, pasid]])[0];
  }

  check(pasid: number, hwptId: number): number {
    return this.test(OP.IOMMU_TEST_OP_PASID_CHECK_HWPT, this.stdev, [
      [0, 4, pasid],
      [4, 4, hwptId],
    ])[0];
  }

  /** The `iommufd.fault.responded` codes logged after `seq`. */
  respondedSince(seq: number): number[] {
    return this.log.records
      .filter((r) => r.seq > seq && r.type === "iommufd.fault.responded")
      .map((r) => (r.data as { code: number }).code);
  }
}

for (const pasidCapable of [false, true]) {
  describe(`TEST_F(iommufd_device_pasid, pasid_attach), variant ${pasidCapable ? "has_pasid" : "no_pasid"}`, () => {
    it("runs the selftest's steps with Linux's answers", () => {
      const f = new PasidFixture(pasidCapable);
      let pasid = 100;

      // Detach without attaching: not expected, but no failure.
      expect(f.detach(pasid)).toBe(0);

      // Two nested HWPTs sharing one parent.
      const parent = f.must(f.alloc(f.ioas, IOMMU_HWPT_ALLOC_NEST_PARENT));
      const nested0 = f.nested(parent, IOMMU_HWPT_ALLOC_PASID);
      const nested1 = f.nested(parent, IOMMU_HWPT_ALLOC_PASID);

      // The IOPF HWPT: nested, FAULT_ID_VALID | ALLOC_PASID.
      const [faultId, faultFd] = f.faultAlloc();
      const iopf = f.nested(parent, IOMMU_HWPT_FAULT_ID_VALID | IOMMU_HWPT_ALLOC_PASID, faultId);

      // A regular nested HWPT on a vIOMMU of the parent (nested_hwpt_id[2]).
      const viommu = f.viommuAlloc(parent);
      const nested2 = f.nested(viommu, IOMMU_HWPT_ALLOC_PASID);
      expect(f.log.state.iommufd.contexts[f.fd.ctx]!.objects[nested2]!.refs).toEqual([viommu]);

      const s2 = f.must(f.alloc(f.ioas, IOMMU_HWPT_ALLOC_PASID));

      // RID on a non-PASID-compatible domain: attaching a PASID fails.
      expect(f.mockReplace(f.stdev, parent)).toBe(0);
      expect(f.attach(pasid, s2)[0]).toBe(EINVAL);

      // RID on a PASID-compatible domain: the PASID attaches, and the RID can no longer go back.
      expect(f.mockReplace(f.stdev, s2)).toBe(0);
      expect(f.attach(pasid, nested0)[0]).toBe(0);
      expect(f.mockReplace(f.stdev, parent)).toBe(EINVAL);
      expect(f.detach(pasid)).toBe(0);
      expect(f.check(pasid, 0)).toBe(0);

      if (!pasidCapable) {
        // A PASID-compatible domain serves a device without PASID at its RID…
        expect(f.mockReplace(f.noPasidStdev, nested0)).toBe(0);
        expect(f.mockReplace(f.noPasidStdev, f.ioas)).toBe(0);
        // …but that device's PASIDs attach to nothing, compatible or not.
        expect(f.attach(pasid, parent, f.noPasidStdev)[0]).toBe(EINVAL);
        expect(f.attach(pasid, s2, f.noPasidStdev)[0]).toBe(EINVAL);
      }

      // A non-PASID-compatible HWPT, and an IOAS (its auto domain), fail at a PASID.
      expect(f.attach(pasid, parent)[0]).toBe(EINVAL);
      expect(f.check(pasid, 0)).toBe(0);
      expect(f.attach(pasid, f.ioas)[0]).toBe(EINVAL);
      expect(f.check(pasid, 0)).toBe(0);

      expect(f.attach(pasid, s2)).toEqual([0, s2]);
      expect(f.check(pasid, s2)).toBe(0);
      expect(f.attach(pasid, nested0)[0]).toBe(EBUSY); // attach does not overwrite
      expect(f.detach(pasid)).toBe(0);
      expect(f.check(pasid, 0)).toBe(0);

      expect(f.attach(pasid, nested0)).toEqual([0, nested0]);
      expect(f.check(pasid, nested0)).toBe(0);
      expect(f.attach(pasid, nested0)[0]).toBe(EBUSY);
      expect(f.detach(pasid)).toBe(0);

      // Replace tests.
      pasid = 200;
      expect(f.replace(pasid, s2)).toBe(EINVAL); // not attached
      expect(f.attach(pasid, s2)[0]).toBe(0);
      expect(f.check(pasid, s2)).toBe(0);
      expect(f.replace(pasid, f.ioas)).toBe(EINVAL);
      expect(f.check(pasid, s2)).toBe(0);
      expect(f.replace(pasid, nested0)).toBe(0);
      expect(f.check(pasid, nested0)).toBe(0);
      expect(f.replace(pasid, nested1)).toBe(0);
      expect(f.check(pasid, nested1)).toBe(0);
      expect(f.detach(pasid)).toBe(0);

      // PASID 1024: the mock driver fails the replace; the old domain stays.
      pasid = 1024;
      expect(f.attach(pasid, s2)[0]).toBe(0);
      expect(f.check(pasid, s2)).toBe(0);
      expect(f.replace(pasid, nested0)).toBe(ENOMEM);
      expect(f.check(pasid, s2)).toBe(0);
      expect(f.detach(pasid)).toBe(0);

      // The IOPF HWPT at PASID 2048.
      pasid = 2048;
      expect(f.attach(pasid, iopf)[0]).toBe(0);
      expect(f.check(pasid, iopf)).toBe(0);
      expect(f.triggerIopf(f.idev, pasid, faultFd)).toBe(0);
      expect(f.replace(pasid, s2)).toBe(0);
      expect(f.check(pasid, s2)).toBe(0);
      expect(f.detach(pasid)).toBe(0);

      expect(f.destroy(iopf)).toBe(0);
      iommufdFileRelease(f.fd.env(), faultFd); // close(fault_fd)
      expect(f.destroy(faultId)).toBe(0);
      expect(f.mockReplace(f.stdev, f.ioas)).toBe(0);
      expect(checkInvariants(f.log.state as never)).toEqual([]);
    });
  });
}

describe("iommufd_device_pasid: more of Linux's answers", () => {
  it("a nested HWPT on a vIOMMU attaches at a PASID without a vDEVICE, not at the RID (selftest.c)", () => {
    const f = new PasidFixture();
    const s2 = f.must(f.alloc(f.ioas, IOMMU_HWPT_ALLOC_PASID));
    expect(f.mockReplace(f.stdev, s2)).toBe(0);
    const parent = f.must(f.alloc(f.ioas, IOMMU_HWPT_ALLOC_NEST_PARENT));
    const viommu = f.viommuAlloc(parent);
    const nested = f.nested(viommu, IOMMU_HWPT_ALLOC_PASID);
    // mock_domain_set_dev_pasid_nop() does not look for a vDEVICE; mock_domain_nop_attach() does.
    expect(f.attach(300, nested)).toEqual([0, nested]);
    expect(f.check(300, nested)).toBe(0);
    expect(f.mockReplace(f.stdev, nested)).toBe(ENOENT);
    expect(f.destroy(viommu)).toBe(EBUSY);
    expect(f.detach(300)).toBe(0);
    expect(f.destroy(nested)).toBe(0);
    expect(f.destroy(viommu)).toBe(0);
  });

  it("a HWPT a PASID uses cannot be destroyed; the RID's HWPT stays PASID-compatible while PASIDs are attached", () => {
    const f = new PasidFixture();
    const s2 = f.must(f.alloc(f.ioas, IOMMU_HWPT_ALLOC_PASID));
    const plain = f.must(f.alloc(f.ioas, 0));
    expect(f.attach(7, s2)[0]).toBe(EINVAL); // the RID is on its auto domain, allocated with flags 0
    expect(f.mockReplace(f.stdev, s2)).toBe(0);
    expect(f.destroy(f.hwpt)).toBe(ENOENT); // the auto domain went with its last device
    expect(f.attach(7, s2)).toEqual([0, s2]);
    expect(f.destroy(s2)).toBe(EBUSY);
    expect(f.mockReplace(f.stdev, plain)).toBe(EINVAL);
    expect(f.mockReplace(f.stdev, f.ioas)).toBe(EINVAL); // a new auto domain is not PASID-compatible either
    expect(f.check(0, s2)).toBe(0); // PASID 0 is the RID
    expect(f.detach(7)).toBe(0);
    expect(f.mockReplace(f.stdev, plain)).toBe(0);
    expect(f.attach(7, s2)[0]).toBe(EINVAL);
    expect(f.destroy(s2)).toBe(0);
  });

  it("errnos: no PASID capability, width, PASID 0, missing objects, check on non-HWPTs", () => {
    const plain = new PasidFixture(true, 0);
    expect(plain.attach(1, plain.ioas)[0]).toBe(EINVAL);
    const f = new PasidFixture();
    const s2 = f.must(f.alloc(f.ioas, IOMMU_HWPT_ALLOC_PASID));
    expect(f.mockReplace(f.stdev, s2)).toBe(0);
    expect(f.attach(1 << 20, s2)[0]).toBe(EINVAL);
    expect(f.attach(0, s2)[0]).toBe(EINVAL);
    expect(f.attach(5, 99)[0]).toBe(ENOENT);
    expect(f.replace(5, 99)).toBe(ENOENT); // the object is looked up before the attachment
    expect(f.attach(5, f.stdev)[0]).toBe(EINVAL);
    expect(f.attach(5, f.idev, f.idev)[0]).toBe(ENOENT); // not a selftest object
    expect(f.attach(5, s2)[0]).toBe(0);
    expect(f.attach(5, f.ioas)[0]).toBe(EBUSY); // the auto domain's attach meets the attached PASID first
    expect(f.replace(5, f.ioas)).toBe(EINVAL);
    expect(f.replace(5, s2)).toBe(0); // the same HWPT: nothing to do
    expect(f.check(5, 99)).toBe(ENOENT);
    expect(f.check(5, f.ioas)).toBe(EINVAL);
    expect(f.check(5, s2)).toBe(0);
  });

  it("naming an IOAS at a PASID leaves no auto domain behind, and its allocation is a fail-nth point", () => {
    const f = new PasidFixture();
    const s2 = f.must(f.alloc(f.ioas, IOMMU_HWPT_ALLOC_PASID));
    expect(f.mockReplace(f.stdev, s2)).toBe(0);
    const ioas2 = f.ioasAlloc();
    const before = f.log.seq;
    expect(f.attach(3, ioas2)[0]).toBe(EINVAL);
    expect(f.log.seq).toBe(before);
    f.log.failNth(1);
    expect(f.attach(3, ioas2)[0]).toBe(ENOMEM);
    expect(f.destroy(ioas2)).toBe(0); // nothing holds it
  });

  it("PASID attach and replace fail cleanly at each of their fault points (fail-nth)", () => {
    for (const replace of [false, true]) {
      const sites: string[] = [];
      for (let n = 1; n < 10; n++) {
        const f = new PasidFixture();
        const s2 = f.must(f.alloc(f.ioas, IOMMU_HWPT_ALLOC_PASID));
        const other = f.must(f.alloc(f.ioas, IOMMU_HWPT_ALLOC_PASID));
        expect(f.mockReplace(f.stdev, s2)).toBe(0);
        if (replace) expect(f.attach(5, s2)[0]).toBe(0);
        const before = stateHash(f.log.state);
        f.log.failNth(n);
        const rc = replace ? f.replace(5, other) : f.attach(5, other)[0];
        if (!f.log.lastSteps.fired) {
          expect(rc).toBe(0);
          expect(f.check(5, other)).toBe(0);
          break;
        }
        expect(rc).toBe(ENOMEM);
        expect(stateHash(f.log.state)).toBe(before);
        sites.push(f.log.lastSteps.sites.at(-1)!);
      }
      expect(sites).toEqual([replace ? "iommufd.pasid_replace_alloc" : "iommufd.pasid_attach_alloc"]);
    }
  });

  it("destroying the mock device or closing the context drops its PASIDs", () => {
    const f = new PasidFixture();
    const s2 = f.must(f.alloc(f.ioas, IOMMU_HWPT_ALLOC_PASID));
    expect(f.mockReplace(f.stdev, s2)).toBe(0);
    expect(f.attach(9, s2)[0]).toBe(0);
    expect(f.destroy(f.stdev)).toBe(0);
    expect(f.destroy(s2)).toBe(0);
    expect(checkInvariants(f.log.state as never)).toEqual([]);
    const g = new PasidFixture();
    const t = g.must(g.alloc(g.ioas, IOMMU_HWPT_ALLOC_PASID));
    expect(g.mockReplace(g.stdev, t)).toBe(0);
    expect(g.attach(9, t)[0]).toBe(0);
    g.fd.close();
    expect(g.log.state.mockDomain.domains.size).toBe(0);
    expect(g.log.state.iopt.ioas.size).toBe(0);
  });
});

describe("a PASID's pending page requests are answered INVALID when it leaves its IOPF HWPT", () => {
  /** RID on a PASID-compatible HWPT, PASID 0x40 on an IOPF nested HWPT, two groups pending (one read). */
  function pending() {
    const f = new PasidFixture();
    const parent = f.must(f.alloc(f.ioas, IOMMU_HWPT_ALLOC_NEST_PARENT | IOMMU_HWPT_ALLOC_PASID));
    expect(f.mockReplace(f.stdev, parent)).toBe(0);
    const [faultId, file] = f.faultAlloc();
    const iopf = f.nested(parent, IOMMU_HWPT_FAULT_ID_VALID | IOMMU_HWPT_ALLOC_PASID, faultId);
    expect(f.attach(0x40, iopf)[0]).toBe(0);
    expect(f.trigger(f.idev, 0x40)).toBe(0);
    expect(f.trigger(f.idev, 0x40)).toBe(0);
    expect((iommufdFileRead(f.fd.env(), file, 40) as Uint8Array).length).toBe(40);
    return { f, parent, iopf, file, seq: f.log.seq };
  }

  it("on PASID_DETACH", () => {
    const { f, file, seq } = pending();
    expect(f.detach(0x40)).toBe(0);
    expect(f.respondedSince(seq)).toEqual([IOMMUFD_PAGE_RESP_INVALID, IOMMUFD_PAGE_RESP_INVALID]);
    expect(iommufdFileRead(f.fd.env(), file, 40)).toEqual(new Uint8Array(0));
  });

  it("on PASID_REPLACE, but not on the mock's failing replace at PASID 1024 nor on another PASID's detach", () => {
    const { f, parent, iopf, seq } = pending();
    const other = f.nested(parent, IOMMU_HWPT_ALLOC_PASID);
    expect(f.attach(1024, iopf)[0]).toBe(0);
    expect(f.trigger(f.idev, 1024)).toBe(0);
    expect(f.replace(1024, other)).toBe(ENOMEM);
    expect(f.detach(7)).toBe(0);
    expect(f.respondedSince(seq)).toEqual([]);
    expect(f.replace(0x40, other)).toBe(0);
    expect(f.respondedSince(seq)).toEqual([IOMMUFD_PAGE_RESP_INVALID, IOMMUFD_PAGE_RESP_INVALID]);
    const mid = f.log.seq;
    expect(f.destroy(f.stdev)).toBe(0); // the device's destroy detaches PASID 1024: its group too
    expect(f.respondedSince(mid)).toEqual([IOMMUFD_PAGE_RESP_INVALID]);
  });
});
