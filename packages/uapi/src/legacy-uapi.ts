/**
 * The earlier IOMMU UAPI for guest SVA (seeds/004_*: "[PATCH v8 1/7] docs:
 * IOMMU user API", Jacob Pan, 2020): cache invalidation, guest PASID bind,
 * page response, and the nesting feature flags — with its `argsz`/`version`
 * compatibility rules.
 *
 * Layouts: include/uapi/linux/iommu.h (Linux v5.10, where `argsz` was added;
 * the header was removed in Linux v5.17 when iommufd's predecessors were
 * dropped). Checks: drivers/iommu/iommu.c iommu_uapi_cache_invalidate(),
 * iommu_uapi_sva_bind_gpasid() and their iommu_check_*() helpers (v5.10).
 *
 * The four compatibility cases of the document, as the functions below
 * implement them:
 *
 * 1. same size on both sides → accepted;
 * 2. older (smaller) user struct on a newer kernel → accepted as long as
 *    `argsz` covers what the request needs (the fixed part, plus the union
 *    member the granularity/format selects); the kernel reads no more;
 * 3. newer (larger) user struct on an older kernel → accepted; bytes beyond
 *    what the kernel knows are ignored (no E2BIG, unlike iommufd);
 * 4. illegal size or garbage within range → EINVAL (argsz too small,
 *    unknown version, unknown flag bits, non-zero padding, bad enum values).
 *
 * All sizes in bytes.
 */
import { type Errno, errno, isErrno } from "./errno";
import {
  array,
  defineStruct,
  defineUnion,
  field,
  type Layout,
  type LayoutValue,
  reserved,
} from "./layout/index";

const IOMMU_H = "include/uapi/linux/iommu.h (Linux v5.10)";

/** `enum iommu_inv_granularity`. */
export const IOMMU_INV_GRANU_DOMAIN = 0;
export const IOMMU_INV_GRANU_PASID = 1;
export const IOMMU_INV_GRANU_ADDR = 2;
export const IOMMU_INV_GRANU_NR = 3;

/** `iommu_inv_addr_info.flags`. */
export const IOMMU_INV_ADDR_FLAGS_PASID = 1 << 0;
export const IOMMU_INV_ADDR_FLAGS_ARCHID = 1 << 1;
export const IOMMU_INV_ADDR_FLAGS_LEAF = 1 << 2;

/** `struct iommu_inv_addr_info` (40 bytes): address-selective invalidation. */
export const iommuInvAddrInfo = defineStruct(
  "iommu_inv_addr_info",
  [
    field("flags", "u32"),
    field("archid", "u32"),
    field("pasid", "u64"),
    field("addr", "u64"),
    field("granule_size", "u64"),
    field("nb_granules", "u64"),
  ],
  {
    source: IOMMU_H,
    knownFlags: IOMMU_INV_ADDR_FLAGS_PASID | IOMMU_INV_ADDR_FLAGS_ARCHID | IOMMU_INV_ADDR_FLAGS_LEAF,
  },
);
export type IommuInvAddrInfo = LayoutValue<typeof iommuInvAddrInfo>;

/** `iommu_inv_pasid_info.flags`. */
export const IOMMU_INV_PASID_FLAGS_PASID = 1 << 0;
export const IOMMU_INV_PASID_FLAGS_ARCHID = 1 << 1;

/** `struct iommu_inv_pasid_info` (16 bytes): PASID-selective invalidation. */
export const iommuInvPasidInfo = defineStruct(
  "iommu_inv_pasid_info",
  [field("flags", "u32"), field("archid", "u32"), field("pasid", "u64")],
  { source: IOMMU_H, knownFlags: IOMMU_INV_PASID_FLAGS_PASID | IOMMU_INV_PASID_FLAGS_ARCHID },
);
export type IommuInvPasidInfo = LayoutValue<typeof iommuInvPasidInfo>;

/** `iommu_cache_invalidate_info.version` and `.cache` bits. */
export const IOMMU_CACHE_INVALIDATE_INFO_VERSION_1 = 1;
export const IOMMU_CACHE_INV_TYPE_IOTLB = 1 << 0;
export const IOMMU_CACHE_INV_TYPE_DEV_IOTLB = 1 << 1;
export const IOMMU_CACHE_INV_TYPE_PASID = 1 << 2;
export const IOMMU_CACHE_INV_TYPE_NR = 3;

