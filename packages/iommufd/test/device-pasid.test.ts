/**
 * FIXTURE(iommufd_device_pasid) of tools/testing/selftests/iommu/iommufd.c
 * on the byte interface: a mock device created with MOCK_FLAGS_DEVICE_PASID
 * on an IOAS, its PASIDs attached, replaced and detached with
 * IOMMU_TEST_OP_PASID_ATTACH / _REPLACE / _DETACH and checked with
 * IOMMU_TEST_OP_PASID_CHECK_HWPT — the IOAS and paging-HWPT parts of
 * pasid_attach (the nested and IOPF HWPTs of the Linux test are not ported
 * here), plus the errnos of selftest.c and device.c around them.
 */
import { checkInvariants } from "@iommu-sim/iopt";
import {
  IOMMU_HWPT_ALLOC_NEST_PARENT,
  IOMMU_HWPT_ALLOC_PASID,
  IOMMU_IOCTL,
  IOMMU_TEST_OP,
  MOCK_FLAGS_DEVICE_PASID,
} from "@iommu-sim/uapi";
import { describe, expect, it } from "vitest";
import { Fixture, view } from "./fixture";
import { bytes } from "./harness";

const ENOENT = -2;
const ENOMEM = -12;
const EBUSY = -16;
const EINVAL = -22;
const OP = IOMMU_TEST_OP;

class PasidFixture extends Fixture {
  constructor(devFlags = MOCK_FLAGS_DEVICE_PASID) {
    super(0);
    const [rc, arg] = this.test(OP.IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS, this.ioas, [[12, 4, devFlags]]);
    expect(rc).toBe(0);
    [this.stdev, this.hwpt, this.idev] = [0, 4, 8].map((o) => view(arg).getUint32(16 + o, true)) as [
      number,
      number,
      number,
    ];
  }

  hwptAlloc(ptId: number, flags: number): [number, number] {
    const arg = bytes(48, [
      [0, 4, 48],
      [4, 4, flags],
      [8, 4, this.idev],
      [12, 4, ptId],
    ]);
    const rc = this.fd.ioctl(IOMMU_IOCTL.IOMMU_HWPT_ALLOC, arg);
    return [rc, view(arg).getUint32(16, true)];
  }

  /** PASID_ATTACH → [rc, pt_id as answered]. */
  attach(pasid: number, ptId: number): [number, number] {
    const [rc, arg] = this.test(OP.IOMMU_TEST_OP_PASID_ATTACH, this.stdev, [
      [0, 4, pasid],
      [4, 4, ptId],
    ]);
    return [rc, view(arg).getUint32(20, true)];
  }

