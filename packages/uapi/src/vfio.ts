/**
 * The VFIO user ABI iommu-sim models: the container (/dev/vfio/vfio) and
 * type1 IOMMU ioctls, the group ioctls, VFIO_DEVICE_GET_INFO and the cdev
 * ioctls used with iommufd (bind, attach/detach page table).
 *
 * Source: include/uapi/linux/vfio.h (Linux v6.17). The container, type1 and
 * group structs are unchanged since Linux v5.x apart from explicit padding
 * (`pad`), so the system's /usr/include/linux/vfio.h checks them in the C
 * compiler test. All sizes in bytes.
 */
import { type Errno, errno, isErrno } from "./errno";
import { _IO } from "./ioctl";
import {
  type AnyLayout,
  defineStruct,
  type EncodeInput,
  field,
  type Layout,
  type LayoutValue,
  reserved,
} from "./layout/index";
import { type ArgszCopyIn, type ArgszExtension, argszCopyIn } from "./size-rules";

const VFIO_H = "include/uapi/linux/vfio.h (Linux v6.17)";

/** `VFIO_API_VERSION`: what VFIO_GET_API_VERSION returns. */
export const VFIO_API_VERSION = 0;

/** VFIO ioctl type (`';'`, shared with iommufd) and base command number. */
export const VFIO_TYPE = ";";
export const VFIO_BASE = 100;

/**
 * Extensions for VFIO_CHECK_EXTENSION / IOMMU types for VFIO_SET_IOMMU.
 * VFIO_TYPE1_NESTING_IOMMU (6) was withdrawn in Linux v6.13; the number stays reserved.
 */
export const VFIO_EXTENSION = {
  VFIO_TYPE1_IOMMU: 1,
  VFIO_SPAPR_TCE_IOMMU: 2,
  VFIO_TYPE1v2_IOMMU: 3,
  VFIO_DMA_CC_IOMMU: 4,
  VFIO_EEH: 5,
  VFIO_TYPE1_NESTING_IOMMU: 6,
  VFIO_SPAPR_TCE_v2_IOMMU: 7,
  VFIO_NOIOMMU_IOMMU: 8,
  VFIO_UNMAP_ALL: 9,
  VFIO_UPDATE_VADDR: 10,
} as const;
export const VFIO_TYPE1_IOMMU = 1;
export const VFIO_TYPE1v2_IOMMU = 3;
export const VFIO_NOIOMMU_IOMMU = 8;

/** VFIO request numbers (all `_IO(';', 100 + n)`). VFIO_IOMMU_DIRTY_PAGES and VFIO_DEVICE_FEATURE share +17 on different fds. */
export const VFIO_IOCTL = {
  VFIO_GET_API_VERSION: _IO(VFIO_TYPE, VFIO_BASE + 0),
  VFIO_CHECK_EXTENSION: _IO(VFIO_TYPE, VFIO_BASE + 1),
  VFIO_SET_IOMMU: _IO(VFIO_TYPE, VFIO_BASE + 2),
  VFIO_GROUP_GET_STATUS: _IO(VFIO_TYPE, VFIO_BASE + 3),
  VFIO_GROUP_SET_CONTAINER: _IO(VFIO_TYPE, VFIO_BASE + 4),
  VFIO_GROUP_UNSET_CONTAINER: _IO(VFIO_TYPE, VFIO_BASE + 5),
  VFIO_GROUP_GET_DEVICE_FD: _IO(VFIO_TYPE, VFIO_BASE + 6),
  VFIO_DEVICE_GET_INFO: _IO(VFIO_TYPE, VFIO_BASE + 7),
  VFIO_DEVICE_RESET: _IO(VFIO_TYPE, VFIO_BASE + 11),
  VFIO_IOMMU_GET_INFO: _IO(VFIO_TYPE, VFIO_BASE + 12),
  VFIO_IOMMU_MAP_DMA: _IO(VFIO_TYPE, VFIO_BASE + 13),
  VFIO_IOMMU_UNMAP_DMA: _IO(VFIO_TYPE, VFIO_BASE + 14),
  VFIO_IOMMU_ENABLE: _IO(VFIO_TYPE, VFIO_BASE + 15),
  VFIO_IOMMU_DISABLE: _IO(VFIO_TYPE, VFIO_BASE + 16),
  VFIO_IOMMU_DIRTY_PAGES: _IO(VFIO_TYPE, VFIO_BASE + 17),
  VFIO_DEVICE_FEATURE: _IO(VFIO_TYPE, VFIO_BASE + 17),
  VFIO_DEVICE_BIND_IOMMUFD: _IO(VFIO_TYPE, VFIO_BASE + 18),
  VFIO_DEVICE_ATTACH_IOMMUFD_PT: _IO(VFIO_TYPE, VFIO_BASE + 19),
  VFIO_DEVICE_DETACH_IOMMUFD_PT: _IO(VFIO_TYPE, VFIO_BASE + 20),
} as const;
export type VfioIoctlName = keyof typeof VFIO_IOCTL;