/** The `granu` union of `iommu_cache_invalidate_info` (40 bytes). */
export const iommuCacheInvalidateGranu = defineUnion(
  "iommu_cache_invalidate_info.granu",
  [field("pasid_info", iommuInvPasidInfo), field("addr_info", iommuInvAddrInfo)],
  { source: IOMMU_H },
);

/** `struct iommu_cache_invalidate_info` (56 bytes; `granu` at 16). */
export const iommuCacheInvalidateInfo = defineStruct(
  "iommu_cache_invalidate_info",
  [
    field("argsz", "u32"),
    field("version", "u32"),
    field("cache", "u8"),
    field("granularity", "u8"),
    reserved("padding", array("u8", 6)),
    field("granu", iommuCacheInvalidateGranu),
  ],
  { source: IOMMU_H, lastMandatory: "padding" },
);
export type IommuCacheInvalidateInfo = LayoutValue<typeof iommuCacheInvalidateInfo>;

/** `iommu_gpasid_bind_data_vtd.flags` (VT-d PASID-entry attributes). */
export const IOMMU_SVA_VTD_GPASID_SRE = 1 << 0;
export const IOMMU_SVA_VTD_GPASID_EAFE = 1 << 1;
export const IOMMU_SVA_VTD_GPASID_PCD = 1 << 2;
export const IOMMU_SVA_VTD_GPASID_PWT = 1 << 3;
export const IOMMU_SVA_VTD_GPASID_EMTE = 1 << 4;
export const IOMMU_SVA_VTD_GPASID_CD = 1 << 5;
export const IOMMU_SVA_VTD_GPASID_WPE = 1 << 6;
export const IOMMU_SVA_VTD_GPASID_LAST = 1 << 7;
export const IOMMU_SVA_VTD_GPASID_MTS_MASK =
  IOMMU_SVA_VTD_GPASID_CD | IOMMU_SVA_VTD_GPASID_EMTE | IOMMU_SVA_VTD_GPASID_PCD | IOMMU_SVA_VTD_GPASID_PWT;

/** `struct iommu_gpasid_bind_data_vtd` (16 bytes). */
export const iommuGpasidBindDataVtd = defineStruct(
  "iommu_gpasid_bind_data_vtd",
  [field("flags", "u64"), field("pat", "u32"), field("emt", "u32")],
  { source: IOMMU_H },
);
export type IommuGpasidBindDataVtd = LayoutValue<typeof iommuGpasidBindDataVtd>;

/** `iommu_gpasid_bind_data` constants. */
export const IOMMU_GPASID_BIND_VERSION_1 = 1;
export const IOMMU_PASID_FORMAT_INTEL_VTD = 1;
export const IOMMU_PASID_FORMAT_LAST = 2;
export const IOMMU_SVA_GPASID_VAL = 1 << 0;

/** The `vendor` union of `iommu_gpasid_bind_data` (16 bytes). */
export const iommuGpasidBindVendor = defineUnion(
  "iommu_gpasid_bind_data.vendor",
  [field("vtd", iommuGpasidBindDataVtd)],
  { source: IOMMU_H },
);

/** `struct iommu_gpasid_bind_data` (72 bytes; `vendor` at 56). */
export const iommuGpasidBindData = defineStruct(
  "iommu_gpasid_bind_data",
  [
    field("argsz", "u32"),
    field("version", "u32"),
    field("format", "u32"),
    field("addr_width", "u32"),
    field("flags", "u64"),
    field("gpgd", "u64"),
    field("hpasid", "u64"),
    field("gpasid", "u64"),
    reserved("padding", array("u8", 8)),
    field("vendor", iommuGpasidBindVendor),
  ],
  { source: IOMMU_H, lastMandatory: "padding", knownFlags: IOMMU_SVA_GPASID_VAL },
);
export type IommuGpasidBindData = LayoutValue<typeof iommuGpasidBindData>;

