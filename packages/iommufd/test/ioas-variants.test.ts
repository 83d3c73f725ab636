/**
 * The semantics of Linux's selftest fixture `iommufd_ioas` across its
 * variants no_domain, mock_domain and two_mock_domain
 * (tools/testing/selftests/iommu/iommufd.c): ioas_destroy, hwpt_attach,
 * ioas_area_destroy, area, area_auto_iova, area_allowed, plus MD_CHECK_MAP /
 * MD_CHECK_REFS after maps and what closing the context frees.
 * Struct offsets: include/uapi/linux/iommufd.h and iommufd_test.h (v6.17).
 */
import { stateHash } from "@iommu-sim/eventlog";
import { IOMMU_TEST_OP, isErrno, MOCK_APERTURE_START } from "@iommu-sim/uapi";
import { describe, expect, it } from "vitest";
import { Fixture } from "./fixture";

const PAGE = 4096n;
const U64_MAX = (1n << 64n) - 1n;
const ENOENT = -2;
const EBUSY = -16;
const EEXIST = -17;
const EADDRINUSE = -98;
const EINVAL = -22;

describe.each([
  ["no_domain", 0],
  ["mock_domain", 1],
  ["two_mock_domain", 2],
])("fixture iommufd_ioas, variant %s", (_name, mockDomains) => {
  it("ioas_destroy: an IOAS with a device's HWPT on it is busy", () => {
    const f = new Fixture(mockDomains);
    expect(f.destroy(f.ioas)).toBe(mockDomains ? EBUSY : 0);
  });

  it("hwpt_attach: a mock device attaches straight to the HWPT; without one the id is ENOENT", () => {
    const f = new Fixture(mockDomains);
    if (mockDomains) expect(f.mockDomain(f.hwpt)[0]).toBe(0);
    else expect(f.mockDomain(f.hwpt)[0]).toBe(ENOENT);
  });

  it("ioas_area_destroy: adding an area does not change the ability to destroy", () => {
    const f = new Fixture(mockDomains);
    expect(f.map(PAGE, f.base)[0]).toBe(0);
    expect(f.destroy(f.ioas)).toBe(mockDomains ? EBUSY : 0);
  });

  it("area: splits and overlaps fail, unmap-all works, and the domain maps exactly the areas", () => {
    const f = new Fixture(mockDomains);
    for (let i = 0n; i < 10n; i++) expect(f.map(PAGE, f.base + i * PAGE)[0]).toBe(0);
    if (mockDomains) {
      expect(f.checkMap(f.base, PAGE)).toBe(0);
      expect(f.checkRefs(PAGE, 10)).toBe(0); // each map has its own iopt_pages: ten FOLL_PIN pins of the page
    }
    for (let i = 0n; i < 10n; i++) expect(f.unmap(f.base + i * PAGE, PAGE)).toBe(0);
    if (mockDomains) {
      expect(f.checkMap(f.base, PAGE)).toBe(EINVAL); // unmapped IO page
      expect(f.checkRefs(PAGE, 0)).toBe(0);
    }
    expect(f.map(2n * PAGE, f.base + 16n * PAGE)[0]).toBe(0);
    expect(f.unmap(f.base + 16n * PAGE, PAGE)).toBe(ENOENT);
    expect(f.map(PAGE, f.base + 17n * PAGE)[0]).toBe(EEXIST);
    expect(f.unmap(0n, U64_MAX)).toBe(0);
    expect(f.unmap(0n, U64_MAX)).toBe(0);
  });

  it("area_auto_iova: automatic IOVAs are aligned and avoid a reserved range", () => {
    const f = new Fixture(mockDomains);
    expect(f.addReserved(4n * PAGE, 100n * PAGE)).toBe(0);
    for (let i = 1n; i <= 10n; i++) {
      const length = i * PAGE;
      const [rc, iova] = f.map(length, 0n, false);
      expect(rc).toBe(0);
      expect(iova % (length & -length)).toBe(0n);
      expect(iova > 4n * PAGE && iova < 104n * PAGE).toBe(false);
      if (mockDomains) expect(iova >= BigInt(MOCK_APERTURE_START)).toBe(true);
    }
  });

  it("area_allowed: a reserved range may not intersect an area", () => {
    const f = new Fixture(mockDomains);
    expect(f.map(PAGE, f.base + PAGE)[0]).toBe(0);
    expect(f.addReserved(f.base + PAGE, PAGE)).toBe(EADDRINUSE);
    expect(f.addReserved(f.base + 2n * PAGE, PAGE)).toBe(0);
  });

  it("closing the context frees devices, HWPTs, the IOAS and every pin", () => {
    const f = new Fixture(mockDomains);
    expect(f.map(4n * PAGE, f.base)[0]).toBe(0);
    expect(isErrno(f.fd.close())).toBe(false);
    const s = f.log.state;
    expect(s.iopt.ioas.size).toBe(0);
    expect(s.iopt.pages.size).toBe(0);
    expect(s.mockDomain.domains.size).toBe(0);
    expect(s.iommufd.contexts[f.fd.ctx]).toBeUndefined();
  });
});