/** `struct vfio_info_cap_header` (8 bytes): `next` is an offset from the start of the info buffer (0 = end). */
export const vfioInfoCapHeader = defineStruct(
  "vfio_info_cap_header",
  [field("id", "u16"), field("version", "u16"), field("next", "u32")],
  { source: VFIO_H },
);
export type VfioInfoCapHeader = LayoutValue<typeof vfioInfoCapHeader>;

/** `vfio_group_status.flags` (output). */
export const VFIO_GROUP_FLAGS_VIABLE = 1 << 0;
export const VFIO_GROUP_FLAGS_CONTAINER_SET = 1 << 1;

/** `struct vfio_group_status` (8 bytes). minsz = offsetofend(flags) = 8. */
export const vfioGroupStatus = defineStruct(
  "vfio_group_status",
  [field("argsz", "u32"), field("flags", "u32")],
  {
    source: VFIO_H,
    lastMandatory: "flags",
  },
);
export type VfioGroupStatus = LayoutValue<typeof vfioGroupStatus>;

/** `vfio_device_info.flags` (output). */
export const VFIO_DEVICE_FLAGS_RESET = 1 << 0;
export const VFIO_DEVICE_FLAGS_PCI = 1 << 1;
export const VFIO_DEVICE_FLAGS_PLATFORM = 1 << 2;
export const VFIO_DEVICE_FLAGS_AMBA = 1 << 3;
export const VFIO_DEVICE_FLAGS_CCW = 1 << 4;
export const VFIO_DEVICE_FLAGS_AP = 1 << 5;
export const VFIO_DEVICE_FLAGS_FSL_MC = 1 << 6;
export const VFIO_DEVICE_FLAGS_CAPS = 1 << 7;
export const VFIO_DEVICE_FLAGS_CDX = 1 << 8;

/** `struct vfio_device_info` (20 bytes). minsz = offsetofend(num_irqs) = 16. */
export const vfioDeviceInfo = defineStruct(
  "vfio_device_info",
  [
    field("argsz", "u32"),
    field("flags", "u32"),
    field("num_regions", "u32"),
    field("num_irqs", "u32"),
    field("cap_offset", "u32"),
  ],
  { source: VFIO_H, lastMandatory: "num_irqs" },
);
export type VfioDeviceInfo = LayoutValue<typeof vfioDeviceInfo>;

/**
 * vfio-pci's region and IRQ indexes (`enum { VFIO_PCI_BAR0_REGION_INDEX, …,
 * VFIO_PCI_NUM_REGIONS }`, `enum { VFIO_PCI_INTX_IRQ_INDEX, …,
 * VFIO_PCI_NUM_IRQS }`): BAR0–BAR5, ROM, CONFIG, VGA; INTx, MSI, MSI-X, ERR, REQ.
 * VFIO_DEVICE_GET_INFO of a PCI device answers at least these counts.
 */
export const VFIO_PCI_NUM_REGIONS = 9;
export const VFIO_PCI_NUM_IRQS = 5;

/** `vfio_iommu_type1_info.flags` (output). */
export const VFIO_IOMMU_INFO_PGSIZES = 1 << 0;
export const VFIO_IOMMU_INFO_CAPS = 1 << 1;

