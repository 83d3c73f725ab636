/**
 * The selftest access ops on the byte interface, ported from
 * tools/testing/selftests/iommu/iommufd.c FIXTURE(iommufd_ioas) —
 * access_pin, access_pin_unmap, access_rw, access_rw_unaligned — in the
 * no_domain, mock_domain and two_mock_domain variants, plus the errnos of
 * drivers/iommu/iommufd/selftest.c and device.c for each op, the access
 * fd's lifetime (release, close of the context) and fd resolution.
 * BUFFER_SIZE is the selftest's PAGE_SIZE * 16.
 */
import { checkInvariants } from "@iommu-sim/iopt";
import {
  IOMMU_IOCTL,
  IOMMU_TEST_OP,
  MOCK_ACCESS_RW_SLOW_PATH,
  MOCK_ACCESS_RW_WRITE,
  MOCK_APERTURE_START,
  MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES,
  MOCK_FLAGS_ACCESS_SYZ,
  MOCK_FLAGS_ACCESS_WRITE,
} from "@iommu-sim/uapi";
import { describe, expect, it } from "vitest";
import { AccessFixture, firstDifference, prng, randomBytes } from "./access-fixture";
import { bytes } from "./harness";

const PAGE = 4096n;
const BUFFER_SIZE = 16n * PAGE;
const START = BigInt(MOCK_APERTURE_START);
const NEEDS_PIN = MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES;
const ENOENT = -2;
const ENOMEM = -12;
const EFAULT = -14;
const EBUSY = -16;
const EINVAL = -22;
const EBADE = -52;
const EBADFD = -77;
const EOPNOTSUPP = -95;
const EPERM = -1;

function invariantsHold(f: AccessFixture): void {
  expect(checkInvariants(f.log.state as never)).toEqual([]);
}

/** check_access_rw() of iommufd.c: byte-exact reads and writes around a page boundary, then one multi-page read. */
function checkAccessRw(f: AccessFixture, fd: number, iova: bigint, defFlags: number): void {
  const rand = prng(7);
  const tmp = f.userAlloc(PAGE);
  f.writeUser(f.buffer, randomBytes(rand, Number(BUFFER_SIZE)));
  for (let at = iova + PAGE - 50n; at < iova + PAGE + 50n; at += 7n) {
    for (let length = 1n; length < 64n; length += 5n) {
      expect(f.accessRw(fd, at, length, tmp, defFlags)).toBe(0);
      expect(
        firstDifference(f.readUser(tmp, Number(length)), f.readUser(f.buffer + (at - iova), Number(length))),
      ).toBe(-1);
      f.writeUser(tmp, randomBytes(rand, 64));
      expect(f.accessRw(fd, at, length, tmp, defFlags | MOCK_ACCESS_RW_WRITE)).toBe(0);
      expect(
        firstDifference(f.readUser(f.buffer + (at - iova), Number(length)), f.readUser(tmp, Number(length))),
      ).toBe(-1);
    }
  }
  const tmp2 = f.userAlloc(BUFFER_SIZE);
  expect(f.accessRw(fd, iova, BUFFER_SIZE, tmp2, defFlags)).toBe(0);
  expect(
    firstDifference(f.readUser(tmp2, Number(BUFFER_SIZE)), f.readUser(f.buffer, Number(BUFFER_SIZE))),
  ).toBe(-1);
}

