/**
 * Linux's selftest fixture `vfio_compat_mock_domain`
 * (tools/testing/selftests/iommu/iommufd.c), variants Ver1v2 and Ver1v0:
 * an IOAS with a mock device set as the compat IOAS, then
 * VFIO_SET_IOMMU(version). Cases simple_close, option_huge_pages,
 * get_info, map and huge_map in both variants (Ver1v0's unmaps cut the
 * mapping: vfio_compat.c → iopt_cut_iova()).
 *
 * Golden values: the mock domain (selftest.c) has 2 KiB IO pages and the
 * aperture [MOCK_APERTURE_START, MOCK_APERTURE_LAST] = [0x100_0000,
 * 0x7fff_ffff], so iova_pgsizes = PAGE_SIZE = 0x1000 and IOVA_RANGE lists
 * that one range; the chain is DMA_AVAIL (12 bytes, padded to 16; avail =
 * U32_MAX) at 24, then IOVA_RANGE (16 + 16 bytes) at 40: argsz 72.
 */
import { VFIO_IOCTL, VFIO_TYPE1_IOMMU, VFIO_TYPE1v2_IOMMU } from "@iommu-sim/uapi";
import { describe, expect, it } from "vitest";
import { BUFFER_SIZE, bytes, Container, PAGE, view } from "./harness";

const BASE = 0x100_0000n;
const ENOENT = -2;
const EINVAL = -22;
const HUGEPAGE_SIZE = 2n << 20n;
/** The room the selftest's ioctl_check_buf watches: bytes past argsz must stay 0xAA. */
const ROOM = 256;
const FULL_ARGSZ = 72;

/** GET_INFO with `argsz` in a 0xAA-filled buffer (only the 24-byte struct zeroed, as the selftest does). */
function getInfo(c: Container, argsz: number): [number, Uint8Array] {
  const buf = new Uint8Array(ROOM).fill(0xaa);
  buf.set(bytes(24, [[0, 4, argsz]]));
  return [c.ioctl(VFIO_IOCTL.VFIO_IOMMU_GET_INFO, buf), buf];
}

const untouchedFrom = (buf: Uint8Array, from: number) => buf.subarray(from).every((b) => b === 0xaa);

/** A fixed permutation of 0..n−1 (the selftest shuffles with rand()). */
const shuffled = (n: number) => Array.from({ length: n }, (_, i) => (i * 7 + 3) % n);

