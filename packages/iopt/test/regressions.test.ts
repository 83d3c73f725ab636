/**
 * Regression tests for the bugs behind the fixes in seeds/002 (Linux
 * iommufd history). Each scenario checks exact pin counts and domain
 * contents, so a model that unpins the wrong range, drops or repeats a
 * frame at a boundary, or accepts a wrapping user VA fails it.
 */
import { isErrno } from "@iommu-sim/uapi";
import { describe, expect, it } from "vitest";
import { accessPinFrames, accessRead, lookupPage } from "../src/index";
import { BUFFER_VA, MOCK_APERTURE_START, PAGE, RW, Sim, U64_MAX } from "./fixture";

const HUGEPAGE = 2n * 1024n * 1024n;

describe("seed 002 regressions", () => {
  it("e439570133 'Check for uptr overflow': a user VA that wraps past zero is EOVERFLOW, nothing created", () => {
    const sim = new Sim();
    const ioas = sim.ioasAlloc();
    sim.mockDomain(ioas);
    expect(sim.mapErr(ioas, U64_MAX - PAGE + 1n, 2n * PAGE)).toBe("EOVERFLOW");
    expect(sim.mapErr(ioas, U64_MAX, 2n)).toBe("EOVERFLOW");
    // check_add_overflow(uptr, length, &end): an end of exactly 2^64 does not fit either.
    expect(sim.mapErr(ioas, U64_MAX - PAGE + 1n, PAGE)).toBe("EOVERFLOW");
    // One byte less fits the check and fails later, when pinning finds no VMA.
    expect(sim.mapErr(ioas, U64_MAX - PAGE + 1n, PAGE / 2n)).toBe("EFAULT");
    const noDomain = sim.ioasAlloc();
    expect(sim.mapErr(noDomain, U64_MAX - PAGE + 1n, 2n * PAGE)).toBe("EOVERFLOW");
    expect(sim.state.iopt.pages.size).toBe(0);
  });

  it("727c28c1ce 'Fix unpinning of pages when an access is present': domain removal keeps exactly the access's pages", () => {
    // iommufd_ioas.access_domain_destory: two huge pages mapped, an access pins one page after the first.
    const sim = new Sim();
    const ioas = sim.ioasAlloc();
    const domain = sim.mockDomain(ioas);
    const size = 2n * HUGEPAGE;
    const buf = sim.mmap(size, { shared: true, addr: 0x7d00_0000_0000n });
    sim.map(ioas, buf, size, MOCK_APERTURE_START);
    const access = sim.id();
    sim.ok({ type: "iopt.access.create", data: { access, ioas } });
    sim.ok({
      type: "iopt.access.pin",
      data: { access, pin: 1, iova: MOCK_APERTURE_START + PAGE, length: PAGE, write: true },
    });
    sim.checkRefs(buf, size, 1);
    // Causes a complicated unpin across a huge page boundary
    sim.destroyDomain(ioas, domain);
    sim.checkRefs(buf, PAGE, 0);
    sim.checkRefs(buf + PAGE, PAGE, 1);
    sim.checkRefs(buf + 2n * PAGE, size - 2n * PAGE, 0);
    sim.ok({ type: "iopt.access.unpin", data: { access, pin: 1 } });
    sim.checkRefs(buf, size, 0);
    sim.ok({ type: "iopt.access.destroy", data: { access } });
  });

  it("727c28c1ce: unmapping while an access holds pages in the middle unpins everything, once", () => {
    const sim = new Sim();
    const ioas = sim.ioasAlloc();
    sim.mockDomain(ioas);
    const size = 64n * PAGE;
    const buf = sim.mmap(size, { shared: true });
    sim.map(ioas, buf, size, MOCK_APERTURE_START);
    const access = sim.id();
    sim.ok({ type: "iopt.access.create", data: { access, ioas } });
    sim.ok({
      type: "iopt.access.pin",
      data: { access, pin: 1, iova: MOCK_APERTURE_START + 5n * PAGE, length: 3n * PAGE, write: false },
    });
    sim.ok({
      type: "iopt.access.pin",
      data: { access, pin: 2, iova: MOCK_APERTURE_START + 6n * PAGE, length: 40n * PAGE, write: false },
    });
    sim.checkRefs(buf, size, 1);
    expect(sim.unmap(ioas, MOCK_APERTURE_START, size)).toBe(size);
    sim.checkRefs(buf, size, 0);
    expect(sim.state.iopt.accesses.get(access)!.pins.size).toBe(0);
    expect(sim.state.iopt.userLocked.get(1000) ?? 0).toBe(0);
  });

  it("13a0d1ae7e / b7c822fa6b batch carry: frames stay exact across table and run boundaries", () => {
    // Frames made non-contiguous: pages of two buffers are faulted in alternately, so the
    // PFN runs of one buffer have length 1 and the 512-entry table boundary falls mid-range.
    const sim = new Sim();
    const ioas = sim.ioasAlloc();
    const npages = 1100n;
    const a = sim.mmap(npages * PAGE, { shared: false, addr: 0x7c00_0000_0000n });
    const b = sim.mmap(npages * PAGE, { shared: false, addr: 0x7b00_0000_0000n });
    for (let i = 0n; i < npages; i++) {
      sim.write(a + i * PAGE, new Uint8Array([Number(i & 0xffn), 1]));
      if (i % 3n !== 0n) sim.write(b + i * PAGE, new Uint8Array([2]));
    }
    const iova = sim.map(ioas, a + 100n * PAGE, 1000n * PAGE, MOCK_APERTURE_START);
    const access = sim.id();
    sim.ok({ type: "iopt.access.create", data: { access, ioas } });
    // An access holds a range straddling the 512-page table boundary of `a` (pages 500..530).
    sim.ok({
      type: "iopt.access.pin",
      data: { access, pin: 1, iova: iova + 400n * PAGE, length: 31n * PAGE, write: true },
    });
    const frames = accessPinFrames(sim.state, access, 1);
    if (isErrno(frames)) throw new Error(frames.toString());
    for (const [k, pfn] of frames.entries())
      expect(pfn).toBe(lookupPage(sim.state.mm, 1, Number((a + (500n + BigInt(k)) * PAGE) / PAGE)));
    const d1 = sim.mockDomain(ioas);
    const d2 = sim.mockDomain(ioas);
    sim.checkMap(d1, iova, 1000n * PAGE, a + 100n * PAGE);
    sim.destroyDomain(ioas, d1);
    sim.checkMap(d2, iova, 1000n * PAGE, a + 100n * PAGE);
    sim.destroyDomain(ioas, d2);
    sim.checkRefs(a, 500n * PAGE, 0);
    sim.checkRefs(a + 500n * PAGE, 31n * PAGE, 1);
    sim.checkRefs(a + 531n * PAGE, (npages - 531n) * PAGE, 0);
    const bytes = accessRead(sim.state, access, iova + 400n * PAGE, 1);
    expect(bytes).toEqual(new Uint8Array([500 & 0xff]));
  });

  it("a domain attach that fails half way (EFAULT) leaves nothing pinned", () => {
    const sim = new Sim();
    const ioas = sim.ioasAlloc();
    sim.map(ioas, BUFFER_VA, 4n * PAGE, MOCK_APERTURE_START);
    sim.map(ioas, 0x7a00_0000_0000n, PAGE, MOCK_APERTURE_START + 8n * PAGE, RW);
    expect(sim.mockDomainErr(ioas)).toBe("EFAULT");
    sim.checkRefs(BUFFER_VA, 4n * PAGE, 0);
  });
});
