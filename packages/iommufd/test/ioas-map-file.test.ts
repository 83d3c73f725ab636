/**
 * IOMMU_IOAS_MAP_FILE on the byte interface (Linux ioas.c
 * iommufd_ioas_map_file(); the selftest's iommufd_mock_domain "file"
 * variants: test_basic_file, all_aligns, all_aligns_copy, user_copy), and
 * MD_CHECK_MAP / MD_CHECK_REFS / ACCESS_PAGES reading the calling
 * process's memory (`current->mm`, `IoctlEnv.pid`).
 *
 * A memfd is a model file object (`mm.file.create`) that process 100 maps
 * MAP_SHARED; the fd table (`IoctlEnv.fileObject`) gives fd 5 for it.
 */
import { stateHash } from "@iommu-sim/eventlog";
import { checkInvariants } from "@iommu-sim/iopt";
import {
  type Errno,
  errno,
  IOMMU_IOCTL,
  isErrno,
  MOCK_APERTURE_START,
  MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES,
} from "@iommu-sim/uapi";
import { describe, expect, it } from "vitest";
import { AccessFixture } from "./access-fixture";
import { Fixture, view } from "./fixture";
import { bytes } from "./harness";

const PAGE = 4096n;
const MOCK_PAGE = 2048n; // the selftest's MOCK_PAGE_SIZE: half a CPU page
const FILE = 7; // model file object id
const MFD = 5; // the program's memfd number
const BUF_PAGES = 8n; // the fixture's mmap_buf_size: PAGE_SIZE * 8
const EBADF = -9;
const ENOENT = -2;
const EINVAL = -22;
const EOVERFLOW = -75;
const EOPNOTSUPP = -95;
const ENOMEM = -12;
const READ_WRITE = 2 | 4; // IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_READABLE
const U64_MAX = (1n << 64n) - 1n;

/** The mock-domain fixture plus a memfd of `pages` pages mapped MAP_SHARED by process 100 at `buf`. */
class FileFixture extends Fixture {
  buf: bigint;

  constructor(mockDomains: number, pages = BUF_PAGES) {
    super(mockDomains);
    must(this.log.dispatch({ type: "mm.file.create", data: { file: FILE, length: pages * PAGE } }));
    const m = must(
      this.log.dispatch({
        type: "mm.mmap",
        data: { pid: 100, length: pages * PAGE, prot: 3, shared: true, file: FILE, offset: 0n },
      }),
    );
    this.buf = (m[0]!.data as { addr: bigint }).addr;
    this.fd.files = new Map([[MFD, FILE]]);
  }

  /** ioctl(IOMMU_IOAS_MAP_FILE) → [rc, iova answered]. */
  mapFile(
    start: bigint,
    length: bigint,
    o: { fd?: number; flags?: number; iova?: bigint; ioas?: number; size?: number } = {},
  ): [number, bigint] {
    const arg = bytes(40, [
      [0, 4, o.size ?? 40],
      [4, 4, o.flags ?? READ_WRITE],
      [8, 4, o.ioas ?? this.ioas],
      [12, 4, o.fd ?? MFD],
      [16, 8, start],
      [24, 8, length],
      [32, 8, o.iova ?? 0n],
    ]);
    const rc = this.fd.ioctl(IOMMU_IOCTL.IOMMU_IOAS_MAP_FILE, arg);
    return [rc, view(arg).getBigUint64(32, true)];
  }
}

function must<T>(r: T | Errno): T {
  if (isErrno(r)) throw new Error(`${r}`);
  return r;
}