describe.each([
  ["Ver1v2", VFIO_TYPE1v2_IOMMU],
  ["Ver1v0", VFIO_TYPE1_IOMMU],
])("fixture vfio_compat_mock_domain, variant %s", (_name, version) => {
  it("simple_close: closing the fd frees the IOAS, the device and the domain", () => {
    const { c } = Container.withMockDomain(version);
    expect(c.log.dispatch({ type: "iommufd.close", data: { ctx: c.ctx } })).not.toHaveProperty("code");
    expect(c.state.iopt.ioas.size).toBe(0);
    expect(c.state.mockDomain.domains.size).toBe(0);
  });

  it("option_huge_pages: TYPE1 turned large pages off, TYPE1v2 left them on", () => {
    const { c, ioas } = Container.withMockDomain(version);
    expect(c.hugePages(ioas)).toEqual([0, version === VFIO_TYPE1_IOMMU ? 0n : 1n]);
  });

  it("get_info: pre-cap ABI (argsz 16) answers argsz, flags and pgsizes only", () => {
    const { c } = Container.withMockDomain(version);
    const [rc, buf] = getInfo(c, 16);
    expect(rc).toBe(0);
    expect(view(buf).getUint32(0, true)).toBe(FULL_ARGSZ);
    expect(view(buf).getUint32(4, true)).toBe(3); // VFIO_IOMMU_INFO_PGSIZES | VFIO_IOMMU_INFO_CAPS
    expect(view(buf).getBigUint64(8, true)).toBe(0x1000n);
    expect(buf.subarray(16, 24).every((b) => b === 0)).toBe(true); // the struct as the test zeroed it
    expect(untouchedFrom(buf, 24)).toBe(true);
  });

  it("get_info: argsz 24 reads the chain size, cap_offset 0", () => {
    const { c } = Container.withMockDomain(version);
    const [rc, buf] = getInfo(c, 24);
    expect(rc).toBe(0);
    expect([...buf.subarray(0, 24)]).toEqual([
      ...[72, 0, 0, 0], // argsz
      ...[3, 0, 0, 0], // flags
      ...[0, 0x10, 0, 0, 0, 0, 0, 0], // iova_pgsizes 0x1000
      ...[0, 0, 0, 0], // cap_offset
      ...[0, 0, 0, 0], // pad
    ]);
    expect(untouchedFrom(buf, 24)).toBe(true);
  });

  it("get_info: every argsz short of the chain keeps flags, answers 72, writes nothing past argsz", () => {
    const { c } = Container.withMockDomain(version);
    for (let argsz = 24; argsz < FULL_ARGSZ; argsz++) {
      const [rc, buf] = getInfo(c, argsz);
      expect(rc).toBe(0);
      expect(view(buf).getUint32(0, true)).toBe(FULL_ARGSZ);
      expect(view(buf).getUint32(4, true)).toBe(3);
      expect(view(buf).getUint32(16, true)).toBe(0);
      expect(untouchedFrom(buf, argsz), `argsz ${argsz}`).toBe(true);
    }
  });

  it("get_info: a short buffer still gets each capability that fits (vfio_compat.c fills them one by one)", () => {
    const { c } = Container.withMockDomain(version);
    const dmaAvail = [3, 0, 1, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]; // id 3, version 1, next 0, avail U32_MAX
    expect([...getInfo(c, 35)[1].subarray(24, 36)]).toEqual(Array(12).fill(0xaa));
    expect([...getInfo(c, 36)[1].subarray(24, 36)]).toEqual(dmaAvail);
    // from argsz 40 the DMA_AVAIL header links to offset 40, though IOVA_RANGE does not fit yet
    const at40 = getInfo(c, 40)[1];
    expect(view(at40).getUint32(28, true)).toBe(40);
    expect(untouchedFrom(at40, 40)).toBe(true);
    // a range is written when it fits (avail ≥ 32), the header only with all of them
    expect(untouchedFrom(getInfo(c, 71)[1], 40)).toBe(true);
  });

  it("get_info: the full chain, byte for byte (padding left as it was)", () => {
    const { c } = Container.withMockDomain(version);
    const [rc, buf] = getInfo(c, FULL_ARGSZ);
    expect(rc).toBe(0);
    expect([...buf.subarray(0, FULL_ARGSZ)]).toEqual([
      ...[72, 0, 0, 0, 3, 0, 0, 0, 0, 0x10, 0, 0, 0, 0, 0, 0, 24, 0, 0, 0, 0, 0, 0, 0],
      // DMA_AVAIL at 24: id 3, version 1, next 40, avail 0xffffffff, 4 bytes of padding
      ...[3, 0, 1, 0, 40, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xaa, 0xaa, 0xaa, 0xaa],
      // IOVA_RANGE at 40: id 1, version 1, next 0, nr_iovas 1, reserved 0
      ...[1, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0],
      ...[0, 0, 0, 1, 0, 0, 0, 0], // start 0x100_0000
      ...[0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0], // end 0x7fff_ffff
    ]);
    expect(untouchedFrom(buf, FULL_ARGSZ)).toBe(true);
  });

  it("map: map/unmap, UNMAP_ALL, then 16 single pages unmapped in shuffled order", () => {
    const { c } = Container.withMockDomain(version);
    expect(c.mapDma(c.buffer, BASE, BUFFER_SIZE)).toBe(0);
    expect(c.unmapDma(BASE, BUFFER_SIZE)).toEqual([0, BUFFER_SIZE]);

    expect(c.mapDma(c.buffer, BASE, BUFFER_SIZE)).toBe(0);
    // UNMAP_FLAG_ALL requires iova = size = 0; size is not copied back then
    expect(c.unmapDma(BASE, BUFFER_SIZE, 2)).toEqual([EINVAL, BUFFER_SIZE]);
    expect(c.unmapDma(0n, 0n, 2)).toEqual([0, BUFFER_SIZE]);

    const pages = Number(BUFFER_SIZE / PAGE);
    for (let i = 0n; i < BigInt(pages); i++)
      expect(c.mapDma(c.buffer + i * PAGE, BASE + i * PAGE, PAGE)).toBe(0);
    for (const i of shuffled(pages)) expect(c.unmapDma(BASE + BigInt(i) * PAGE, PAGE)).toEqual([0, PAGE]);
    expect(c.state.iopt.pages.size).toBe(0);
  });
});

