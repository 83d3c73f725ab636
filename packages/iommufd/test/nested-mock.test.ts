/**
 * Nested HWPTs of the selftest mock driver on the byte interface: the
 * semantics of Linux's TEST_F(iommufd_ioas, alloc_hwpt_nested)
 * (tools/testing/selftests/iommu/iommufd.c) in its mock_domain and
 * no_domain variants, plus IOMMU_TEST_OP_DEV_CHECK_CACHE.
 * Golden values: iommufd_test.h (IOMMU_HWPT_DATA_SELFTEST 0xdead,
 * IOMMU_TEST_IOTLB_DEFAULT 0xbadbeef, IOMMU_HWPT_INVALIDATE_DATA_SELFTEST
 * 0xdeadbeef, _INVALID 0xdadbeef, IOMMU_TEST_INVALIDATE_FLAG_ALL 1,
 * MOCK_NESTED_DOMAIN_IOTLB_ID_MAX 3, IOMMU_TEST_DEV_CACHE_DEFAULT
 * 0xbaddad, MOCK_DEV_CACHE_ID_MAX 3), iommufd.h (IOMMU_HWPT_ALLOC_NEST_PARENT 1,
 * IOMMU_HWPT_DATA_NONE 0) and asm-generic/errno-base.h.
 */
import { IOMMU_IOCTL, IOMMU_TEST_OP } from "@iommu-sim/uapi";
import { describe, expect, it } from "vitest";
import { type IommufdFile, iommufdFileRead, iommufdFileRelease, iommufdFileWrite } from "../src/index";
import { view } from "./fixture";
import { bytes } from "./harness";
import { hwptSelftest, invSelftest, NestedFixture } from "./nested-support";

const DATA_SELFTEST = 0xdead;
const IOTLB_DEFAULT = 0xbadbeef;
const INV_SELFTEST = 0xdeadbeef;
const INV_SELFTEST_INVALID = 0xdadbeef;
const FLAG_ALL = 1;
const NEST_PARENT = 1;
const FAULT_ID_VALID = 1 << 2;
const [ENOENT, EFAULT, EBUSY, EINVAL, EOPNOTSUPP] = [-2, -14, -16, -22, -95];

/** iommufd_ioas mock_domain variant + a NEST_PARENT HWPT and a plain one. */
function withParents() {
  const f = new NestedFixture(1);
  const [rc1, parent] = f.hwptAlloc(f.idev, f.ioas, NEST_PARENT);
  const [rc2, notParent] = f.hwptAlloc(f.idev, f.ioas, 0);
  expect([rc1, rc2]).toEqual([0, 0]);
  return { f, parent, notParent };
}

