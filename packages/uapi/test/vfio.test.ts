import { describe, expect, it } from "vitest";
import {
  decodeVfioCapChain,
  type Errno,
  encodeVfioCapChain,
  isErrno,
  VFIO_DEVICE_ATTACH_PASID,
  VFIO_DEVICE_BIND_FLAG_TOKEN,
  VFIO_DEVICE_DETACH_PASID,
  VFIO_DMA_MAP_FLAG_READ,
  VFIO_DMA_MAP_FLAG_WRITE,
  VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP,
  VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP,
  VFIO_IOMMU_INFO_CAPS,
  VFIO_IOMMU_INFO_PGSIZES,
  VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE,
  VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL,
  vfioBitmap,
  vfioCopyIn,
  vfioDeviceAttachIommufdPt,
  vfioDeviceBindIommufd,
  vfioDeviceDetachIommufdPt,
  vfioDirtyPagesCopyIn,
  vfioDmaAvailCap,
  vfioDmaUnmapCopyIn,
  vfioInfoReply,
  vfioIommuType1DirtyBitmap,
  vfioIommuType1DirtyBitmapGet,
  vfioIommuType1DmaMap,
  vfioIommuType1DmaUnmap,
  vfioIommuType1Info,
  vfioIommuType1InfoCapIovaRange,
  vfioIovaRange,
  vfioIovaRangeCap,
} from "../src/index";

function errName(x: unknown): string | undefined {
  return isErrno(x) ? (x as Errno).name : undefined;
}