describe("fixture vfio_compat_mock_domain, variant Ver1v2", () => {
  it("huge_map: a 4 MiB mapping cannot be cut by 16 smaller unmaps (ENOENT, size answered 0)", () => {
    const { c } = Container.withMockDomain(VFIO_TYPE1v2_IOMMU);
    const bufSize = 2n * HUGEPAGE_SIZE;
    const buf = c.mmap(bufSize, 0x4000_0000n); // 2 MiB aligned, as MAP_HUGETLB would place it
    expect(c.mapDma(buf, BASE, bufSize)).toBe(0);
    const piece = bufSize / 16n;
    for (const i of shuffled(16)) expect(c.unmapDma(BASE + BigInt(i) * piece, piece)).toEqual([ENOENT, 0n]);
    expect(c.unmapDma(BASE, bufSize)).toEqual([0, bufSize]);
  });
});

describe("fixture vfio_compat_mock_domain, variant Ver1v0", () => {
  it("huge_map: type1 cuts a 4 MiB mapping into 16 unmaps of 256 KiB, in any order", () => {
    const { c, ioas } = Container.withMockDomain(VFIO_TYPE1_IOMMU);
    const bufSize = 2n * HUGEPAGE_SIZE;
    const buf = c.mmap(bufSize, 0x4000_0000n);
    expect(c.mapDma(buf, BASE, bufSize)).toBe(0);
    const piece = bufSize / 16n;
    const kobj = c.state.iommufd.contexts[c.ctx]!.objects[ioas]!.kobj!;
    for (const i of shuffled(16)) expect(c.unmapDma(BASE + BigInt(i) * piece, piece)).toEqual([0, piece]);
    expect(c.areas(kobj)).toEqual([]);
    expect(c.state.iopt.pages.size).toBe(0);
  });

  it("an unmap inside a mapping leaves both sides mapped to the same pages", () => {
    const { c, ioas } = Container.withMockDomain(VFIO_TYPE1_IOMMU);
    const kobj = c.state.iommufd.contexts[c.ctx]!.objects[ioas]!.kobj!;
    expect(c.mapDma(c.buffer, BASE, BUFFER_SIZE)).toBe(0);
    expect(c.unmapDma(BASE + 4n * PAGE, 2n * PAGE)).toEqual([0, 2n * PAGE]);
    expect(c.areas(kobj)).toEqual([
      [BASE, BASE + 4n * PAGE - 1n],
      [BASE + 6n * PAGE, BASE + BUFFER_SIZE - 1n],
    ]);
    expect(c.state.iopt.pages.size).toBe(1);
    // an unmap over a hole and a piece answers the piece only
    expect(c.unmapDma(BASE + 3n * PAGE, 4n * PAGE)).toEqual([0, 2n * PAGE]);
    expect(c.unmapDma(BASE + 4n * PAGE, 2n * PAGE)).toEqual([ENOENT, 0n]);
  });

  it("a cut off the IOAS alignment (PAGE_SIZE once large pages are off) is EINVAL, size not copied back", () => {
    const { c, ioas } = Container.withMockDomain(VFIO_TYPE1_IOMMU);
    const kobj = c.state.iommufd.contexts[c.ctx]!.objects[ioas]!.kobj!;
    expect(c.mapDma(c.buffer, BASE, BUFFER_SIZE)).toBe(0);
    expect(c.unmapDma(BASE + 0x800n, PAGE)).toEqual([EINVAL, PAGE]);
    expect(c.areas(kobj)).toEqual([[BASE, BASE + BUFFER_SIZE - 1n]]);
  });
});