describe("IOMMU_HWPT_ALLOC of a mock nested HWPT", () => {
  it("refuses a bad device or pt_id (ENOENT dev_id = an IOAS; EINVAL pt_id = a device or none)", () => {
    const f = new NestedFixture(1);
    expect(f.hwptAlloc(f.ioas, f.idev)[0]).toBe(ENOENT);
    expect(f.hwptAlloc(f.idev, f.idev)[0]).toBe(EINVAL);
    expect(f.hwptAlloc(f.idev, 999)[0]).toBe(EINVAL); // no such object: iommufd_hwpt_alloc() says EINVAL
  });

  it("answers the selftest's negative cases with Linux's errnos", () => {
    const { f, parent, notParent } = withParents();
    const data = hwptSelftest(IOTLB_DEFAULT);
    expect(f.hwptAlloc(f.idev, parent, 0, 0, data)[0]).toBe(EINVAL); // DATA_NONE with data
    expect(f.hwptAlloc(f.idev, parent, 0, DATA_SELFTEST + 1, data)[0]).toBe(EOPNOTSUPP);
    expect(f.hwptAlloc(f.idev, parent, 0, DATA_SELFTEST, data, 3)[0]).toBe(EINVAL); // min_data_len - 1
    expect(f.hwptAlloc(f.idev, parent, 0, DATA_SELFTEST, null, 4)[0]).toBe(EFAULT); // NULL data_uptr
    expect(f.hwptAlloc(f.idev, parent, NEST_PARENT, DATA_SELFTEST, data)[0]).toBe(EOPNOTSUPP);
    expect(f.hwptAlloc(f.idev, parent, 2, DATA_SELFTEST, data)[0]).toBe(EOPNOTSUPP); // DIRTY_TRACKING
    const [rcPasid, pasidCompat] = f.hwptAlloc(f.idev, parent, 8, DATA_SELFTEST, data); // ALLOC_PASID
    expect(rcPasid).toBe(0);
    expect(f.log.state.iommufd.contexts[f.fd.ctx]!.objects[pasidCompat]!.flags).toBe(8);
    expect(f.hwptAlloc(f.idev, notParent, 0, DATA_SELFTEST, data)[0]).toBe(EINVAL);
    expect(f.hwptAlloc(f.idev, parent, 0, 0, null, 0)[0]).toBe(EOPNOTSUPP); // nested needs data
    // iommu_copy_struct_from_user: data longer than the kernel's struct is EINVAL, even with a zero tail.
    expect(f.hwptAlloc(f.idev, parent, 0, DATA_SELFTEST, Uint8Array.of(1, 0, 0, 0, 0))[0]).toBe(EINVAL);
    const [rc, id] = f.hwptAlloc(f.idev, parent, 0, DATA_SELFTEST, Uint8Array.of(1, 0, 0, 0));
    expect(rc).toBe(0);
    expect(f.checkIotlbAll(id, 1)).toEqual([0, 0, 0, 0]);
  });

  it("two nested HWPTs share a parent, start at the given IOTLB value, and pin the parent (EBUSY)", () => {
    const { f, parent } = withParents();
    const data = hwptSelftest(IOTLB_DEFAULT);
    const [rc0, n0] = f.hwptAlloc(f.idev, parent, 0, DATA_SELFTEST, data);
    const [rc1, n1] = f.hwptAlloc(f.idev, parent, 0, DATA_SELFTEST, data);
    expect([rc0, rc1]).toEqual([0, 0]);
    expect(n1).not.toBe(n0);
    expect(f.checkIotlbAll(n0, IOTLB_DEFAULT)).toEqual([0, 0, 0, 0]);
    expect(f.checkIotlbAll(n1, IOTLB_DEFAULT)).toEqual([0, 0, 0, 0]);
    expect(f.checkIotlb(n0, 0, 0)).toBe(EINVAL); // another value
    expect(f.checkIotlb(n0, 4, IOTLB_DEFAULT)).toBe(EINVAL); // iotlb id > MOCK_NESTED_DOMAIN_IOTLB_ID_MAX
    expect(f.checkIotlb(parent, 0, IOTLB_DEFAULT)).toBe(ENOENT); // not a nested HWPT
    expect(f.hwptAlloc(f.idev, n0, 0, DATA_SELFTEST, data)[0]).toBe(EINVAL); // nested on nested
    expect(f.destroy(parent)).toBe(EBUSY);
  });
});