describe("VFIO argsz rules", () => {
  const map = {
    argsz: 32,
    flags: VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
    vaddr: 0x1000n,
    iova: 0x2000n,
    size: 0x3000n,
  };

  it("MAP_DMA: argsz = minsz (32) accepted; 31 → EINVAL; larger accepted, excess ignored", () => {
    const ok = vfioCopyIn("VFIO_IOMMU_MAP_DMA", vfioIommuType1DmaMap.encode(map));
    if (isErrno(ok)) throw new Error(String(ok));
    expect(ok.value).toEqual(map);
    expect(
      errName(vfioCopyIn("VFIO_IOMMU_MAP_DMA", vfioIommuType1DmaMap.encode({ ...map, argsz: 31 }))),
    ).toBe("EINVAL");
    const big = new Uint8Array(64).fill(0xff);
    big.set(vfioIommuType1DmaMap.encode({ ...map, argsz: 64 }));
    const r = vfioCopyIn("VFIO_IOMMU_MAP_DMA", big);
    expect(isErrno(r) ? r.name : r.readSize).toBe(32);
  });

  it("MAP_DMA: unknown flags → EINVAL (not EOPNOTSUPP as in iommufd)", () => {
    expect(
      errName(vfioCopyIn("VFIO_IOMMU_MAP_DMA", vfioIommuType1DmaMap.encode({ ...map, flags: 1 << 3 }))),
    ).toBe("EINVAL");
  });

  it("fewer readable bytes than minsz → EFAULT", () => {
    expect(errName(vfioCopyIn("VFIO_IOMMU_MAP_DMA", new Uint8Array(16)))).toBe("EFAULT");
  });

  it("GET_INFO reads only up to iova_pgsizes (minsz 16)", () => {
    const r = vfioCopyIn("VFIO_IOMMU_GET_INFO", vfioIommuType1Info.encode({ argsz: 16, cap_offset: 99 }));
    if (isErrno(r)) throw new Error(String(r));
    expect(r.value.cap_offset).toBe(0);
    expect(r.readSize).toBe(16);
  });

  it("BIND_IOMMUFD: minsz 16; with FLAG_TOKEN argsz must reach token_uuid_ptr (24)", () => {
    const b = { argsz: 16, iommufd: 3 };
    expect(isErrno(vfioCopyIn("VFIO_DEVICE_BIND_IOMMUFD", vfioDeviceBindIommufd.encode(b)))).toBe(false);
    const tok = vfioDeviceBindIommufd.encode({
      ...b,
      flags: VFIO_DEVICE_BIND_FLAG_TOKEN,
      token_uuid_ptr: 0x5000n,
    });
    expect(errName(vfioCopyIn("VFIO_DEVICE_BIND_IOMMUFD", tok))).toBe("EINVAL");
    new DataView(tok.buffer).setUint32(0, 24, true);
    const r = vfioCopyIn("VFIO_DEVICE_BIND_IOMMUFD", tok);
    if (isErrno(r)) throw new Error(String(r));
    expect(r.value.token_uuid_ptr).toBe(0x5000n);
    expect(r.value.iommufd).toBe(3);
  });

  it("BIND_IOMMUFD: without the flag, token_uuid_ptr is not read", () => {
    const r = vfioCopyIn(
      "VFIO_DEVICE_BIND_IOMMUFD",
      vfioDeviceBindIommufd.encode({ argsz: 24, token_uuid_ptr: 7n }),
    );
    if (isErrno(r)) throw new Error(String(r));
    expect(r.value.token_uuid_ptr).toBe(0n);
  });

  it("ATTACH/DETACH_IOMMUFD_PT: minsz 12 / 8; PASID flag needs argsz to reach pasid", () => {
    expect(
      isErrno(
        vfioCopyIn(
          "VFIO_DEVICE_ATTACH_IOMMUFD_PT",
          vfioDeviceAttachIommufdPt.encode({ argsz: 12, pt_id: 2 }),
        ),
      ),
    ).toBe(false);
    expect(
      errName(vfioCopyIn("VFIO_DEVICE_ATTACH_IOMMUFD_PT", vfioDeviceAttachIommufdPt.encode({ argsz: 11 }))),
    ).toBe("EINVAL");
    const pasid = vfioDeviceAttachIommufdPt.encode({
      argsz: 12,
      flags: VFIO_DEVICE_ATTACH_PASID,
      pt_id: 2,
      pasid: 5,
    });
    expect(errName(vfioCopyIn("VFIO_DEVICE_ATTACH_IOMMUFD_PT", pasid))).toBe("EINVAL");
    new DataView(pasid.buffer).setUint32(0, 16, true);
    const r = vfioCopyIn("VFIO_DEVICE_ATTACH_IOMMUFD_PT", pasid);
    expect(isErrno(r) ? r.name : r.value.pasid).toBe(5);
    expect(
      errName(
        vfioCopyIn(
          "VFIO_DEVICE_ATTACH_IOMMUFD_PT",
          vfioDeviceAttachIommufdPt.encode({ argsz: 16, flags: 2 }),
        ),
      ),
    ).toBe("EINVAL");
    expect(
      isErrno(vfioCopyIn("VFIO_DEVICE_DETACH_IOMMUFD_PT", vfioDeviceDetachIommufdPt.encode({ argsz: 8 }))),
    ).toBe(false);
    expect(
      errName(
        vfioCopyIn(
          "VFIO_DEVICE_DETACH_IOMMUFD_PT",
          vfioDeviceDetachIommufdPt.encode({ argsz: 8, flags: VFIO_DEVICE_DETACH_PASID }),
        ),
      ),
    ).toBe("EINVAL");
  });

  it("UNMAP_DMA with GET_DIRTY_BITMAP reads the vfio_bitmap after the struct (argsz ≥ 48)", () => {
    const buf = new Uint8Array(48);
    buf.set(
      vfioIommuType1DmaUnmap.encode({
        argsz: 47,
        flags: VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP,
        iova: 0n,
        size: 0x10000n,
      }),
    );
    vfioBitmap.encodeInto({ pgsize: 4096n, size: 8n, data: 0x9000n }, buf, 24);
    expect(errName(vfioDmaUnmapCopyIn(buf))).toBe("EINVAL");
    new DataView(buf.buffer).setUint32(0, 48, true);
    const r = vfioDmaUnmapCopyIn(buf);
    if (isErrno(r)) throw new Error(String(r));
    expect(r.bitmap).toEqual({ pgsize: 4096n, size: 8n, data: 0x9000n });
  });

  it("DIRTY_PAGES with GET_BITMAP needs argsz − 8 ≥ 40", () => {
    const buf = new Uint8Array(48);
    buf.set(vfioIommuType1DirtyBitmap.encode({ argsz: 47, flags: VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP }));
    vfioIommuType1DirtyBitmapGet.encodeInto(
      { iova: 0x1000n, size: 0x2000n, bitmap: { pgsize: 4096n } },
      buf,
      8,
    );
    expect(errName(vfioDirtyPagesCopyIn(buf))).toBe("EINVAL");
    new DataView(buf.buffer).setUint32(0, 48, true);
    const r = vfioDirtyPagesCopyIn(buf);
    expect(isErrno(r) ? r.name : r.range?.size).toBe(0x2000n);
  });
});