/**
 * `struct vfio_iommu_type1_info` (24 bytes; `pad` is explicit since Linux
 * v6.6, implicit before). minsz = offsetofend(iova_pgsizes) = 16.
 */
export const vfioIommuType1Info = defineStruct(
  "vfio_iommu_type1_info",
  [
    field("argsz", "u32"),
    field("flags", "u32"),
    field("iova_pgsizes", "u64"),
    field("cap_offset", "u32"),
    reserved("pad", "u32"),
  ],
  { source: VFIO_H, lastMandatory: "iova_pgsizes" },
);
export type VfioIommuType1Info = LayoutValue<typeof vfioIommuType1Info>;

/** Capability ids of VFIO_IOMMU_GET_INFO's chain. */
export const VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE = 1;
export const VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION = 2;
export const VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL = 3;

/** `struct vfio_iova_range` (16 bytes): inclusive [start, end]. */
export const vfioIovaRange = defineStruct("vfio_iova_range", [field("start", "u64"), field("end", "u64")], {
  source: VFIO_H,
});
export type VfioIovaRange = LayoutValue<typeof vfioIovaRange>;

/** `struct vfio_iommu_type1_info_cap_iova_range` (16 bytes, then `nr_iovas` × vfio_iova_range). */
export const vfioIommuType1InfoCapIovaRange = defineStruct(
  "vfio_iommu_type1_info_cap_iova_range",
  [field("header", vfioInfoCapHeader), field("nr_iovas", "u32"), reserved("reserved", "u32")],
  { source: VFIO_H },
);
export type VfioIommuType1InfoCapIovaRange = LayoutValue<typeof vfioIommuType1InfoCapIovaRange>;

/** `struct vfio_iommu_type1_info_cap_migration` (32 bytes; 4 bytes of implicit padding after `flags`). */
export const vfioIommuType1InfoCapMigration = defineStruct(
  "vfio_iommu_type1_info_cap_migration",
  [
    field("header", vfioInfoCapHeader),
    field("flags", "u32"),
    field("pgsize_bitmap", "u64"),
    field("max_dirty_bitmap_size", "u64"),
  ],
  { source: VFIO_H },
);
export type VfioIommuType1InfoCapMigration = LayoutValue<typeof vfioIommuType1InfoCapMigration>;

/** `struct vfio_iommu_type1_info_dma_avail` (12 bytes): DMA mappings still available. */
export const vfioIommuType1InfoDmaAvail = defineStruct(
  "vfio_iommu_type1_info_dma_avail",
  [field("header", vfioInfoCapHeader), field("avail", "u32")],
  { source: VFIO_H },
);
export type VfioIommuType1InfoDmaAvail = LayoutValue<typeof vfioIommuType1InfoDmaAvail>;

/** `vfio_iommu_type1_dma_map.flags`. */
export const VFIO_DMA_MAP_FLAG_READ = 1 << 0;
export const VFIO_DMA_MAP_FLAG_WRITE = 1 << 1;
export const VFIO_DMA_MAP_FLAG_VADDR = 1 << 2;

/** `struct vfio_iommu_type1_dma_map` (32 bytes). minsz = offsetofend(size) = 32. Unknown flags → EINVAL. */
export const vfioIommuType1DmaMap = defineStruct(
  "vfio_iommu_type1_dma_map",
  [
    field("argsz", "u32"),
    field("flags", "u32"),
    field("vaddr", "u64"),
    field("iova", "u64"),
    field("size", "u64"),
  ],
  {
    source: VFIO_H,
    lastMandatory: "size",
    knownFlags: VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE | VFIO_DMA_MAP_FLAG_VADDR,
  },
);
export type VfioIommuType1DmaMap = LayoutValue<typeof vfioIommuType1DmaMap>;

/** `struct vfio_bitmap` (24 bytes): `data` is a user pointer, one bit per `pgsize` bytes; `size` in bytes. */
export const vfioBitmap = defineStruct(
  "vfio_bitmap",
  [field("pgsize", "u64"), field("size", "u64"), field("data", "u64")],
  { source: VFIO_H },
);
export type VfioBitmap = LayoutValue<typeof vfioBitmap>;

