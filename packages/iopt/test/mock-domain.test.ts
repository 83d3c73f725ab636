/**
 * Ports of Linux's selftest fixture `iommufd_mock_domain`
 * (tools/testing/selftests/iommu/iommufd.c): basic, ro_unshare, all_aligns,
 * all_aligns_copy, user_copy, in the variants one_domain, two_domains and
 * their "hugepage" sizes (the model has no THP; the hugepage variants keep
 * the selftest's buffer size and step).
 */
import {
  IOMMU_IOAS_MAP_FIXED_IOVA,
  IOMMU_IOAS_MAP_READABLE,
  IOMMU_IOAS_MAP_WRITEABLE,
} from "@iommu-sim/uapi";
import { describe, expect, it } from "vitest";
import { BUFFER_SIZE, BUFFER_VA, MOCK_APERTURE_START, MOCK_PAGE_SIZE, PAGE, Sim } from "./fixture";

const HUGEPAGE = 2n * 1024n * 1024n;
const variants = [
  { name: "one_domain", mockDomains: 1, hugepages: false },
  { name: "two_domains", mockDomains: 2, hugepages: false },
  { name: "one_domain_hugepage", mockDomains: 1, hugepages: true },
  { name: "two_domains_hugepage", mockDomains: 2, hugepages: true },
] as const;

function setup(mockDomains: number, hugepages: boolean) {
  const sim = new Sim();
  const ioas = sim.ioasAlloc();
  const hwpts: number[] = [];
  for (let i = 0; i < mockDomains; i++) hwpts.push(sim.mockDomain(ioas));
  const bufSize = hugepages ? HUGEPAGE * 2n : PAGE * 8n;
  /** check_mock_iova(): every attached domain maps the user range. */
  const checkMockIova = (ptr: bigint, iova: bigint, length: bigint) => {
    for (const d of hwpts) sim.checkMap(d, iova, length, ptr);
  };
  return { sim, ioas, hwpts, bufSize, checkMockIova };
}

