/**
 * The semantics of Linux's selftest fixture `iommufd_ioas`, variant
 * no_domain (tools/testing/selftests/iommu/iommufd.c), through the byte
 * interface: ioas_auto_destroy, ioas_destroy, ioas_area_destroy,
 * ioas_area_auto_destroy, area, unmap_fully_contained_areas, copy_area,
 * iova_ranges (without reserved ranges), plus context isolation.
 * Offsets: include/uapi/linux/iommufd.h (v6.17).
 */
import { stateHash } from "@iommu-sim/eventlog";
import { IOMMU_IOCTL, isErrno } from "@iommu-sim/uapi";
import { beforeEach, describe, expect, it } from "vitest";
import { processMemory } from "../src/index";
import { bytes, IommuFd, newSystem, type Root } from "./harness";

const PAGE = 4096n;
const U64_MAX = (1n << 64n) - 1n;
const FIXED = 1; // IOMMU_IOAS_MAP_FIXED_IOVA
const RW = 2 | 4; // WRITEABLE | READABLE

const view = (b: Uint8Array) => new DataView(b.buffer);

class Fixture {
  log = newSystem();
  fd!: IommuFd;
  ioas = 0;
  buffer = 0n;

  constructor(pid = 100) {
    this.log.dispatch({ type: "mm.spawn", data: { pid } });
    const m = this.log.dispatch({
      type: "mm.mmap",
      data: { pid, length: 16n * PAGE, prot: 3, shared: true },
    });
    if (isErrno(m)) throw new Error(`${m}`);
    this.buffer = (m[0]!.data as { addr: bigint }).addr;
    this.fd = IommuFd.open(this.log, pid);
    this.fd.user = processMemory(
      { dispatch: (c) => this.log.dispatch(c), peek: () => this.log.peek() as never },
      pid,
    );
    this.ioas = this.ioasAlloc();
  }

  ioasAlloc(): number {
    const arg = bytes(12, [[0, 4, 12]]);
    expect(this.fd.ioctl(IOMMU_IOCTL.IOMMU_IOAS_ALLOC, arg)).toBe(0);
    return view(arg).getUint32(8, true);
  }

  /** struct iommu_ioas_map (40 bytes); returns [rc, iova]. */
  map(length: bigint, iova: bigint, fixed = true, ioas = this.ioas): [number, bigint] {
    const arg = bytes(40, [
      [0, 4, 40],
      [4, 4, RW | (fixed ? FIXED : 0)],
      [8, 4, ioas],
      [16, 8, this.buffer],
      [24, 8, length],
      [32, 8, iova],
    ]);
    const rc = this.fd.ioctl(IOMMU_IOCTL.IOMMU_IOAS_MAP, arg);
    return [rc, view(arg).getBigUint64(32, true)];
  }

  /** struct iommu_ioas_unmap (24 bytes); returns [rc, unmapped length]. */
  unmap(iova: bigint, length: bigint, ioas = this.ioas): [number, bigint] {
    const arg = bytes(24, [
      [0, 4, 24],
      [4, 4, ioas],
      [8, 8, iova],
      [16, 8, length],
    ]);
    const rc = this.fd.ioctl(IOMMU_IOCTL.IOMMU_IOAS_UNMAP, arg);
    return [rc, view(arg).getBigUint64(16, true)];
  }

  destroy(id: number): number {
    return this.fd.ioctl(
      IOMMU_IOCTL.IOMMU_DESTROY,
      bytes(8, [
        [0, 4, 8],
        [4, 4, id],
      ]),
    );
  }

  get root(): Root {
    return this.log.state;
  }
}

const ENOENT = -2;
const EEXIST = -17;
const EMSGSIZE = -90;

let f: Fixture;
beforeEach(() => {
  f = new Fixture();
});