describe("IOMMU_HWPT_INVALIDATE on a mock nested HWPT", () => {
  function nested() {
    const { f, parent } = withParents();
    const data = hwptSelftest(IOTLB_DEFAULT);
    const n0 = f.hwptAlloc(f.idev, parent, 0, DATA_SELFTEST, data)[1];
    const n1 = f.hwptAlloc(f.idev, parent, 0, DATA_SELFTEST, data)[1];
    return { f, parent, n0, n1 };
  }
  const zero = () => invSelftest([0, 0], [0, 0]);

  it("answers the selftest's negative cases with entry_num 0 and the IOTLB untouched", () => {
    const { f, parent, n0 } = nested();
    expect(f.invalidate(parent, zero(), INV_SELFTEST, 8, 1)).toEqual([EINVAL, 0]); // a parent HWPT
    expect(f.invalidate(999, zero(), INV_SELFTEST, 8, 1)).toEqual([ENOENT, 0]);
    expect(f.invalidate(n0, zero(), INV_SELFTEST, 8, 0)).toEqual([0, 0]); // zero-length array checks the type
    expect(f.invalidate(n0, zero(), INV_SELFTEST_INVALID, 8, 1)).toEqual([EINVAL, 0]);
    expect(f.invalidate(n0, zero(), INV_SELFTEST_INVALID, 8, 0)).toEqual([EINVAL, 0]);
    expect(f.invalidate(n0, zero(), INV_SELFTEST, 1, 1)).toEqual([EINVAL, 0]); // entry_len < 8
    expect(f.invalidate(n0, invSelftest([0xffffffff, 0]), INV_SELFTEST, 8, 1)).toEqual([EOPNOTSUPP, 0]);
    expect(f.invalidate(n0, null, INV_SELFTEST, 8, 1)).toEqual([EINVAL, 0]); // NULL data_uptr
    expect(f.invalidate(n0, zero(), INV_SELFTEST, 0, 1)).toEqual([EINVAL, 0]); // entry_len 0
    expect(f.invalidate(n0, invSelftest([0, 4]), INV_SELFTEST, 8, 1)).toEqual([EINVAL, 0]); // iotlb_id > 3
    expect(f.checkIotlbAll(n0, IOTLB_DEFAULT)).toEqual([0, 0, 0, 0]);
  });

  it("a non-zero __reserved is EOPNOTSUPP from the handler, entry_num written back 0 (hw_pagetable.c)", () => {
    const { f, n0 } = nested();
    expect(f.invalidate(n0, zero(), INV_SELFTEST, 8, 2, 1)).toEqual([EOPNOTSUPP, 0]);
    expect(f.invalidate(999, zero(), INV_SELFTEST, 8, 2, 0x80000000)).toEqual([EOPNOTSUPP, 0]); // before the lookup
    expect(f.checkIotlbAll(n0, IOTLB_DEFAULT)).toEqual([0, 0, 0, 0]);
  });

  it("takes entry_len = sizeof(entry) only: larger is EINVAL even with zero tails (selftest: sizeof + 1)", () => {
    const { f, n0 } = nested();
    expect(f.invalidate(n0, zero(), INV_SELFTEST, 9, 1)).toEqual([EINVAL, 0]);
    expect(f.invalidate(n0, new Uint8Array(24), INV_SELFTEST, 12, 2)).toEqual([EINVAL, 0]);
    expect(f.checkIotlbAll(n0, IOTLB_DEFAULT)).toEqual([0, 0, 0, 0]);
  });

  it("processes entries in order and reports how many were done before a failure", () => {
    const { f, n0, n1 } = nested();
    // 1st entry done, 2nd has bad flags → EOPNOTSUPP, entry_num 1.
    expect(f.invalidate(n0, invSelftest([0, 0], [0xffffffff, 1]), INV_SELFTEST, 8, 2)).toEqual([
      EOPNOTSUPP,
      1,
    ]);
    expect(f.checkIotlbAll(n0, 0)).toEqual([0, EINVAL, EINVAL, EINVAL]);
    expect([1, 2, 3].map((i) => f.checkIotlb(n0, i, IOTLB_DEFAULT))).toEqual([0, 0, 0]);
    // 1st entry done, 2nd has iotlb_id 4 → EINVAL, entry_num 1.
    expect(f.invalidate(n0, invSelftest([0, 0], [0, 4]), INV_SELFTEST, 8, 2)).toEqual([EINVAL, 1]);
    expect(f.checkIotlb(n0, 1, IOTLB_DEFAULT)).toBe(0);
    // The 2nd entry, then the 3rd and 4th.
    expect(f.invalidate(n0, invSelftest([0, 1]), INV_SELFTEST, 8, 1)).toEqual([0, 1]);
    expect([0, 1].map((i) => f.checkIotlb(n0, i, 0))).toEqual([0, 0]);
    expect([2, 3].map((i) => f.checkIotlb(n0, i, IOTLB_DEFAULT))).toEqual([0, 0]);
    expect(f.invalidate(n0, invSelftest([0, 2], [0, 3]), INV_SELFTEST, 8, 2)).toEqual([0, 2]);
    expect(f.checkIotlbAll(n0, 0)).toEqual([0, 0, 0, 0]);
    // FLAG_ALL clears every entry whatever iotlb_id says.
    expect(f.invalidate(n1, invSelftest([FLAG_ALL, 0]), INV_SELFTEST, 8, 1)).toEqual([0, 1]);
    expect(f.checkIotlbAll(n1, 0)).toEqual([0, 0, 0, 0]);
  });

  it("faults at the first entry it cannot read, after doing the ones before (EFAULT, entry_num = done)", () => {
    const { f, n0 } = nested();
    // Two entries at the end of the scratch area's 3rd page, a third on the 4th page, unmapped.
    const last = f.scratch + 3n * 4096n - 16n;
    f.poke(last, invSelftest([0, 0], [0, 1]));
    f.log.dispatch({ type: "mm.munmap", data: { pid: 100, addr: f.scratch + 3n * 4096n, length: 4096n } });
    const arg = new Uint8Array(32);
    const v = new DataView(arg.buffer);
    v.setUint32(0, 32, true);
    v.setUint32(4, n0, true);
    v.setBigUint64(8, last, true);
    v.setUint32(16, INV_SELFTEST, true);
    v.setUint32(20, 8, true);
    v.setUint32(24, 3, true);
    expect(f.fd.ioctl(0x3b8d, arg)).toBe(EFAULT); // IOMMU_HWPT_INVALIDATE = _IO(';', 0x8d)
    expect(v.getUint32(24, true)).toBe(2);
    expect([0, 1].map((i) => f.checkIotlb(n0, i, 0))).toEqual([0, 0]);
  });
});