describe.each(variants)("iommufd_mock_domain.$name", ({ mockDomains, hugepages }) => {
  it("basic", () => {
    const { sim, ioas, bufSize, checkMockIova } = setup(mockDomains, hugepages);
    // Simple one page map
    const iova = sim.map(ioas, BUFFER_VA, PAGE);
    checkMockIova(BUFFER_VA, iova, PAGE);
    const buf = sim.mmap(bufSize, { shared: true });
    // EFAULT half way through mapping
    sim.munmap(buf + bufSize / 2n, bufSize / 2n);
    expect(sim.mapErr(ioas, buf, bufSize)).toBe("EFAULT");
    // EFAULT on first page
    sim.munmap(buf, bufSize / 2n);
    expect(sim.mapErr(ioas, buf, bufSize)).toBe("EFAULT");
    // Nothing of the failed maps remains pinned or accounted.
    expect(sim.state.iopt.pages.size).toBe(1);
  });

  it("ro_unshare", () => {
    const { sim, ioas, checkMockIova } = setup(mockDomains, hugepages);
    sim.ok({ type: "mm.file.create", data: { file: 7, length: PAGE } });
    const buf = sim.mmap(PAGE, { file: 7, shared: false });
    // The write after mapping for reading must not change the assigned PFN.
    const iova = sim.map(ioas, buf, PAGE, undefined, IOMMU_IOAS_MAP_READABLE);
    checkMockIova(buf, iova, PAGE);
    sim.write(buf, new Uint8Array(Number(PAGE)).fill(1));
    checkMockIova(buf, iova, PAGE);
    sim.munmap(buf, PAGE);
  });

  it("all_aligns", () => {
    const { sim, ioas, bufSize, checkMockIova } = setup(mockDomains, hugepages);
    const step = hugepages ? bufSize / 16n : MOCK_PAGE_SIZE;
    const buf = sim.mmap(bufSize, { shared: true });
    sim.checkRefs(buf, bufSize, 0);
    for (let start = 0n; start < bufSize; start += step) {
      for (let end = hugepages ? bufSize : start + MOCK_PAGE_SIZE; end < bufSize; end += MOCK_PAGE_SIZE) {
        const length = end - start;
        const iova = sim.map(ioas, buf + start, length);
        checkMockIova(buf + start, iova, length);
        sim.checkRefs(buf + (start / PAGE) * PAGE, (end / PAGE) * PAGE - (start / PAGE) * PAGE, 1);
        sim.unmap(ioas, iova, length);
      }
    }
    sim.checkRefs(buf, bufSize, 0);
  });

  it("all_aligns_copy", () => {
    const { sim, ioas, hwpts, bufSize, checkMockIova } = setup(mockDomains, hugepages);
    const step = hugepages ? bufSize / 16n : MOCK_PAGE_SIZE;
    const buf = sim.mmap(bufSize, { shared: true });
    sim.checkRefs(buf, bufSize, 0);
    for (let start = 0n; start < bufSize; start += step) {
      for (let end = hugepages ? bufSize : start + MOCK_PAGE_SIZE; end < bufSize; end += MOCK_PAGE_SIZE) {
        const length = end - start;
        const iova = sim.map(ioas, buf + start, length);
        // Add and destroy a domain while the area exists
        const old = hwpts[1];
        hwpts[1] = sim.mockDomain(ioas);
        checkMockIova(buf + start, iova, length);
        sim.checkRefs(buf + (start / PAGE) * PAGE, (end / PAGE) * PAGE - (start / PAGE) * PAGE, 1);
        sim.destroyDomain(ioas, hwpts[1]);
        if (old === undefined) hwpts.pop();
        else hwpts[1] = old;
        sim.unmap(ioas, iova, length);
      }
    }
    sim.checkRefs(buf, bufSize, 0);
  });

  it("user_copy", () => {
    const { sim, ioas, checkMockIova } = setup(mockDomains, hugepages);
    const flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_READABLE;
    // Pin the pages in an IOAS with no domains then copy to an IOAS with domains
    const src = sim.ioasAlloc();
    let srcIova = sim.map(src, BUFFER_VA, BUFFER_SIZE);
    const access = sim.id();
    sim.ok({ type: "iopt.access.create", data: { access, ioas: src } });
    sim.ok({
      type: "iopt.access.pin",
      data: { access, pin: 1, iova: srcIova, length: BUFFER_SIZE, write: true },
    });
    const copy = (srcIoas: number) =>
      sim.ok({
        type: "ioas.copy",
        data: { dstIoas: ioas, srcIoas, srcIova, dstIova: MOCK_APERTURE_START, length: BUFFER_SIZE, flags },
      });
    copy(src);
    checkMockIova(BUFFER_VA, MOCK_APERTURE_START, BUFFER_SIZE);
    // The copy shares the access's pins: one pin per page.
    sim.checkRefs(BUFFER_VA, BUFFER_SIZE, 1);
    // Now replace the ioas with a new one
    const neu = sim.ioasAlloc();
    srcIova = sim.map(neu, BUFFER_VA, BUFFER_SIZE);
    sim.ok({ type: "iopt.access.replace_ioas", data: { access, ioas: neu } });
    // Destroy the old ioas and cleanup copied mapping
    sim.unmap(ioas, MOCK_APERTURE_START, BUFFER_SIZE);
    sim.ok({ type: "ioas.destroy", data: { ioas: src } });
    sim.checkRefs(BUFFER_VA, BUFFER_SIZE, 0);
    // Then run the same test again with the new ioas
    sim.ok({
      type: "iopt.access.pin",
      data: { access, pin: 2, iova: srcIova, length: BUFFER_SIZE, write: true },
    });
    copy(neu);
    checkMockIova(BUFFER_VA, MOCK_APERTURE_START, BUFFER_SIZE);
    sim.ok({ type: "iopt.access.unpin", data: { access, pin: 2 } });
    sim.ok({ type: "iopt.access.destroy", data: { access } });
    sim.ok({ type: "ioas.destroy", data: { ioas: neu } });
  });
});