describe.each([
  ["no_domain", 0],
  ["mock_domain", 1],
  ["two_mock_domain", 2],
])("iommufd_ioas (%s): accesses", (_variant, mockDomains) => {
  it("access_pin: single, double user, and a domain added and removed under a pin", () => {
    const f = new AccessFixture(mockDomains);
    const [rc, fd] = f.createAccess(f.ioas, NEEDS_PIN);
    expect(rc).toBe(0);
    for (let npages = 1n; npages < BUFFER_SIZE / PAGE; npages += 3n) {
      const length = npages * PAGE;
      expect(f.map(BUFFER_SIZE, START)[0]).toBe(0);
      const [rc1, id1] = f.accessPages(fd, START, length, f.buffer);
      expect(rc1).toBe(0);
      expect(f.checkRefs(length, 1)).toBe(0);
      expect(f.destroyAccessPages(fd, id1)).toBe(0);
      // Double user: the pages stay pinned once (one iopt_pages).
      const [, id2] = f.accessPages(fd, START, length, f.buffer);
      const [, id3] = f.accessPages(fd, START, length, f.buffer);
      expect(id3).toBe(id2 + 1);
      expect(f.checkRefs(length, 1)).toBe(0);
      expect(f.destroyAccessPages(fd, id3)).toBe(0);
      expect(f.destroyAccessPages(fd, id2)).toBe(0);
      if (mockDomains === 0) expect(f.checkRefs(length, 0)).toBe(0);
      // Add/remove a domain with a user.
      const [, id4] = f.accessPages(fd, START, length, f.buffer);
      const [rcd, [stdev, hwpt]] = f.mockDomain(f.ioas);
      expect(rcd).toBe(0);
      f.hwpt = hwpt;
      expect(f.checkMap(START, BUFFER_SIZE)).toBe(0);
      expect(f.destroy(stdev)).toBe(0);
      expect(f.destroyAccessPages(fd, id4)).toBe(0);
      expect(f.unmap(START, BUFFER_SIZE)).toBe(0);
      invariantsHold(f);
    }
    f.closeAccess(fd);
    expect(f.log.state.iopt.accesses.size).toBe(0);
    invariantsHold(f);
  });

  it("access_pin_unmap: an unmap under a pin removes the item", () => {
    const f = new AccessFixture(mockDomains);
    const [, fd] = f.createAccess(f.ioas, NEEDS_PIN);
    expect(f.map(BUFFER_SIZE, START)[0]).toBe(0);
    const [rc, id] = f.accessPages(fd, START, BUFFER_SIZE, f.buffer);
    expect(rc).toBe(0);
    expect(f.unmap(START, BUFFER_SIZE)).toBe(0);
    expect(f.destroyAccessPages(fd, id)).toBe(ENOENT);
    expect(f.checkRefs(BUFFER_SIZE, 0)).toBe(0);
    invariantsHold(f);
  });

  it("access_rw: reads and writes through the IOAS, fast and slow path", () => {
    const f = new AccessFixture(mockDomains);
    const [, fd] = f.createAccess(f.ioas, 0);
    const [rc, iova] = f.map(BUFFER_SIZE, 0n, false);
    expect(rc).toBe(0);
    checkAccessRw(f, fd, iova, 0);
    checkAccessRw(f, fd, iova, MOCK_ACCESS_RW_SLOW_PATH);
    expect(f.unmap(iova, BUFFER_SIZE)).toBe(0);
    f.closeAccess(fd);
    invariantsHold(f);
  });

  it("access_rw_unaligned: an area starting half way into a page", () => {
    const f = new AccessFixture(mockDomains);
    const [, fd] = f.createAccess(f.ioas, 0);
    const iova = (mockDomains > 0 ? START : 0n) + 2048n; // base_iova + MOCK_PAGE_SIZE
    expect(f.map(BUFFER_SIZE, iova)[0]).toBe(0);
    checkAccessRw(f, fd, iova, 0);
    expect(f.unmap(iova, BUFFER_SIZE)).toBe(0);
    f.closeAccess(fd);
    invariantsHold(f);
  });
});

describe("iommufd_mock_domain (two_domains): access_domain_destory", () => {
  it("a pin outliving one of two domains is unpinned cleanly afterwards", () => {
    const f = new AccessFixture(2);
    const [stdev2] = [f.stdev];
    expect(f.map(16n * PAGE, START)[0]).toBe(0);
    const [, fd] = f.createAccess(f.ioas, NEEDS_PIN);
    const [rc, id] = f.accessPages(fd, START + PAGE, PAGE, f.buffer + PAGE);
    expect(rc).toBe(0);
    expect(f.destroy(stdev2)).toBe(0); // the second device and its domain go under the pin
    invariantsHold(f);
    expect(f.destroyAccessPages(fd, id)).toBe(0);
    f.closeAccess(fd);
    expect(f.checkRefs(16n * PAGE, 1)).toBe(0); // the first domain still pins every page once
    invariantsHold(f);
  });
});