/** `iommu_page_response` constants and `enum iommu_page_response_code`. */
export const IOMMU_PAGE_RESP_VERSION_1 = 1;
export const IOMMU_PAGE_RESP_PASID_VALID = 1 << 0;
export const IOMMU_PAGE_RESP_SUCCESS = 0;
export const IOMMU_PAGE_RESP_INVALID = 1;
export const IOMMU_PAGE_RESP_FAILURE = 2;

/** `struct iommu_page_response` (24 bytes). */
export const iommuPageResponse = defineStruct(
  "iommu_page_response",
  [
    field("argsz", "u32"),
    field("version", "u32"),
    field("flags", "u32"),
    field("pasid", "u32"),
    field("grpid", "u32"),
    field("code", "u32"),
  ],
  { source: IOMMU_H, lastMandatory: "code", knownFlags: IOMMU_PAGE_RESP_PASID_VALID },
);
export type IommuPageResponse = LayoutValue<typeof iommuPageResponse>;

/**
 * Nesting features a vendor IOMMU reports (seeds/004_*, "Feature Checking").
 * SYSWIDE_PASID, BIND_PGTBL and CACHE_INVLD carry the bit values of the
 * posted `iommu_nesting_info` series (never merged); BIND_PASID_TABLE and
 * PAGE_REQUEST were listed in the document without numbers — iommu-sim gives
 * them the next bits in the document's order.
 */
export const IOMMU_NESTING_FEAT_SYSWIDE_PASID = 1 << 0;
export const IOMMU_NESTING_FEAT_BIND_PGTBL = 1 << 1;
export const IOMMU_NESTING_FEAT_CACHE_INVLD = 1 << 2;
export const IOMMU_NESTING_FEAT_BIND_PASID_TABLE = 1 << 3;
export const IOMMU_NESTING_FEAT_PAGE_REQUEST = 1 << 4;

/** A struct read with the old UAPI's rules. */
export interface LegacyCopyIn<V> {
  readonly value: V;
  /** The caller's `argsz`. */
  readonly argsz: number;
  /** Bytes the kernel read. */
  readonly readSize: number;
}

function readArgsz<V>(
  layout: Layout<V>,
  user: Uint8Array,
  fixed: number,
): { argsz: number; view: DataView } | Errno {
  if (user.length < fixed) return errno("EFAULT", `${layout.name}: cannot read ${fixed} bytes`);
  const view = new DataView(user.buffer, user.byteOffset, user.byteLength);
  const argsz = view.getUint32(0, true);
  if (argsz < fixed) return errno("EINVAL", `${layout.name}: argsz ${argsz} < ${fixed}`);
  return { argsz, view };
}

function readPrefix<V>(layout: Layout<V>, user: Uint8Array, n: number): V {
  const k = new Uint8Array(layout.size);
  k.set(user.subarray(0, Math.min(n, layout.size)));
  return layout.decode(k);
}

function allZero(a: Uint8Array): boolean {
  return a.every((b) => b === 0);
}

/**
 * Read an `iommu_cache_invalidate_info` (iommu_uapi_cache_invalidate()):
 * the 16-byte fixed part is mandatory; granularity PASID needs argsz ≥ 32,
 * ADDR needs ≥ 56. Then: version ≠ 1, unknown cache bits, granularity ≥ NR,
 * PASID cache with ADDR granularity, DEV_IOTLB with DOMAIN granularity,
 * unknown pasid/addr flags, or non-zero padding → EINVAL.
 */