describe("IOMMU_IOAS_MAP_FILE", () => {
  it("maps a memfd page at the first free IOVA; MD_CHECK_MAP finds the memfd's page behind it (test_basic_file)", () => {
    const f = new FileFixture(1);
    const [rc, iova] = f.mapFile(0n, PAGE);
    expect(rc).toBe(0);
    expect(iova).toBe(BigInt(MOCK_APERTURE_START));
    expect(f.checkMap(iova, PAGE, f.buf)).toBe(0);
    expect(f.checkRefs(PAGE, 1, f.buf)).toBe(0);
    // A different page of the same file is not what the domain maps.
    expect(f.checkMap(iova, PAGE, f.buf + PAGE)).toBe(EINVAL);
    expect(checkInvariants(f.log.peek() as never)).toEqual([]);
  });

  it("pinning at or past the end of the file is EINVAL (test_basic_file: buf_size + 1)", () => {
    const f = new FileFixture(1);
    const before = stateHash(f.log.state);
    expect(f.mapFile(0n, BUF_PAGES * PAGE + 1n)[0]).toBe(EINVAL);
    expect(f.mapFile(BUF_PAGES * PAGE, PAGE)[0]).toBe(EINVAL);
    expect(stateHash(f.log.state)).toBe(before);
    expect(f.checkRefs(BUF_PAGES * PAGE, 0, f.buf)).toBe(0);
  });

  it("without a domain nothing is pinned at map time, so a range past the end maps (as Linux)", () => {
    const f = new FileFixture(0);
    expect(f.mapFile(0n, BUF_PAGES * PAGE + PAGE)[0]).toBe(0);
  });

  it("checks in iommufd_ioas_map_file()'s order: flags, EOVERFLOW, no access, IOAS, fd", () => {
    const f = new FileFixture(1);
    expect(f.mapFile(0n, PAGE, { flags: 1 << 3, ioas: 999, fd: 99 })[0]).toBe(EOPNOTSUPP);
    expect(f.mapFile(0n, U64_MAX, { flags: 0, ioas: 999, fd: 99 })[0]).toBe(EOVERFLOW);
    expect(f.mapFile(0n, PAGE, { iova: U64_MAX, ioas: 999 })[0]).toBe(EOVERFLOW);
    expect(f.mapFile(0n, PAGE, { flags: 0, ioas: 999, fd: 99 })[0]).toBe(EINVAL);
    expect(f.mapFile(0n, PAGE, { ioas: 999, fd: 99 })[0]).toBe(ENOENT);
    expect(f.mapFile(0n, PAGE, { fd: 99 })[0]).toBe(EBADF);
    expect(f.mapFile(0n, 0n)[0]).toBe(EINVAL); // zero length, in iopt
    expect(f.mapFile(U64_MAX, 2n)[0]).toBe(EOVERFLOW); // start + length − 1 wraps
    expect(f.mapFile(0n, PAGE, { size: 39 })[0]).toBe(EINVAL); // below offsetofend(iova)
  });

  it("an fd that is not a memfd answers the fd table's errno; no fd table at all is EBADF", () => {
    const f = new FileFixture(1);
    f.fd.files!.set(3, errno("EINVAL", "not shmem"));
    expect(f.mapFile(0n, PAGE, { fd: 3 })[0]).toBe(EINVAL);
    f.fd.files = undefined;
    expect(f.mapFile(0n, PAGE)[0]).toBe(EBADF);
  });

  it("a FIXED_IOVA map lands at the IOVA asked for and answers it back", () => {
    const f = new FileFixture(1);
    const at = BigInt(MOCK_APERTURE_START) + 0x10_0000n;
    const [rc, iova] = f.mapFile(PAGE, 2n * PAGE, { flags: READ_WRITE | 1, iova: at });
    expect(rc).toBe(0);
    expect(iova).toBe(at);
    expect(f.checkMap(at, 2n * PAGE, f.buf + PAGE)).toBe(0);
  });

  it("every start and length at MOCK_PAGE_SIZE granularity maps the file's pages (all_aligns, file variant)", () => {
    const f = new FileFixture(1, 4n);
    const size = 4n * PAGE;
    expect(f.checkRefs(size, 0, f.buf)).toBe(0);
    for (let start = 0n; start < size; start += MOCK_PAGE) {
      for (let end = start + MOCK_PAGE; end < size; end += MOCK_PAGE) {
        const length = end - start;
        const [rc, iova] = f.mapFile(start, length);
        expect(rc).toBe(0);
        expect(f.checkMap(iova, length, f.buf + start)).toBe(0);
        const first = (start / PAGE) * PAGE;
        const last = (end / PAGE) * PAGE;
        if (last > first) expect(f.checkRefs(last - first, 1, f.buf + first)).toBe(0);
        expect(f.unmap(iova, length)).toBe(0);
      }
    }
    expect(f.checkRefs(size, 0, f.buf)).toBe(0);
    expect(checkInvariants(f.log.peek() as never)).toEqual([]);
  });

  it("a second mock domain added while the file area exists maps the same pages (all_aligns_copy)", () => {
    const f = new FileFixture(1, 2n);
    const [rc, iova] = f.mapFile(MOCK_PAGE, PAGE);
    expect(rc).toBe(0);
    const [rc2, [, hwpt2]] = f.mockDomain(f.ioas);
    expect(rc2).toBe(0);
    const first = f.hwpt;
    f.hwpt = hwpt2;
    expect(f.checkMap(iova, PAGE, f.buf + MOCK_PAGE)).toBe(0);
    f.hwpt = first;
    expect(f.checkMap(iova, PAGE, f.buf + MOCK_PAGE)).toBe(0);
  });

  it("a failure at any fallible step leaves the state as it was (fail-nth)", () => {
    const sites: string[] = [];
    for (let n = 1; n < 20; n++) {
      const f = new FileFixture(1);
      const before = stateHash(f.log.state);
      f.log.failNth(n);
      const [rc, iova] = f.mapFile(0n, 2n * PAGE);
      if (!f.log.lastSteps.fired) {
        expect(rc).toBe(0);
        expect(f.checkMap(iova, 2n * PAGE, f.buf)).toBe(0);
        break;
      }
      expect(rc).toBe(ENOMEM);
      expect(stateHash(f.log.state)).toBe(before);
      sites.push(f.log.lastSteps.sites.at(-1)!);
    }
    expect(sites.length).toBeGreaterThan(0);
  });
});