describe("attaching a mock device to nested HWPTs (MOCK_DOMAIN_REPLACE)", () => {
  it("follows the selftest: a nested HWPT in use is busy, replace moves between them, then everything goes", () => {
    const { f, parent, notParent } = withParents();
    const data = hwptSelftest(IOTLB_DEFAULT);
    const n0 = f.hwptAlloc(f.idev, parent, 0, DATA_SELFTEST, data)[1];
    const n1 = f.hwptAlloc(f.idev, parent, 0, DATA_SELFTEST, data)[1];
    expect(f.mockReplace(f.stdev, n0)).toBe(0);
    expect(f.destroy(n0)).toBe(EBUSY);
    expect(f.mockReplace(f.stdev, n1)).toBe(0);
    expect(f.destroy(n1)).toBe(EBUSY);
    expect(f.destroy(n0)).toBe(0);
    expect(f.mockReplace(f.stdev, parent)).toBe(0);
    expect(f.destroy(n1)).toBe(0);
    expect(f.mockReplace(f.stdev, f.ioas)).toBe(0);
    expect(f.destroy(parent)).toBe(0);
    expect(f.destroy(notParent)).toBe(0);
    expect(f.log.state.iommufd.mockNested).toEqual({});
  });

  it("the IOPF part of alloc_hwpt_nested: a nested HWPT with a fault queue, attached, faulted, left, destroyed", () => {
    const { f, parent, notParent } = withParents();
    const data = hwptSelftest(IOTLB_DEFAULT);
    const fa = bytes(16, [[0, 4, 16]]);
    expect(f.fd.ioctl(IOMMU_IOCTL.IOMMU_FAULT_QUEUE_ALLOC, fa)).toBe(0);
    const [faultId, faultFd] = [view(fa).getUint32(8, true), view(fa).getUint32(12, true)];
    const file: IommufdFile = { kind: "fault", ctx: f.fd.ctx, id: faultFd };
    const n1 = f.hwptAlloc(f.idev, parent, 0, DATA_SELFTEST, data)[1];
    expect(f.hwptAlloc(f.idev, parent, FAULT_ID_VALID, DATA_SELFTEST, data, 4, 0xffffffff)[0]).toBe(ENOENT);
    const [rc, iopf] = f.hwptAlloc(f.idev, parent, FAULT_ID_VALID, DATA_SELFTEST, data, 4, faultId);
    expect(rc).toBe(0);
    expect(f.checkIotlbAll(iopf, IOTLB_DEFAULT)).toEqual([0, 0, 0, 0]);
    expect(f.mockReplace(f.stdev, n1)).toBe(0);
    expect(f.mockReplace(f.stdev, iopf)).toBe(0);
    expect(f.destroy(iopf)).toBe(EBUSY);
    // test_cmd_trigger_iopf(device_id, fault_fd) reports at PASID 0x1: no attachment there, and the
    // mock driver sets user_pasid_table, so the request goes to the NESTED domain at the RID
    // (io-pgfault.c find_fault_handler) — the IOPF HWPT's queue.
    const trigger = (pasid: number) =>
      f.test(IOMMU_TEST_OP.IOMMU_TEST_OP_TRIGGER_IOPF, 0, [
        [0, 4, f.idev],
        [4, 4, pasid],
        [8, 4, 2],
        [12, 4, 3],
        [16, 8, 0xdeadbeafn],
      ])[0];
    expect(trigger(1)).toBe(0);
    const rec = iommufdFileRead(f.fd.env(), file, 40) as Uint8Array;
    expect(rec.length).toBe(40);
    const v = view(rec.slice());
    expect([v.getUint32(0, true), v.getUint32(4, true), v.getUint32(8, true)]).toEqual([3, f.idev, 1]); // LAST_PAGE | PASID_VALID
    const cookie = v.getUint32(36, true);
    const resp = bytes(8, [
      [0, 4, cookie],
      [4, 4, 0],
    ]);
    expect(iommufdFileWrite(f.fd.env(), file, resp)).toBe(8); // IOMMUFD_PAGE_RESP_SUCCESS
    // A request pending at PASID 7 through the RID is answered INVALID when the RID leaves the HWPT.
    expect(trigger(7)).toBe(0);
    const seq = f.log.seq;
    expect(f.mockReplace(f.stdev, parent)).toBe(0);
    const responded = f.log.records.filter((r) => r.seq > seq && r.type === "iommufd.fault.responded");
    expect(responded.map((r) => (r.data as { code: number }).code)).toEqual([1]); // IOMMUFD_PAGE_RESP_INVALID
    expect(trigger(1)).toBe(0); // the RID is on a paging HWPT now: no handler, nothing queued
    expect(iommufdFileRead(f.fd.env(), file, 40)).toEqual(new Uint8Array(0));
    expect(f.destroy(n1)).toBe(0);
    expect(f.destroy(iopf)).toBe(0);
    expect(f.mockReplace(f.stdev, f.ioas)).toBe(0);
    expect(f.destroy(parent)).toBe(0);
    expect(f.destroy(notParent)).toBe(0);
    iommufdFileRelease(f.fd.env(), file);
    expect(f.destroy(faultId)).toBe(0);
    expect(f.log.state.iommufd.mockNested).toEqual({});
  });

  it("closing the context with nested HWPTs attached frees them all", () => {
    const { f, parent } = withParents();
    const n0 = f.hwptAlloc(f.idev, parent, 0, DATA_SELFTEST, hwptSelftest(IOTLB_DEFAULT))[1];
    expect(f.mockReplace(f.stdev, n0)).toBe(0);
    expect(f.fd.close()).not.toHaveProperty("code");
    expect(f.log.state.iommufd.contexts).toEqual({});
    expect(f.log.state.iommufd.mockNested).toEqual({});
  });
});