describe("access object and fd", () => {
  it("takes the next object id; IOMMU_DESTROY of it and of its IOAS is EBUSY; release frees both", () => {
    const f = new AccessFixture(0);
    const [rc, fd] = f.createAccess(f.ioas, NEEDS_PIN);
    expect(rc).toBe(0);
    expect(fd).toBe(2); // no fd table: the object id, after IOAS 1
    expect(f.destroy(fd)).toBe(EBUSY);
    expect(f.destroy(f.ioas)).toBe(EBUSY);
    expect(f.map(4n * PAGE, START)[0]).toBe(0);
    expect(f.accessPages(fd, START, 4n * PAGE, f.buffer)).toEqual([0, 0]);
    f.closeAccess(fd);
    expect(f.checkRefs(4n * PAGE, 0)).toBe(0);
    expect(f.ioasAlloc()).toBe(2); // the access's id is free again
    expect(f.destroy(f.ioas)).toBe(0);
  });

  it("with an fd table: out_access_fd is the installed fd, other fds are EBADFD", () => {
    const f = new AccessFixture(0, true);
    const [rc, fd] = f.createAccess(f.ioas, NEEDS_PIN);
    expect(rc).toBe(0);
    expect(fd).toBe(3);
    expect(f.files.get(3)).toEqual({ kind: "access", ctx: f.fd.ctx, id: 2 });
    expect(f.map(2n * PAGE, START)[0]).toBe(0);
    expect(f.accessPages(2, START, PAGE, f.buffer)[0]).toBe(EBADFD); // the object id is no fd
    expect(f.accessPages(fd, START, PAGE, f.buffer)).toEqual([0, 0]);
    expect(f.accessRw(9, START, 8n, f.buffer)).toBe(EBADFD);
    f.closeAccess(fd);
    expect(f.accessPages(fd, START, PAGE, f.buffer)[0]).toBe(EBADFD);
    expect(f.checkRefs(2n * PAGE, 0)).toBe(0);
  });

  it("item ids count from 0 and are never reused", () => {
    const f = new AccessFixture(1);
    const [, fd] = f.createAccess(f.ioas, NEEDS_PIN);
    expect(f.map(8n * PAGE, START)[0]).toBe(0);
    expect(f.accessPages(fd, START, PAGE, f.buffer)).toEqual([0, 0]);
    expect(f.accessPages(fd, START + PAGE, PAGE, f.buffer + PAGE)).toEqual([0, 1]);
    expect(f.destroyAccessPages(fd, 1)).toBe(0);
    expect(f.destroyAccessPages(fd, 1)).toBe(ENOENT);
    expect(f.accessPages(fd, START, 2n * PAGE, f.buffer)).toEqual([0, 2]);
  });

  it("closing the context with an access left unpins and destroys everything", () => {
    const f = new AccessFixture(1);
    const [, fd] = f.createAccess(f.ioas, NEEDS_PIN);
    expect(f.map(8n * PAGE, START)[0]).toBe(0);
    expect(f.accessPages(fd, START, 8n * PAGE, f.buffer)[0]).toBe(0);
    f.fd.close();
    const s = f.log.state;
    expect(s.iopt.accesses.size).toBe(0);
    expect(s.iopt.ioas.size).toBe(0);
    expect(s.iopt.pages.size).toBe(0);
    expect(f.fd.user.read(f.buffer, 1)).not.toBeInstanceOf(Error);
    invariantsHold(f);
    // The fd's release after the context went: nothing left to do, no error.
    const before = f.log.state;
    f.closeAccess(fd);
    expect(f.log.state.iommufd).toBe(before.iommufd);
  });

  it("ACCESS_REPLACE_IOAS drops every item and moves the IOAS users reference", () => {
    const f = new AccessFixture(0);
    const ioas2 = f.ioasAlloc();
    const [, fd] = f.createAccess(f.ioas, NEEDS_PIN);
    expect(f.map(4n * PAGE, START)[0]).toBe(0);
    const [, id] = f.accessPages(fd, START, 4n * PAGE, f.buffer);
    expect(f.replaceIoas(fd, 99)).toBe(ENOENT);
    expect(f.replaceIoas(fd, ioas2)).toBe(0);
    expect(f.destroyAccessPages(fd, id)).toBe(ENOENT);
    expect(f.checkRefs(4n * PAGE, 0)).toBe(0);
    expect(f.destroy(ioas2)).toBe(EBUSY);
    expect(f.unmap(START, 4n * PAGE)).toBe(0);
    expect(f.destroy(f.ioas)).toBe(0);
    invariantsHold(f);
  });
});