/** `vfio_iommu_type1_dma_unmap.flags`. */
export const VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP = 1 << 0;
export const VFIO_DMA_UNMAP_FLAG_ALL = 1 << 1;
export const VFIO_DMA_UNMAP_FLAG_VADDR = 1 << 2;

/**
 * `struct vfio_iommu_type1_dma_unmap` (24 bytes, then `data[]`: a
 * `vfio_bitmap` with GET_DIRTY_BITMAP). minsz = offsetofend(size) = 24.
 * `size` is in/out (bytes unmapped).
 */
export const vfioIommuType1DmaUnmap = defineStruct(
  "vfio_iommu_type1_dma_unmap",
  [field("argsz", "u32"), field("flags", "u32"), field("iova", "u64"), field("size", "u64")],
  {
    source: VFIO_H,
    lastMandatory: "size",
    knownFlags: VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP | VFIO_DMA_UNMAP_FLAG_ALL | VFIO_DMA_UNMAP_FLAG_VADDR,
  },
);
export type VfioIommuType1DmaUnmap = LayoutValue<typeof vfioIommuType1DmaUnmap>;

/** `vfio_iommu_type1_dirty_bitmap.flags`. */
export const VFIO_IOMMU_DIRTY_PAGES_FLAG_START = 1 << 0;
export const VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP = 1 << 1;
export const VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP = 1 << 2;

/** `struct vfio_iommu_type1_dirty_bitmap` (8 bytes, then `data[]`). minsz = offsetofend(flags) = 8. */
export const vfioIommuType1DirtyBitmap = defineStruct(
  "vfio_iommu_type1_dirty_bitmap",
  [field("argsz", "u32"), field("flags", "u32")],
  {
    source: VFIO_H,
    lastMandatory: "flags",
    knownFlags:
      VFIO_IOMMU_DIRTY_PAGES_FLAG_START |
      VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP |
      VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP,
  },
);
export type VfioIommuType1DirtyBitmap = LayoutValue<typeof vfioIommuType1DirtyBitmap>;

/** `struct vfio_iommu_type1_dirty_bitmap_get` (40 bytes): the `data[]` of a GET_BITMAP request. */
export const vfioIommuType1DirtyBitmapGet = defineStruct(
  "vfio_iommu_type1_dirty_bitmap_get",
  [field("iova", "u64"), field("size", "u64"), field("bitmap", vfioBitmap)],
  { source: VFIO_H },
);
export type VfioIommuType1DirtyBitmapGet = LayoutValue<typeof vfioIommuType1DirtyBitmapGet>;

/** `vfio_device_bind_iommufd.flags`. */
export const VFIO_DEVICE_BIND_FLAG_TOKEN = 1 << 0;

/**
 * `struct vfio_device_bind_iommufd` (24 bytes). minsz = offsetofend(out_devid) = 16;
 * with VFIO_DEVICE_BIND_FLAG_TOKEN, argsz must reach `token_uuid_ptr` (24).
 */
export const vfioDeviceBindIommufd = defineStruct(
  "vfio_device_bind_iommufd",
  [
    field("argsz", "u32"),
    field("flags", "u32"),
    field("iommufd", "s32"),
    field("out_devid", "u32"),
    field("token_uuid_ptr", "u64"),
  ],
  { source: VFIO_H, lastMandatory: "out_devid", knownFlags: VFIO_DEVICE_BIND_FLAG_TOKEN },
);
export type VfioDeviceBindIommufd = LayoutValue<typeof vfioDeviceBindIommufd>;

/** `vfio_device_attach_iommufd_pt.flags`. */
export const VFIO_DEVICE_ATTACH_PASID = 1 << 0;

/**
 * `struct vfio_device_attach_iommufd_pt` (16 bytes). minsz = offsetofend(pt_id) = 12;
 * with VFIO_DEVICE_ATTACH_PASID, argsz must reach `pasid` (16). `pt_id` is in/out.
 */