describe("fixture iommufd_ioas (no_domain)", () => {
  it("ioas_auto_destroy: closing the context frees the IOAS", () => {
    expect(f.root.iopt.ioas.size).toBe(1);
    expect(isErrno(f.fd.close())).toBe(false);
    expect(f.root.iopt.ioas.size).toBe(0);
    expect(f.root.iommufd.contexts[f.fd.ctx]).toBeUndefined();
  });

  it("ioas_destroy: an IOAS can be allocated and freed by hand", () => {
    expect(f.destroy(f.ioas)).toBe(0);
    expect(f.destroy(f.ioas)).toBe(ENOENT);
    expect(f.root.iopt.ioas.size).toBe(0);
  });

  it("ioas_area_destroy / ioas_area_auto_destroy: areas do not stop a destroy or a close", () => {
    expect(f.map(PAGE, 0n)[0]).toBe(0);
    expect(f.destroy(f.ioas)).toBe(0);
    const g = new Fixture();
    for (let i = 0n; i < 10n; i++) expect(g.map(PAGE, i * PAGE)[0]).toBe(0);
    expect(isErrno(g.fd.close())).toBe(false);
    expect(g.root.iopt.ioas.size).toBe(0);
    expect(g.root.iopt.pages.size).toBe(0);
  });

  it("area: unmap of nothing fails, maps/unmaps work, splits and overlaps fail, unmap-all works twice", () => {
    for (let i = 0n; i < 10n; i++) expect(f.unmap(i * PAGE, PAGE)[0]).toBe(ENOENT);
    for (let i = 0n; i < 10n; i++) expect(f.map(PAGE, i * PAGE)[0]).toBe(0);
    for (let i = 0n; i < 10n; i++) expect(f.unmap(i * PAGE, PAGE)).toEqual([0, PAGE]);
    expect(f.map(2n * PAGE, 16n * PAGE)[0]).toBe(0);
    expect(f.unmap(16n * PAGE, PAGE)[0]).toBe(ENOENT);
    expect(f.unmap(17n * PAGE, PAGE)[0]).toBe(ENOENT);
    expect(f.map(2n * PAGE, 16n * PAGE)[0]).toBe(EEXIST);
    expect(f.map(PAGE, 16n * PAGE)[0]).toBe(EEXIST);
    expect(f.map(PAGE, 17n * PAGE)[0]).toBe(EEXIST);
    expect(f.map(2n * PAGE, 15n * PAGE)[0]).toBe(EEXIST);
    expect(f.map(3n * PAGE, 15n * PAGE)[0]).toBe(EEXIST);
    expect(f.unmap(0n, U64_MAX)).toEqual([0, 2n * PAGE]);
    expect(f.unmap(0n, U64_MAX)).toEqual([0, 0n]);
  });

  it("unmap_fully_contained_areas: only whole areas, several at once", () => {
    const base = 4n * PAGE;
    for (let i = 0n; i < 4n; i++) expect(f.map(8n * PAGE, base + i * 16n * PAGE)[0]).toBe(0);
    expect(f.unmap(base - 4n * PAGE, 8n * PAGE)[0]).toBe(ENOENT);
    expect(f.unmap(base + 3n * 16n * PAGE + 8n * PAGE - 4n * PAGE, 8n * PAGE)[0]).toBe(ENOENT);
    expect(f.unmap(base - 4n * PAGE, 3n * 16n * PAGE + 8n * PAGE + 4n * PAGE)).toEqual([0, 32n * PAGE]);
  });

  it("copy_area: within one IOAS and between two", () => {
    expect(f.map(PAGE, 0n)[0]).toBe(0);
    // struct iommu_ioas_copy: size flags dst_ioas_id src_ioas_id length dst_iova src_iova (40 bytes)
    const copy = (dst: number, dstIova: bigint) =>
      bytes(40, [
        [0, 4, 40],
        [4, 4, FIXED | RW],
        [8, 4, dst],
        [12, 4, f.ioas],
        [16, 8, PAGE],
        [24, 8, dstIova],
        [32, 8, 0n],
      ]);
    expect(f.fd.ioctl(IOMMU_IOCTL.IOMMU_IOAS_COPY, copy(f.ioas, PAGE))).toBe(0);
    const other = f.ioasAlloc();
    expect(f.fd.ioctl(IOMMU_IOCTL.IOMMU_IOAS_COPY, copy(other, 0n))).toBe(0);
    expect(f.fd.ioctl(IOMMU_IOCTL.IOMMU_IOAS_COPY, copy(other + 7, 0n))).toBe(ENOENT);
  });

  it("iova_ranges: the whole space without reservations; EMSGSIZE with the count when the array is short", () => {
    // struct iommu_ioas_iova_ranges: size ioas_id num_iovas __reserved allowed_iovas out_iova_alignment (32 bytes)
    const m = f.log.dispatch({ type: "mm.mmap", data: { pid: 100, length: PAGE, prot: 3, shared: false } });
    const out = (m as unknown as { data: { addr: bigint } }[])[0]!.data.addr;
    let arg = bytes(32, [
      [0, 4, 32],
      [4, 4, f.ioas],
      [8, 4, 0],
      [16, 8, out],
    ]);
    expect(f.fd.ioctl(IOMMU_IOCTL.IOMMU_IOAS_IOVA_RANGES, arg)).toBe(EMSGSIZE);
    expect(view(arg).getUint32(8, true)).toBe(1);
    arg = bytes(32, [
      [0, 4, 32],
      [4, 4, f.ioas],
      [8, 4, 1],
      [16, 8, out],
    ]);
    expect(f.fd.ioctl(IOMMU_IOCTL.IOMMU_IOAS_IOVA_RANGES, arg)).toBe(0);
    expect(view(arg).getUint32(8, true)).toBe(1);
    expect(view(arg).getBigUint64(24, true)).toBe(1n);
    const ranges = f.fd.user.read(out, 16) as Uint8Array;
    expect([view(ranges).getBigUint64(0, true), view(ranges).getBigUint64(8, true)]).toEqual([0n, U64_MAX]);
  });

  it("automatic IOVAs are aligned to the largest power of two the length allows", () => {
    for (let i = 1n; i <= 10n; i++) {
      const [rc, iova] = f.map(i * PAGE, 0n, false);
      expect(rc).toBe(0);
      const len = i * PAGE;
      expect(iova % (len & -len)).toBe(0n);
    }
  });

  it("contexts are isolated: an IOAS id of one is ENOENT in another", () => {
    const other = IommuFd.open(f.log, 101);
    const arg = bytes(24, [
      [0, 4, 24],
      [4, 4, f.ioas],
      [8, 8, 0n],
      [16, 8, PAGE],
    ]);
    expect(other.ioctl(IOMMU_IOCTL.IOMMU_IOAS_UNMAP, arg)).toBe(ENOENT);
    expect(
      other.ioctl(
        IOMMU_IOCTL.IOMMU_DESTROY,
        bytes(8, [
          [0, 4, 8],
          [4, 4, f.ioas],
        ]),
      ),
    ).toBe(ENOENT);
  });

  it("a failed IOAS_ALLOC leaves no object and no IOAS (fail-nth at every step)", () => {
    const before = stateHash(f.log.state);
    for (let n = 1; ; n++) {
      f.log.failNth(n);
      const arg = bytes(12, [[0, 4, 12]]);
      const rc = f.fd.ioctl(IOMMU_IOCTL.IOMMU_IOAS_ALLOC, arg);
      if (!f.log.lastSteps.fired) {
        expect(rc).toBe(0);
        expect(n).toBeGreaterThan(1);
        break;
      }
      expect(rc).toBe(-12);
      expect(stateHash(f.log.state)).toBe(before);
    }
  });
});