  replace(pasid: number, ptId: number): [number, number] {
    const [rc, arg] = this.test(OP.IOMMU_TEST_OP_PASID_REPLACE, this.stdev, [
      [0, 4, pasid],
      [4, 4, ptId],
    ]);
    return [rc, view(arg).getUint32(20, true)];
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
}

describe("iommufd_device_pasid: pasid_attach (IOAS and paging HWPTs)", () => {
  it("attach, re-attach, detach, replace and the mock's failing replace at PASID 1024", () => {
    const f = new PasidFixture();
    const [rc0, parent] = f.hwptAlloc(f.ioas, IOMMU_HWPT_ALLOC_NEST_PARENT | IOMMU_HWPT_ALLOC_PASID);
    expect(rc0).toBe(0);

    // PASID 100 on the IOAS lands on the device's own auto domain.
    expect(f.attach(100, f.ioas)).toEqual([0, f.hwpt]);
    expect(f.check(100, f.hwpt)).toBe(0);
    expect(f.attach(100, f.ioas)[0]).toBe(EBUSY); // the same HWPT again: "attach to pasid 100 which has been attached, should fail"
    expect(f.attach(100, parent)[0]).toBe(EBUSY); // attach does not overwrite
    expect(f.detach(100)).toBe(0);
    expect(f.check(100, 0)).toBe(0);

    // Replace.
    expect(f.replace(200, parent)[0]).toBe(EINVAL); // not attached
    expect(f.attach(200, parent)).toEqual([0, parent]);
    expect(f.check(200, parent)).toBe(0);
    expect(f.replace(200, f.ioas)).toEqual([0, f.hwpt]);
    expect(f.check(200, f.hwpt)).toBe(0);
    expect(f.check(200, parent)).toBe(EINVAL);
    expect(f.detach(200)).toBe(0);
    expect(f.check(200, 0)).toBe(0);

    // PASID 1024: the mock driver fails every replace, the old domain stays.
    expect(f.attach(1024, parent)[0]).toBe(0);
    expect(f.replace(1024, f.ioas)[0]).toBe(ENOMEM);
    expect(f.check(1024, parent)).toBe(0);
    expect(f.detach(1024)).toBe(0);
    expect(f.check(1024, 0)).toBe(0);

    // A HWPT without IOMMU_HWPT_ALLOC_PASID cannot serve a PASID.
    const [rc1, noPasid] = f.hwptAlloc(f.ioas, IOMMU_HWPT_ALLOC_NEST_PARENT);
    expect(rc1).toBe(0);
    expect(f.attach(2048, noPasid)[0]).toBe(EINVAL);
    expect(f.check(2048, 0)).toBe(0);
    expect(f.destroy(noPasid)).toBe(0);
    expect(f.destroy(parent)).toBe(0);
    expect(checkInvariants(f.log.state as never)).toEqual([]);
  });

  it("a HWPT a PASID uses cannot be destroyed; another IOAS gets its own auto domain, freed with the PASID", () => {
    const f = new PasidFixture();
    const [, parent] = f.hwptAlloc(f.ioas, IOMMU_HWPT_ALLOC_PASID);
    expect(f.attach(7, parent)[0]).toBe(0);
    expect(f.destroy(parent)).toBe(EBUSY);
    const ioas2 = f.ioasAlloc();
    const [rc, auto] = f.attach(8, ioas2);
    expect(rc).toBe(0);
    expect(auto).toBe(ioas2 + 1); // a new HWPT object right after the new IOAS
    expect(f.check(8, auto)).toBe(0);
    expect(f.destroy(ioas2)).toBe(EBUSY);
    expect(f.detach(8)).toBe(0);
    expect(f.destroy(auto)).toBe(ENOENT); // the auto domain went with its last user
    expect(f.destroy(ioas2)).toBe(0);
    expect(f.detach(7)).toBe(0);
    expect(f.destroy(parent)).toBe(0);
  });

  it("errnos: no PASID capability, width, PASID 0, missing objects, check on non-HWPTs", () => {
    const plain = new PasidFixture(0);
    expect(plain.attach(1, plain.ioas)[0]).toBe(EINVAL);
    const f = new PasidFixture();
    expect(f.attach(1 << 20, f.ioas)[0]).toBe(EINVAL);
    expect(f.attach(0, f.ioas)[0]).toBe(EINVAL);
    expect(f.attach(5, 99)[0]).toBe(ENOENT);
    expect(f.attach(5, f.stdev)[0]).toBe(EINVAL);
    expect(
      f.test(OP.IOMMU_TEST_OP_PASID_ATTACH, f.idev, [
        [0, 4, 5],
        [4, 4, f.ioas],
      ])[0],
    ).toBe(ENOENT);
    expect(f.detach(5)).toBe(0); // nothing attached: nothing to do
    expect(f.check(0, f.hwpt)).toBe(0); // the RID
    expect(f.check(5, 99)).toBe(ENOENT);
    expect(f.check(5, f.ioas)).toBe(EINVAL);
    expect(f.check(5, f.hwpt)).toBe(EINVAL);
  });

  it("the RID's HWPT must allow PASIDs too (iommufd_hwpt_pasid_compat)", () => {
    const f = new PasidFixture();
    const [, noPasid] = f.hwptAlloc(f.ioas, 0);
    const [, withPasid] = f.hwptAlloc(f.ioas, IOMMU_HWPT_ALLOC_PASID);
    const ridReplace = (pt: number) => f.test(OP.IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE, f.stdev, [[0, 4, pt]])[0];
    expect(f.attach(3, withPasid)[0]).toBe(0);
    expect(ridReplace(noPasid)).toBe(EINVAL); // a PASID is attached
    expect(f.detach(3)).toBe(0);
    expect(ridReplace(noPasid)).toBe(0);
    expect(f.attach(3, withPasid)[0]).toBe(EINVAL);
  });

  it("destroying the mock device or closing the context drops its PASIDs", () => {
    const f = new PasidFixture();
    const ioas2 = f.ioasAlloc();
    expect(f.attach(9, ioas2)[0]).toBe(0);
    expect(f.destroy(f.stdev)).toBe(0);
    expect(checkInvariants(f.log.state as never)).toEqual([]);
    const g = new PasidFixture();
    expect(g.attach(9, g.ioas)[0]).toBe(0);
    g.fd.close();
    expect(g.log.state.mockDomain.domains.size).toBe(0);
    expect(g.log.state.iopt.ioas.size).toBe(0);
  });
});
