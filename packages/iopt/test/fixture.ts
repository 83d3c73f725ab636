/**
 * Test fixture: a log over mm + iopt + mockDomain that checks every
 * invariant after every committed command, and helpers shaped like the
 * Linux selftest's (tools/testing/selftests/iommu/iommufd_utils.h).
 */
import type { LogRecord } from "@iommu-sim/eventlog";
import {
  type Errno,
  type ErrnoName,
  IOMMU_IOAS_MAP_FIXED_IOVA,
  IOMMU_IOAS_MAP_READABLE,
  IOMMU_IOAS_MAP_WRITEABLE,
  isErrno,
} from "@iommu-sim/uapi";
import {
  checkInvariants,
  createIoptLog,
  type IoptLog,
  type IoptSystemState,
  mappedIova,
  mdCheckMap,
  mdCheckRefs,
  mockDomainDescriptor,
  unmappedLength,
} from "../src/index";

/** PAGE_SIZE of the model (4 KiB). */
export const PAGE = 4096n;
/** The selftest's BUFFER_SIZE: PAGE_SIZE * 16. */
export const BUFFER_SIZE = 16n * PAGE;
/** MOCK_PAGE_SIZE in iommufd.c: PAGE_SIZE / 2. */
export const MOCK_PAGE_SIZE = PAGE / 2n;
/** MOCK_APERTURE_START (iommufd_test.h). */
export const MOCK_APERTURE_START = 1n << 24n;
/** MOCK_APERTURE_LAST. */
export const MOCK_APERTURE_LAST = (1n << 31n) - 1n;
/** The selftest's `buffer`: 2 MiB (HUGEPAGE) aligned, MAP_SHARED | MAP_ANONYMOUS. */
export const BUFFER_VA = 0x7e00_0000_0000n;
/** READABLE | WRITEABLE. */
export const RW = IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE;
/** 2^64 − 1. */
export const U64_MAX = (1n << 64n) - 1n;

type Cmd = Parameters<IoptLog["dispatch"]>[0];

/** A simulated machine with one process (pid 1) owning `buffer`. */
export class Sim {
  readonly log: IoptLog = createIoptLog();
  private nextId = 100;
  pid = 1;

  constructor(opts: { capIpcLock?: boolean; memlockLimit?: bigint; buffer?: boolean } = {}) {
    this.ok({
      type: "mm.spawn",
      data: {
        pid: 1,
        uid: 1000,
        capIpcLock: opts.capIpcLock ?? true,
        ...(opts.memlockLimit === undefined ? {} : { memlockLimit: opts.memlockLimit }),
      },
    });
    if (opts.buffer ?? true) this.mmap(BUFFER_SIZE, { addr: BUFFER_VA, shared: true });
  }

  get state(): IoptSystemState {
    return this.log.state;
  }

  /** A fresh object id. */
  id(): number {
    return this.nextId++;
  }

  /** Dispatch; on success every invariant must hold. */
  dispatch(c: Cmd): readonly LogRecord[] | Errno {
    const r = this.log.dispatch(c);
    if (!isErrno(r)) {
      const v = checkInvariants(this.log.state);
      if (v.length > 0) throw new Error(`invariants violated after ${c.type}:\n${v.join("\n")}`);
    }
    return r;
  }

  ok(c: Cmd): readonly LogRecord[] {
    const r = this.dispatch(c);
    if (isErrno(r)) throw new Error(`${c.type} failed: ${r.toString()}`);
    return r;
  }

  /** The errno name a command fails with (throws if it succeeds). */
  err(c: Cmd): ErrnoName {
    const r = this.dispatch(c);
    if (!isErrno(r)) throw new Error(`${c.type} succeeded, expected failure`);
    return r.name;
  }

  mmap(
    length: bigint,
    o: { addr?: bigint; shared?: boolean; prot?: number; pid?: number; file?: number } = {},
  ): bigint {
    const r = this.ok({
      type: "mm.mmap",
      data: {
        pid: o.pid ?? this.pid,
        length,
        prot: o.prot ?? 3,
        shared: o.shared ?? false,
        ...(o.addr === undefined ? {} : { addr: o.addr }),
        ...(o.file === undefined ? {} : { file: o.file }),
      },
    });
    return (r[0]!.data as { addr: bigint }).addr;
  }