describe("IOMMU_TEST_OP_MOCK_DOMAIN with pt_id = a nested HWPT", () => {
  it("creates a device on the nested HWPT (device.c iommufd_device_change_pt takes HWPT_NESTED), which pins it", () => {
    const { f, parent } = withParents();
    const n0 = f.hwptAlloc(f.idev, parent, 0, DATA_SELFTEST, hwptSelftest(IOTLB_DEFAULT))[1];
    const [rc, [stdev, hwpt, idev]] = f.mockDomain(n0);
    expect(rc).toBe(0);
    expect([stdev, idev, hwpt]).toEqual([n0 + 1, n0 + 2, n0]); // no new HWPT: out_hwpt_id is the nested one
    expect(f.test(IOMMU_TEST_OP.IOMMU_TEST_OP_PASID_CHECK_HWPT, stdev, [[4, 4, n0]])[0]).toBe(0); // PASID 0: the RID
    expect(f.destroy(n0)).toBe(EBUSY);
    expect(f.destroy(parent)).toBe(EBUSY);
    expect(f.mockReplace(stdev, f.ioas)).toBe(0); // and off it again, to an auto domain on the parent's IOAS
    expect(f.destroy(n0)).toBe(0);
    expect(f.destroy(stdev)).toBe(0);
    expect(f.destroy(parent)).toBe(0);
    expect(f.log.state.iommufd.mockNested).toEqual({});
  });
});

describe("the no_domain variant (no mock device)", () => {
  it("answers ENOENT for HWPT_ALLOC and MOCK_DOMAIN_REPLACE with id 0", () => {
    const f = new NestedFixture(0);
    const data = hwptSelftest(IOTLB_DEFAULT);
    expect(f.hwptAlloc(0, f.ioas, NEST_PARENT)[0]).toBe(ENOENT);
    expect(f.hwptAlloc(0, 0, 0, DATA_SELFTEST, data)[0]).toBe(ENOENT);
    expect(f.mockReplace(0, 0)).toBe(ENOENT);
  });
});

describe("IOMMU_TEST_OP_DEV_CHECK_CACHE", () => {
  it("a mock device's cache holds IOMMU_TEST_DEV_CACHE_DEFAULT in entries 0..3", () => {
    const f = new NestedFixture(1);
    expect([0, 1, 2, 3].map((i) => f.checkDevCache(f.idev, i, 0xbaddad))).toEqual([0, 0, 0, 0]);
    expect(f.checkDevCache(f.idev, 0, 0)).toBe(EINVAL);
    expect(f.checkDevCache(f.idev, 4, 0xbaddad)).toBe(EINVAL); // > MOCK_DEV_CACHE_ID_MAX
    expect(f.checkDevCache(f.ioas, 0, 0xbaddad)).toBe(ENOENT); // not a device
  });
});