export const vfioDeviceAttachIommufdPt = defineStruct(
  "vfio_device_attach_iommufd_pt",
  [field("argsz", "u32"), field("flags", "u32"), field("pt_id", "u32"), field("pasid", "u32")],
  { source: VFIO_H, lastMandatory: "pt_id", knownFlags: VFIO_DEVICE_ATTACH_PASID },
);
export type VfioDeviceAttachIommufdPt = LayoutValue<typeof vfioDeviceAttachIommufdPt>;

/** `vfio_device_detach_iommufd_pt.flags`. */
export const VFIO_DEVICE_DETACH_PASID = 1 << 0;

/**
 * `struct vfio_device_detach_iommufd_pt` (12 bytes). minsz = offsetofend(flags) = 8;
 * with VFIO_DEVICE_DETACH_PASID, argsz must reach `pasid` (12).
 */
export const vfioDeviceDetachIommufdPt = defineStruct(
  "vfio_device_detach_iommufd_pt",
  [field("argsz", "u32"), field("flags", "u32"), field("pasid", "u32")],
  { source: VFIO_H, lastMandatory: "flags", knownFlags: VFIO_DEVICE_DETACH_PASID },
);
export type VfioDeviceDetachIommufdPt = LayoutValue<typeof vfioDeviceDetachIommufdPt>;

/** How the kernel reads one VFIO ioctl's struct (see `argszCopyIn`). */
export interface VfioArgszRule {
  readonly layout: AnyLayout;
  readonly extensions: readonly ArgszExtension[];
}

/**
 * The argsz rule of each VFIO ioctl that takes an argsz struct
 * (drivers/vfio/vfio_iommu_type1.c, group.c, device_cdev.c, Linux v6.17).
 */
export const VFIO_ARGSZ_RULES: Readonly<Partial<Record<VfioIoctlName, VfioArgszRule>>> = {
  VFIO_GROUP_GET_STATUS: { layout: vfioGroupStatus, extensions: [] },
  VFIO_DEVICE_GET_INFO: { layout: vfioDeviceInfo, extensions: [] },
  VFIO_IOMMU_GET_INFO: { layout: vfioIommuType1Info, extensions: [] },
  VFIO_IOMMU_MAP_DMA: { layout: vfioIommuType1DmaMap, extensions: [] },
  VFIO_IOMMU_UNMAP_DMA: { layout: vfioIommuType1DmaUnmap, extensions: [] },
  VFIO_IOMMU_DIRTY_PAGES: { layout: vfioIommuType1DirtyBitmap, extensions: [] },
  VFIO_DEVICE_BIND_IOMMUFD: {
    layout: vfioDeviceBindIommufd,
    extensions: [{ flag: VFIO_DEVICE_BIND_FLAG_TOKEN, last: "token_uuid_ptr" }],
  },
  VFIO_DEVICE_ATTACH_IOMMUFD_PT: {
    layout: vfioDeviceAttachIommufdPt,
    extensions: [{ flag: VFIO_DEVICE_ATTACH_PASID, last: "pasid" }],
  },
  VFIO_DEVICE_DETACH_IOMMUFD_PT: {
    layout: vfioDeviceDetachIommufdPt,
    extensions: [{ flag: VFIO_DEVICE_DETACH_PASID, last: "pasid" }],
  },
};

/**
 * Read the struct of VFIO ioctl `name` from `user` with its argsz rule
 * (argsz < minsz or unknown flags → EINVAL; unreadable → EFAULT). Throws if
 * `name` takes no argsz struct (a programming error).
 */
export function vfioCopyIn(
  name: VfioIoctlName,
  user: Uint8Array,
): ArgszCopyIn<Record<string, unknown>> | Errno {
  const rule = VFIO_ARGSZ_RULES[name];
  if (rule === undefined) throw new Error(`${name} takes no argsz struct`);
  return argszCopyIn(rule.layout as Layout<Record<string, unknown>>, user, { extensions: rule.extensions });
}

