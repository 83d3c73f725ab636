import { describe, expect, it } from "vitest";
import {
  type Errno,
  IOASID_BITS,
  IOMMU_CACHE_INV_TYPE_DEV_IOTLB,
  IOMMU_CACHE_INV_TYPE_IOTLB,
  IOMMU_CACHE_INV_TYPE_PASID,
  IOMMU_INV_GRANU_ADDR,
  IOMMU_INV_GRANU_DOMAIN,
  IOMMU_INV_GRANU_PASID,
  IOMMU_INV_PASID_FLAGS_PASID,
  IOMMU_PASID_FORMAT_INTEL_VTD,
  IOMMU_SVA_GPASID_VAL,
  ioasidAllocRequest,
  ioasidAllocRequestCopyIn,
  ioasidFreeCopyIn,
  ioasidGetInfoCopyIn,
  ioasidInfo,
  ioasidUnknownIoctl,
  iommuCacheInvalidateCopyIn,
  iommuCacheInvalidateInfo,
  iommuGpasidBindCopyIn,
  iommuGpasidBindData,
  iommuPageResponse,
  iommuPageResponseCopyIn,
  isErrno,
} from "../src/index";

function errName(x: unknown): string | undefined {
  return isErrno(x) ? (x as Errno).name : undefined;
}

describe("/dev/ioasid (RFC)", () => {
  it("GET_INFO: argsz < 12 or flags ≠ 0 → EINVAL", () => {
    expect(isErrno(ioasidGetInfoCopyIn(ioasidInfo.encode({ argsz: 12 })))).toBe(false);
    expect(errName(ioasidGetInfoCopyIn(ioasidInfo.encode({ argsz: 11 })))).toBe("EINVAL");
    expect(errName(ioasidGetInfoCopyIn(ioasidInfo.encode({ argsz: 12, flags: 1 })))).toBe("EINVAL");
  });
  it("REQUEST_ALLOC: the range must be ordered and below 2^31", () => {
    const ok = ioasidAllocRequestCopyIn(
      ioasidAllocRequest.encode({ argsz: 16, range: { min: 1, max: 100 } }),
    );
    expect(isErrno(ok) ? ok.name : ok.value.range).toEqual({ min: 1, max: 100 });
    expect(
      errName(ioasidAllocRequestCopyIn(ioasidAllocRequest.encode({ argsz: 16, range: { min: 5, max: 4 } }))),
    ).toBe("EINVAL");
    expect(
      errName(
        ioasidAllocRequestCopyIn(
          ioasidAllocRequest.encode({ argsz: 16, range: { min: 0, max: 2 ** IOASID_BITS } }),
        ),
      ),
    ).toBe("EINVAL");
    expect(errName(ioasidAllocRequestCopyIn(ioasidAllocRequest.encode({ argsz: 15 })))).toBe("EINVAL");
  });
  it("REQUEST_FREE reads an int; negative → EINVAL; unknown command → EINVAL", () => {
    expect(ioasidFreeCopyIn(new Uint8Array([7, 0, 0, 0]))).toBe(7);
    expect(errName(ioasidFreeCopyIn(new Uint8Array([0xff, 0xff, 0xff, 0xff])))).toBe("EINVAL");
    expect(errName(ioasidFreeCopyIn(new Uint8Array(2)))).toBe("EFAULT");
    expect(ioasidUnknownIoctl(0x6968).name).toBe("EINVAL");
  });
});