describe("selftest mock devices", () => {
  it("ids come in Linux's order (selftest object, device, HWPT) and a second device reuses the auto domain", () => {
    const f = new Fixture(0);
    const [, first] = f.mockDomain(f.ioas);
    expect(first).toEqual([f.ioas + 1, f.ioas + 3, f.ioas + 2]);
    const [, second] = f.mockDomain(f.ioas);
    expect(second[1]).toBe(first[1]);
  });

  it("destroying the selftest object unbinds its device; the auto domain goes with its last device", () => {
    const f = new Fixture(0);
    const [, [stdev1, hwpt]] = f.mockDomain(f.ioas);
    const [, [stdev2]] = f.mockDomain(f.ioas);
    expect(f.destroy(hwpt)).toBe(EBUSY);
    expect(f.destroy(stdev1)).toBe(0);
    expect(f.log.state.iommufd.contexts[f.fd.ctx]!.objects[hwpt]).toBeDefined();
    expect(f.destroy(stdev2)).toBe(0);
    expect(f.log.state.iommufd.contexts[f.fd.ctx]!.objects[hwpt]).toBeUndefined();
    expect(f.destroy(f.ioas)).toBe(0);
  });

  it("attaching a domain whose aperture excludes an existing area fails with EADDRINUSE and changes nothing", () => {
    const f = new Fixture(0);
    expect(f.map(PAGE, 0n)[0]).toBe(0); // below MOCK_APERTURE_START
    const before = stateHash(f.log.state);
    expect(f.mockDomain(f.ioas)[0]).toBe(EADDRINUSE);
    expect(stateHash(f.log.state)).toBe(before);
  });

  it("a device object is held by its driver: IOMMU_DESTROY answers EBUSY", () => {
    const f = new Fixture(1);
    expect(f.destroy(f.idev)).toBe(EBUSY);
  });

  it("MOCK_DOMAIN on an object that is neither an IOAS nor a HWPT is EINVAL; unknown flags too", () => {
    const f = new Fixture(1);
    expect(f.mockDomain(f.stdev)[0]).toBe(EINVAL);
    const [rc] = f.test(IOMMU_TEST_OP.IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS, f.ioas, [[12, 4, 1 << 9]]);
    expect(rc).toBe(EINVAL);
  });

  it("fail-nth at every step of MOCK_DOMAIN (after a map) leaves no device, HWPT, domain entry or pin", () => {
    const f = new Fixture(0);
    // inside the mock aperture: an area outside it would make the attach fail with EADDRINUSE
    expect(f.map(8n * PAGE, BigInt(MOCK_APERTURE_START))[0]).toBe(0);
    const before = stateHash(f.log.state);
    let n = 1;
    for (; ; n++) {
      f.log.failNth(n);
      const [rc] = f.mockDomain(f.ioas);
      if (!f.log.lastSteps.fired) {
        expect(rc).toBe(0);
        break;
      }
      expect(rc).toBeLessThan(0);
      expect(stateHash(f.log.state)).toBe(before);
    }
    expect(n).toBeGreaterThan(3);
  });
});