/** What `vfioDmaUnmapCopyIn` reads: the struct, the caller's argsz, and the dirty bitmap if requested. */
export interface VfioDmaUnmapCopyIn {
  readonly value: VfioIommuType1DmaUnmap;
  readonly bitmap: VfioBitmap | undefined;
  readonly argsz: number;
}

/** What `vfioDirtyPagesCopyIn` reads: the header, the caller's argsz, and the range with GET_BITMAP. */
export interface VfioDirtyPagesCopyIn {
  readonly value: VfioIommuType1DirtyBitmap;
  readonly range: VfioIommuType1DirtyBitmapGet | undefined;
  readonly argsz: number;
}

/**
 * VFIO_IOMMU_UNMAP_DMA's read: the fixed struct, plus the `vfio_bitmap` in
 * `data[]` when VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP is set (argsz must then
 * be ≥ 24 + 24 → else EINVAL).
 */
export function vfioDmaUnmapCopyIn(user: Uint8Array): VfioDmaUnmapCopyIn | Errno {
  const r = argszCopyIn(vfioIommuType1DmaUnmap, user);
  if (isErrno(r)) return r;
  if ((r.value.flags & VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP) === 0) {
    return { value: r.value, bitmap: undefined, argsz: r.userSize };
  }
  const end = vfioIommuType1DmaUnmap.size + vfioBitmap.size;
  if (r.userSize < end) return errno("EINVAL", "argsz too small for vfio_bitmap");
  if (user.length < end) return errno("EFAULT", "cannot read vfio_bitmap");
  return { value: r.value, bitmap: vfioBitmap.decode(user, vfioIommuType1DmaUnmap.size), argsz: r.userSize };
}

/**
 * VFIO_IOMMU_DIRTY_PAGES's read: the 8-byte header, plus a
 * `vfio_iommu_type1_dirty_bitmap_get` in `data[]` with GET_BITMAP
 * (argsz − 8 < 40 → EINVAL).
 */
export function vfioDirtyPagesCopyIn(user: Uint8Array): VfioDirtyPagesCopyIn | Errno {
  const r = argszCopyIn(vfioIommuType1DirtyBitmap, user);
  if (isErrno(r)) return r;
  if ((r.value.flags & VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP) === 0) {
    return { value: r.value, range: undefined, argsz: r.userSize };
  }
  const base = vfioIommuType1DirtyBitmap.minSize;
  if (r.userSize - base < vfioIommuType1DirtyBitmapGet.size)
    return errno("EINVAL", "argsz too small for range");
  if (user.length < base + vfioIommuType1DirtyBitmapGet.size) return errno("EFAULT", "cannot read range");
  return { value: r.value, range: vfioIommuType1DirtyBitmapGet.decode(user, base), argsz: r.userSize };
}

/** One capability of a VFIO info chain: header id/version and the bytes after the 8-byte header. */
export interface VfioCap {
  readonly id: number;
  readonly version: number;
  readonly body: Uint8Array;
}

/** A capability found in a chain, with its offset (from the start of the info buffer). */
export interface VfioCapAt extends VfioCap {
  readonly offset: number;
}

/**
 * Encode a capability chain to be placed at byte `base` of an info buffer
 * (`next` offsets are relative to the buffer start, as after
 * vfio_info_cap_shift()). Each capability is padded to a multiple of 8
 * bytes (vfio_info_cap_add(), Linux ≥ v6.6). Returns the chain bytes.
 */
export function encodeVfioCapChain(caps: readonly VfioCap[], base: number): Uint8Array {
  const sizes = caps.map((c) => Math.ceil((8 + c.body.length) / 8) * 8);
  const total = sizes.reduce((a, b) => a + b, 0);
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  let at = 0;
  caps.forEach((c, i) => {
    const size = sizes[i] as number;
    view.setUint16(at, c.id, true);
    view.setUint16(at + 2, c.version, true);
    view.setUint32(at + 4, i === caps.length - 1 ? 0 : base + at + size, true);
    out.set(c.body, at + 8);
    at += size;
  });
  return out;
}