describe("access op errnos (selftest.c, device.c)", () => {
  const pinned = () => {
    const f = new AccessFixture(0);
    const [, fd] = f.createAccess(f.ioas, NEEDS_PIN);
    expect(f.map(4n * PAGE, START)[0]).toBe(0);
    return { f, fd };
  };

  it("CREATE_ACCESS: unknown flags EOPNOTSUPP, no IOAS ENOENT", () => {
    const f = new AccessFixture(0);
    expect(f.createAccess(f.ioas, 2)[0]).toBe(EOPNOTSUPP);
    expect(f.createAccess(77, 0)[0]).toBe(ENOENT);
    expect(f.log.state.iopt.accesses.size).toBe(0);
  });

  it("ACCESS_PAGES: flags, needs-pin, length, alignment, holes, uptr", () => {
    const { f, fd } = pinned();
    expect(f.accessPages(fd, START, 16n * 1024n * 1024n + 1n, 0n)[0]).toBe(ENOMEM);
    expect(f.accessPages(fd, START, PAGE, 0n, 4)[0]).toBe(EOPNOTSUPP);
    const [, plain] = f.createAccess(f.ioas, 0);
    expect(f.accessPages(plain, START, PAGE, 0n)[0]).toBe(EOPNOTSUPP);
    expect(f.accessPages(fd, START, 0n, 0n)[0]).toBe(EINVAL);
    expect(f.accessPages(fd, 2n ** 64n - PAGE, 2n * PAGE, 0n)[0]).toBe(-75); // EOVERFLOW
    expect(f.accessPages(fd, START + 2048n, PAGE, 0n)[0]).toBe(EINVAL);
    expect(f.accessPages(fd, START, 5n * PAGE, 0n)[0]).toBe(ENOENT);
    expect(f.accessPages(fd, START, PAGE, f.buffer + PAGE)[0]).toBe(EBADE);
    expect(f.accessPages(fd, START, PAGE, 0n)).toEqual([0, 0]); // uptr 0 skips the check
    expect(f.accessPages(fd, START, PAGE, f.buffer, MOCK_FLAGS_ACCESS_WRITE)).toEqual([0, 1]);
    invariantsHold(f);
  });

  it("ACCESS_PAGES with SYZ: iova is {nth area, offset}", () => {
    const { f, fd } = pinned();
    expect(f.map(PAGE, START + 8n * PAGE)[0]).toBe(0);
    const syz = (1n << 0n) | (0n << 32n); // area 1, offset 0
    expect(f.accessPages(fd, syz, PAGE, f.buffer, MOCK_FLAGS_ACCESS_SYZ)).toEqual([0, 0]);
    expect(f.log.state.iopt.accesses.values().next().value?.pins.get(0)?.iova).toBe(START + 8n * PAGE);
  });

  it("ACCESS_PAGES and ACCESS_RW write on a read-only area: EPERM", () => {
    const f = new AccessFixture(0);
    const [, fd] = f.createAccess(f.ioas, NEEDS_PIN);
    const arg = bytes(40, [
      [0, 4, 40],
      [4, 4, 1 | 4], // FIXED_IOVA | READABLE
      [8, 4, f.ioas],
      [16, 8, f.buffer],
      [24, 8, PAGE],
      [32, 8, START],
    ]);
    expect(f.fd.ioctl(IOMMU_IOCTL.IOMMU_IOAS_MAP, arg)).toBe(0);
    expect(f.accessPages(fd, START, PAGE, f.buffer, MOCK_FLAGS_ACCESS_WRITE)[0]).toBe(EPERM);
    expect(f.accessRw(fd, START, 8n, f.buffer, MOCK_ACCESS_RW_WRITE)).toBe(EPERM);
    expect(f.accessRw(fd, START, 8n, f.buffer + PAGE)).toBe(0);
  });

  it("ACCESS_RW: flags, length, holes, faults", () => {
    const { f, fd } = pinned();
    expect(f.accessRw(fd, START, 16n * 1024n * 1024n + 1n, f.buffer)).toBe(ENOMEM);
    expect(f.accessRw(fd, START, 8n, f.buffer, 2)).toBe(EOPNOTSUPP);
    expect(f.accessRw(fd, START, 0n, f.buffer)).toBe(EINVAL);
    expect(f.accessRw(fd, START + 4n * PAGE - 4n, 8n, f.buffer)).toBe(ENOENT);
    expect(f.accessRw(fd, START, 8n, 0n)).toBe(EFAULT);
    expect(f.accessRw(fd, START, 8n, 0n, MOCK_ACCESS_RW_WRITE)).toBe(EFAULT);
  });

  it("DESTROY_ACCESS_PAGES and REPLACE_IOAS on a non-access id: EBADFD", () => {
    const { f } = pinned();
    expect(f.destroyAccessPages(f.ioas, 0)).toBe(EBADFD);
    expect(f.replaceIoas(f.ioas, f.ioas)).toBe(EBADFD);
  });

  it("SET_TEMP_MEMORY_LIMIT: below 12 bytes EINVAL", () => {
    const f = new AccessFixture(0);
    const limit = (n: number) => f.test(IOMMU_TEST_OP.IOMMU_TEST_OP_SET_TEMP_MEMORY_LIMIT, 0, [[0, 4, n]])[0];
    expect(limit(11)).toBe(EINVAL);
    expect(limit(12)).toBe(0);
    expect(limit(32)).toBe(0);
  });
});
