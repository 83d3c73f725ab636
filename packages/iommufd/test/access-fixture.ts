/**
 * The iommufd_ioas fixture with the selftest's access helpers
 * (tools/testing/selftests/iommu/iommufd_utils.h: test_cmd_create_access,
 * test_cmd_destroy_access_pages, test_cmd_destroy_access = close(fd)), on
 * the byte interface. With `fdTable` the env installs access fds in a
 * small fd table from 3 up (as a process's would be) and resolves them
 * through `fileOf`; without it the fd is the access's object id.
 */
import { IOMMU_TEST_OP, isErrno } from "@iommu-sim/uapi";
import { iommufdFileRelease } from "../src/files";
import type { IommufdFile } from "../src/index";
import { Fixture, view } from "./fixture";

const OP = IOMMU_TEST_OP;

export class AccessFixture extends Fixture {
  /** The fd table of process 100 (fdTable mode). */
  readonly files = new Map<number, IommufdFile>();
  private nextFd = 3;

  constructor(
    mockDomains: number,
    readonly fdTable = false,
  ) {
    super(mockDomains);
    const base = this.fd.env.bind(this.fd);
    this.fd.env = () => {
      const env = base();
      if (!this.fdTable) return env;
      return {
        ...env,
        installFd: (file: IommufdFile) => {
          const fd = this.nextFd++;
          this.files.set(fd, file);
          return fd;
        },
        fileOf: (fd: number) => this.files.get(fd),
      };
    };
  }

  /** IOMMU_TEST_OP_CREATE_ACCESS → [rc, out_access_fd]. */
  createAccess(ioasId: number, flags: number): [number, number] {
    const [rc, arg] = this.test(OP.IOMMU_TEST_OP_CREATE_ACCESS, ioasId, [[4, 4, flags]]);
    return [rc, view(arg).getUint32(16, true)];
  }

  /** IOMMU_TEST_OP_ACCESS_PAGES → [rc, out_access_pages_id]. */
  accessPages(fd: number, iova: bigint, length: bigint, uptr: bigint, flags = 0): [number, number] {
    const [rc, arg] = this.test(OP.IOMMU_TEST_OP_ACCESS_PAGES, fd, [
      [0, 4, flags],
      [8, 8, iova],
      [16, 8, length],
      [24, 8, uptr],
    ]);
    return [rc, view(arg).getUint32(20, true)];
  }

  /** IOMMU_TEST_OP_DESTROY_ACCESS_PAGES. */
  destroyAccessPages(fd: number, item: number): number {
    return this.test(OP.IOMMU_TEST_OP_DESTROY_ACCESS_PAGES, fd, [[0, 4, item]])[0];
  }

  /** IOMMU_TEST_OP_ACCESS_RW. */
  accessRw(fd: number, iova: bigint, length: bigint, uptr: bigint, flags = 0): number {
    return this.test(OP.IOMMU_TEST_OP_ACCESS_RW, fd, [
      [0, 8, iova],
      [8, 8, length],
      [16, 8, uptr],
      [24, 4, flags],
    ])[0];
  }

  /** IOMMU_TEST_OP_ACCESS_REPLACE_IOAS. */
  replaceIoas(fd: number, ioasId: number): number {
    return this.test(OP.IOMMU_TEST_OP_ACCESS_REPLACE_IOAS, fd, [[0, 4, ioasId]])[0];
  }

  /** close(access fd): the file's release. */
  closeAccess(fd: number): void {
    const file = this.fdTable ? this.files.get(fd)! : { kind: "access" as const, ctx: this.fd.ctx, id: fd };
    this.files.delete(fd);
    iommufdFileRelease(this.fd.env(), file);
  }

  /** A private anonymous mapping of `length` bytes in process 100. */
  userAlloc(length: bigint): bigint {
    const m = this.log.dispatch({ type: "mm.mmap", data: { pid: 100, length, prot: 3, shared: false } });
    if (isErrno(m)) throw new Error(`${m}`);
    return (m[0]!.data as { addr: bigint }).addr;
  }

  writeUser(va: bigint, bytes: Uint8Array): void {
    const e = this.fd.user.write(va, bytes);
    if (e) throw new Error(`${e}`);
  }

  readUser(va: bigint, length: number): Uint8Array {
    const r = this.fd.user.read(va, length);
    if (isErrno(r)) throw new Error(`${r}`);
    return r;
  }
}

/** A seeded PRNG (mulberry32) for byte patterns: tests stay deterministic. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** `n` pseudo-random bytes. */
export function randomBytes(next: () => number, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(next() * 256);
  return b;
}

/**
 * The first index where `a` and `b` differ (or the shorter length), −1 when
 * equal: a fast byte comparison (deep equality of large typed arrays is slow).
 */
export function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}