describe("old IOMMU UAPI: the four compatibility cases (seeds/004)", () => {
  const pasidInv = {
    argsz: 32,
    version: 1,
    cache: IOMMU_CACHE_INV_TYPE_IOTLB | IOMMU_CACHE_INV_TYPE_PASID,
    granularity: IOMMU_INV_GRANU_PASID,
    granu: { pasid_info: { flags: IOMMU_INV_PASID_FLAGS_PASID, pasid: 5n } },
  };

  it("1. exact size match → accepted", () => {
    const r = iommuCacheInvalidateCopyIn(iommuCacheInvalidateInfo.encode({ ...pasidInv, argsz: 56 }));
    expect(isErrno(r) ? r.name : r.value.granu.pasid_info.pasid).toBe(5n);
  });

  it("2. older, smaller user struct (argsz covers only the PASID member) → accepted, no more read", () => {
    const bytes = iommuCacheInvalidateInfo.encode(pasidInv);
    const r = iommuCacheInvalidateCopyIn(bytes.slice(0, 32));
    if (isErrno(r)) throw new Error(String(r));
    expect(r.readSize).toBe(32);
  });

  it("3. newer, larger user struct on this kernel → accepted, the excess ignored", () => {
    const big = new Uint8Array(128).fill(0xaa);
    big.set(iommuCacheInvalidateInfo.encode({ ...pasidInv, argsz: 128 }).subarray(0, 32));
    const r = iommuCacheInvalidateCopyIn(big);
    if (isErrno(r)) throw new Error(String(r));
    expect(r.argsz).toBe(128);
    expect(r.value.granu.addr_info.nb_granules).toBe(0n);
  });

  it("4. illegal size or garbage within range → EINVAL", () => {
    const enc = (x: object) =>
      iommuCacheInvalidateCopyIn(iommuCacheInvalidateInfo.encode({ ...pasidInv, ...x }));
    expect(errName(enc({ argsz: 15 }))).toBe("EINVAL");
    expect(errName(enc({ argsz: 31 }))).toBe("EINVAL"); // PASID granularity needs 32
    expect(errName(enc({ granularity: IOMMU_INV_GRANU_ADDR, argsz: 55 }))).toBe("EINVAL");
    expect(errName(enc({ version: 2 }))).toBe("EINVAL");
    expect(errName(enc({ cache: 1 << 3 }))).toBe("EINVAL");
    expect(errName(enc({ granularity: 3 }))).toBe("EINVAL");
    expect(errName(enc({ padding: new Uint8Array([0, 0, 0, 0, 0, 1]) }))).toBe("EINVAL");
    expect(errName(enc({ granu: { pasid_info: { flags: 4 } } }))).toBe("EINVAL");
    expect(errName(enc({ granularity: IOMMU_INV_GRANU_DOMAIN, cache: IOMMU_CACHE_INV_TYPE_DEV_IOTLB }))).toBe(
      "EINVAL",
    );
    expect(
      errName(enc({ granularity: IOMMU_INV_GRANU_ADDR, argsz: 56, cache: IOMMU_CACHE_INV_TYPE_PASID })),
    ).toBe("EINVAL");
    expect(errName(iommuCacheInvalidateCopyIn(new Uint8Array(8)))).toBe("EFAULT");
  });

  it("guest PASID bind: VT-d format needs argsz ≥ 72; version, format, flags and padding checked", () => {
    const bind = {
      argsz: 72,
      version: 1,
      format: IOMMU_PASID_FORMAT_INTEL_VTD,
      addr_width: 48,
      flags: BigInt(IOMMU_SVA_GPASID_VAL),
      gpgd: 0x1000n,
      hpasid: 10n,
      gpasid: 20n,
      vendor: { vtd: { flags: 1n, pat: 0x0007040600070406, emt: 0 } },
    };
    const r = iommuGpasidBindCopyIn(iommuGpasidBindData.encode(bind));
    expect(isErrno(r) ? r.name : r.value.gpasid).toBe(20n);
    const enc = (x: object) => iommuGpasidBindCopyIn(iommuGpasidBindData.encode({ ...bind, ...x }));
    expect(errName(enc({ argsz: 71 }))).toBe("EINVAL");
    expect(errName(enc({ version: 0 }))).toBe("EINVAL");
    expect(errName(enc({ format: 2 }))).toBe("EINVAL");
    expect(errName(enc({ flags: 2n }))).toBe("EINVAL");
    expect(errName(enc({ padding: new Uint8Array([1]) }))).toBe("EINVAL");
  });

  it("page response: argsz ≥ 24, version 1, only PASID_VALID", () => {
    const ok = iommuPageResponseCopyIn(
      iommuPageResponse.encode({ argsz: 24, version: 1, flags: 1, grpid: 3 }),
    );
    expect(isErrno(ok) ? ok.name : ok.value.grpid).toBe(3);
    expect(errName(iommuPageResponseCopyIn(iommuPageResponse.encode({ argsz: 20, version: 1 })))).toBe(
      "EINVAL",
    );
    expect(errName(iommuPageResponseCopyIn(iommuPageResponse.encode({ argsz: 24, version: 2 })))).toBe(
      "EINVAL",
    );
    expect(
      errName(iommuPageResponseCopyIn(iommuPageResponse.encode({ argsz: 24, version: 1, flags: 2 }))),
    ).toBe("EINVAL");
  });
});