  munmap(addr: bigint, length: bigint, pid = this.pid): void {
    this.ok({ type: "mm.munmap", data: { pid, addr, length } });
  }

  write(va: bigint, bytes: Uint8Array, pid = this.pid): void {
    this.ok({ type: "mm.write", data: { pid, va, bytes } });
  }

  ioasAlloc(): number {
    const id = this.id();
    this.ok({ type: "ioas.create", data: { ioas: id } });
    return id;
  }

  mapCmd(ioas: number, va: bigint, length: bigint, iova?: bigint, flags = RW, pid = this.pid): Cmd {
    return {
      type: "ioas.map",
      data: {
        ioas,
        pid,
        userVa: va,
        length,
        iova: iova ?? 0n,
        flags: iova === undefined ? flags : flags | IOMMU_IOAS_MAP_FIXED_IOVA,
      },
    };
  }

  /** test_ioctl_ioas_map / _fixed: returns the IOVA. */
  map(ioas: number, va: bigint, length: bigint, iova?: bigint, flags = RW, pid = this.pid): bigint {
    return mappedIova(this.ok(this.mapCmd(ioas, va, length, iova, flags, pid)))!;
  }

  mapErr(ioas: number, va: bigint, length: bigint, iova?: bigint, flags = RW): ErrnoName {
    return this.err(this.mapCmd(ioas, va, length, iova, flags));
  }

  unmapCmd(ioas: number, iova: bigint, length: bigint): Cmd {
    return { type: "ioas.unmap", data: { ioas, iova, length } };
  }

  /** test_ioctl_ioas_unmap: returns the unmapped length. */
  unmap(ioas: number, iova: bigint, length: bigint): bigint {
    return unmappedLength(this.ok(this.unmapCmd(ioas, iova, length)));
  }

  /** test_cmd_mock_domain: allocate a mock domain and attach it; returns its id. */
  mockDomain(ioas: number): number {
    const id = this.id();
    this.ok({ type: "iopt.mock.alloc", data: { domain: id } });
    this.ok({ type: "ioas.attach_domain", data: { ioas, domain: mockDomainDescriptor(id) } });
    return id;
  }

  /** The errno of attaching a new mock domain (the domain is freed again). */
  mockDomainErr(ioas: number): ErrnoName {
    const id = this.id();
    this.ok({ type: "iopt.mock.alloc", data: { domain: id } });
    const e = this.err({ type: "ioas.attach_domain", data: { ioas, domain: mockDomainDescriptor(id) } });
    this.ok({ type: "iopt.mock.free", data: { domain: id } });
    return e;
  }

  /** Destroying the mock device + HWPT: detach and free. */
  destroyDomain(ioas: number, domain: number): void {
    this.ok({ type: "ioas.detach_domain", data: { ioas, domain } });
    this.ok({ type: "iopt.mock.free", data: { domain } });
  }

  addReserved(ioas: number, start: bigint, length: bigint): ErrnoName | undefined {
    const r = this.dispatch({
      type: "ioas.reserve",
      data: { ioas, start, last: start + length - 1n, owner: 0 },
    });
    return isErrno(r) ? r.name : undefined;
  }

  allow(ioas: number, ranges: { start: bigint; last: bigint }[]): ErrnoName | undefined {
    const r = this.dispatch({ type: "ioas.allow_iovas", data: { ioas, ranges } });
    return isErrno(r) ? r.name : undefined;
  }

  /** MD_CHECK_MAP against one domain; throws with the reason on mismatch. */
  checkMap(domain: number, iova: bigint, length: bigint, uptr: bigint, pid = this.pid): void {
    const e = mdCheckMap(this.state, domain, iova, length, pid, uptr);
    if (e) throw new Error(`MD_CHECK_MAP: ${e.toString()}`);
  }

  /** MD_CHECK_REFS; throws on mismatch. */
  checkRefs(uptr: bigint, length: bigint, refs: number, pid = this.pid): void {
    const e = mdCheckRefs(this.state, pid, uptr, length, refs);
    if (e) throw new Error(`MD_CHECK_REFS: ${e.toString()}`);
  }
}

/** Deterministic pseudo-random bytes (a fixed LCG: test data, not values under test). */
export function pattern(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}