export function iommuCacheInvalidateCopyIn(user: Uint8Array): LegacyCopyIn<IommuCacheInvalidateInfo> | Errno {
  const L = iommuCacheInvalidateInfo;
  const fixed = L.offsetOf("granu");
  const head = readArgsz(L, user, fixed);
  if (isErrno(head)) return head;
  const granularity = user[L.offsetOf("granularity")] as number;
  let need = fixed;
  if (granularity === IOMMU_INV_GRANU_PASID) need = fixed + iommuInvPasidInfo.size;
  else if (granularity === IOMMU_INV_GRANU_ADDR) need = fixed + iommuInvAddrInfo.size;
  if (head.argsz < need)
    return errno("EINVAL", `argsz ${head.argsz} < ${need} for granularity ${granularity}`);
  if (user.length < need) return errno("EFAULT", "cannot read granu");
  const v = readPrefix(L, user, need);
  if (v.version !== IOMMU_CACHE_INVALIDATE_INFO_VERSION_1)
    return errno("EINVAL", `unknown version ${v.version}`);
  if ((v.cache & ~((1 << IOMMU_CACHE_INV_TYPE_NR) - 1)) !== 0) return errno("EINVAL", "unknown cache bits");
  if (v.granularity >= IOMMU_INV_GRANU_NR) return errno("EINVAL", "unknown granularity");
  if (v.granularity === IOMMU_INV_GRANU_ADDR) {
    if (v.cache & IOMMU_CACHE_INV_TYPE_PASID)
      return errno("EINVAL", "PASID cache has no address granularity");
    if ((v.granu.addr_info.flags & ~(iommuInvAddrInfo.knownFlags ?? 0)) !== 0)
      return errno("EINVAL", "addr_info.flags");
  } else if (v.granularity === IOMMU_INV_GRANU_PASID) {
    if ((v.granu.pasid_info.flags & ~(iommuInvPasidInfo.knownFlags ?? 0)) !== 0) {
      return errno("EINVAL", "pasid_info.flags");
    }
  } else if (v.cache & IOMMU_CACHE_INV_TYPE_DEV_IOTLB) {
    return errno("EINVAL", "device IOTLB has no domain granularity");
  }
  if (!allZero(v.padding)) return errno("EINVAL", "padding must be 0");
  return { value: v, argsz: head.argsz, readSize: need };
}

/**
 * Read an `iommu_gpasid_bind_data` (iommu_uapi_sva_bind_gpasid()): the
 * 56-byte generic part is mandatory; format INTEL_VTD needs argsz ≥ 72.
 * Then version ≠ 1, format 0 or ≥ IOMMU_PASID_FORMAT_LAST, unknown flag
 * bits, or non-zero padding → EINVAL.
 */
export function iommuGpasidBindCopyIn(user: Uint8Array): LegacyCopyIn<IommuGpasidBindData> | Errno {
  const L = iommuGpasidBindData;
  const fixed = L.offsetOf("vendor");
  const head = readArgsz(L, user, fixed);
  if (isErrno(head)) return head;
  const format = head.view.getUint32(L.offsetOf("format"), true);
  const need = format === IOMMU_PASID_FORMAT_INTEL_VTD ? L.size : fixed;
  if (head.argsz < need) return errno("EINVAL", `argsz ${head.argsz} < ${need} for format ${format}`);
  if (user.length < need) return errno("EFAULT", "cannot read vendor data");
  const v = readPrefix(L, user, need);
  if (v.version !== IOMMU_GPASID_BIND_VERSION_1) return errno("EINVAL", `unknown version ${v.version}`);
  if (v.format === 0 || v.format >= IOMMU_PASID_FORMAT_LAST)
    return errno("EINVAL", `unknown format ${v.format}`);
  if ((v.flags & ~BigInt(IOMMU_SVA_GPASID_VAL)) !== 0n) return errno("EINVAL", "unknown flags");
  if (!allZero(v.padding)) return errno("EINVAL", "padding must be 0");
  return { value: v, argsz: head.argsz, readSize: need };
}

/**
 * Read an `iommu_page_response`: argsz ≥ 24 (offsetofend(code)); version ≠ 1
 * or flags other than IOMMU_PAGE_RESP_PASID_VALID → EINVAL.
 */
export function iommuPageResponseCopyIn(user: Uint8Array): LegacyCopyIn<IommuPageResponse> | Errno {
  const L = iommuPageResponse;
  const head = readArgsz(L, user, L.minSize);
  if (isErrno(head)) return head;
  const v = readPrefix(L, user, L.minSize);
  if (v.version !== IOMMU_PAGE_RESP_VERSION_1) return errno("EINVAL", `unknown version ${v.version}`);
  if ((v.flags & ~IOMMU_PAGE_RESP_PASID_VALID) !== 0) return errno("EINVAL", "unknown flags");
  return { value: v, argsz: head.argsz, readSize: L.minSize };
}