/**
 * Walk the capability chain of an info buffer starting at `firstOffset`
 * (0 = no chain). A `next` pointing outside the buffer, backwards, or into a
 * loop → EINVAL. A capability's body runs to the next one (or buffer end).
 */
export function decodeVfioCapChain(buf: Uint8Array, firstOffset: number): VfioCapAt[] | Errno {
  const out: VfioCapAt[] = [];
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let at = firstOffset;
  let prev = -1;
  while (at !== 0) {
    if (at <= prev || at + 8 > buf.length) return errno("EINVAL", `bad capability offset ${at}`);
    const next = view.getUint32(at + 4, true);
    const end = next === 0 ? buf.length : Math.min(next, buf.length);
    out.push({
      id: view.getUint16(at, true),
      version: view.getUint16(at + 2, true),
      offset: at,
      body: buf.slice(at + 8, end),
    });
    prev = at;
    at = next;
  }
  return out;
}

/**
 * Build the reply of an INFO ioctl with a capability chain, as
 * vfio_iommu_type1_get_info() and vfio_pci_ioctl_get_info() do:
 *
 * - with capabilities, `capsFlag` is set in `flags`;
 * - if `argsz` < sizeof(info) + chain size: `argsz` is raised to the size
 *   needed, `cap_offset` = 0, and no chain is written;
 * - else the chain follows the struct and `cap_offset` = sizeof(info).
 *
 * Returns the bytes to copy to the argument pointer (the first
 * min(argsz, sizeof(info)) bytes of the struct, then the chain if it fits)
 * and the struct as returned. `layout` must have `argsz`, `flags` and `cap_offset`.
 */
export function vfioInfoReply<V>(
  layout: Layout<V>,
  info: EncodeInput<V>,
  argsz: number,
  caps: readonly VfioCap[],
  capsFlag: number,
): { readonly bytes: Uint8Array; readonly info: V } {
  const fixed = layout.size;
  const v: Record<string, unknown> = { ...(info as Record<string, unknown>), argsz };
  let chain: Uint8Array | undefined;
  if (caps.length > 0) {
    v.flags = (((v.flags as number | undefined) ?? 0) | capsFlag) >>> 0;
    const encoded = encodeVfioCapChain(caps, fixed);
    if (argsz < fixed + encoded.length) {
      v.argsz = fixed + encoded.length;
      v.cap_offset = 0;
    } else {
      v.cap_offset = fixed;
      chain = encoded;
    }
  }
  const head = layout.encode(v as EncodeInput<V>);
  const headLen = Math.min(argsz, fixed);
  const bytes = new Uint8Array(headLen + (chain?.length ?? 0));
  bytes.set(head.subarray(0, headLen));
  if (chain !== undefined) bytes.set(chain, fixed);
  return { bytes, info: layout.decode(head) };
}

/** The body (after the header) of an IOVA_RANGE capability (version 1) listing inclusive ranges. */
export function vfioIovaRangeCap(ranges: readonly { start: bigint; end: bigint }[]): VfioCap {
  const body = new Uint8Array(8 + ranges.length * vfioIovaRange.size);
  new DataView(body.buffer).setUint32(0, ranges.length, true);
  ranges.forEach((r, i) => {
    vfioIovaRange.encodeInto(r, body, 8 + i * vfioIovaRange.size);
  });
  return { id: VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE, version: 1, body };
}

/** The MIGRATION capability (version 1): supported dirty page sizes and max bitmap size in bytes. */
export function vfioMigrationCap(pgsizeBitmap: bigint, maxDirtyBitmapSize: bigint, flags = 0): VfioCap {
  const full = vfioIommuType1InfoCapMigration.encode({
    flags,
    pgsize_bitmap: pgsizeBitmap,
    max_dirty_bitmap_size: maxDirtyBitmapSize,
  });
  return { id: VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION, version: 1, body: full.slice(8) };
}

/** The DMA_AVAIL capability (version 1): how many more DMA mappings the container accepts. */
export function vfioDmaAvailCap(avail: number): VfioCap {
  const full = vfioIommuType1InfoDmaAvail.encode({ avail });
  return { id: VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL, version: 1, body: full.slice(8) };
}