describe("MD_CHECK_MAP / MD_CHECK_REFS read the caller's memory (current->mm)", () => {
  it("a call made by another process checks that process's pages, not the opener's", () => {
    const f = new Fixture(1);
    // Process 200 (a forked child, say) maps its own private page at an address process 100 lacks.
    must(f.log.dispatch({ type: "mm.spawn", data: { pid: 200 } }));
    const childVa = 0x10_0000_0000n; // 64 GiB: far below process 100's top-down mmaps
    must(
      f.log.dispatch({
        type: "mm.mmap",
        data: { pid: 200, addr: childVa, length: PAGE, prot: 3, shared: false },
      }),
    );
    const opener100 = f.log.peek().mm.processes.get(100)!;
    const mappedIn100 = opener100.vmas.some((v) => BigInt(v.start) <= childVa && childVa < BigInt(v.end));
    expect(mappedIn100).toBe(false);
    // Through the opener: the address is not mapped → EFAULT (check_refs walks user memory).
    expect(f.checkRefs(PAGE, 0, childVa)).toBe(-14);
    f.fd.callerPid = 200;
    expect(f.checkRefs(PAGE, 0, childVa)).toBe(0);
    // The child maps its page through the inherited fd: pinned for process 200, so refs 1 and MD_CHECK_MAP hold.
    const [rc, iova] = f.map(PAGE, 0n, false, childVa);
    expect(rc).toBe(0);
    expect(f.checkRefs(PAGE, 1, childVa)).toBe(0);
    expect(f.checkMap(iova, PAGE, childVa)).toBe(0);
    // The opener's view of the same VA still faults.
    f.fd.callerPid = undefined;
    expect(f.checkMap(iova, PAGE, childVa)).toBe(-14);
  });
});

describe("IOMMU_TEST_OP_ACCESS_PAGES checks uptr in the caller's memory (iommufd_test_check_pages: current->mm)", () => {
  it("pages a forked child mapped are compared with the child's memory when the child calls", () => {
    const f = new AccessFixture(0);
    must(f.log.dispatch({ type: "mm.spawn", data: { pid: 200 } }));
    const childVa = 0x10_0000_0000n;
    must(
      f.log.dispatch({
        type: "mm.mmap",
        data: { pid: 200, addr: childVa, length: PAGE, prot: 3, shared: false },
      }),
    );
    f.fd.callerPid = 200;
    const [rc, iova] = f.map(PAGE, 0n, false, childVa);
    expect(rc).toBe(0);
    const [rcA, access] = f.createAccess(f.ioas, MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES);
    expect(rcA).toBe(0);
    expect(f.accessPages(access, iova, PAGE, childVa)[0]).toBe(0);
    // The same call made by the opener: its memory has nothing at that VA (EFAULT).
    f.fd.callerPid = undefined;
    expect(f.accessPages(access, iova, PAGE, childVa)[0]).toBe(-14);
  });
});