describe("VFIO capability chains (VFIO_IOMMU_GET_INFO)", () => {
  const caps = [
    vfioIovaRangeCap([
      { start: 0n, end: 0xfedf_ffffn },
      { start: 0xfef0_0000n, end: 2n ** 48n - 1n },
    ]),
    vfioDmaAvailCap(65535),
  ];

  it("an argsz too small for the chain: argsz raised to what is needed, cap_offset 0, CAPS flag set", () => {
    const { bytes, info } = vfioInfoReply(
      vfioIommuType1Info,
      { flags: VFIO_IOMMU_INFO_PGSIZES, iova_pgsizes: 0x40201000n },
      24,
      caps,
      VFIO_IOMMU_INFO_CAPS,
    );
    // iova range cap: 8 header + 8 + 2×16 = 48; dma avail: 8 + 4 → padded to 16.
    expect(info.argsz).toBe(24 + 48 + 16);
    expect(info.cap_offset).toBe(0);
    expect(info.flags).toBe(VFIO_IOMMU_INFO_PGSIZES | VFIO_IOMMU_INFO_CAPS);
    expect(bytes.length).toBe(24);
  });

  it("an old user (argsz 16) gets only 16 bytes back", () => {
    const { bytes } = vfioInfoReply(vfioIommuType1Info, { flags: 1 }, 16, caps, VFIO_IOMMU_INFO_CAPS);
    expect(bytes.length).toBe(16);
  });

  it("a large enough argsz gets the chain at sizeof(info), walkable with next offsets", () => {
    const { bytes, info } = vfioInfoReply(vfioIommuType1Info, { flags: 1 }, 4096, caps, VFIO_IOMMU_INFO_CAPS);
    expect(info.cap_offset).toBe(24);
    expect(bytes.length).toBe(24 + 64);
    const chain = decodeVfioCapChain(bytes, info.cap_offset);
    if (isErrno(chain)) throw new Error(String(chain));
    expect(chain.map((c) => [c.id, c.version, c.offset])).toEqual([
      [VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE, 1, 24],
      [VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL, 1, 72],
    ]);
    const cap = vfioIommuType1InfoCapIovaRange.decode(bytes, 24);
    expect(cap.nr_iovas).toBe(2);
    expect(vfioIovaRange.decode(bytes, 40)).toEqual({ start: 0n, end: 0xfedf_ffffn });
    expect(new DataView(bytes.buffer).getUint32(72 + 8, true)).toBe(65535);
  });

  it("a looping or out-of-range chain → EINVAL", () => {
    const chain = encodeVfioCapChain([{ id: 1, version: 1, body: new Uint8Array(8) }], 0);
    new DataView(chain.buffer).setUint32(4, 0, true);
    expect(isErrno(decodeVfioCapChain(chain, 0))).toBe(false);
    new DataView(chain.buffer).setUint32(4, 8, true);
    const loop = new Uint8Array(32);
    loop.set(chain, 8);
    new DataView(loop.buffer).setUint32(12, 8, true);
    expect(errName(decodeVfioCapChain(loop, 8))).toBe("EINVAL");
    expect(errName(decodeVfioCapChain(new Uint8Array(8), 4))).toBe("EINVAL");
  });
});
