/**
 * Queued-invalidation descriptors: encoders with the spec's bit positions
 * (what the Linux driver writes into the invalidation queue) and a decoder
 * of raw queue bytes. In scalable mode (ECAP.SMTS) descriptors are 256 bits
 * (IQA_REG.DW = 1, Linux `qi_shift()`); only the first two quadwords carry
 * fields for the types modelled here, the rest must be zero.
 *
 * Source: VT-d spec rev 4.1 §6.5.2 (descriptor formats), Linux
 * drivers/iommu/intel/iommu.h (`QI_*` macros: QI_CC_*, QI_IOTLB_*,
 * QI_DEV_IOTLB_*, QI_IWD_*, QI_EIOTLB_*, QI_PC_*, QI_DEV_EIOTLB_*, QI_PGRP_*).
 */
import { type Errno, errno } from "@iommu-sim/uapi";

/** Descriptor type codes (Linux QI_*_TYPE). */
export const QI_TYPE = {
  /** Context-cache invalidate. */
  CC: 0x1,
  /** IOTLB invalidate. */
  IOTLB: 0x2,
  /** Device-TLB invalidate. */
  DIOTLB: 0x3,
  /** Interrupt-entry-cache invalidate. */
  IEC: 0x4,
  /** Invalidation wait. */
  IWD: 0x5,
  /** PASID-based IOTLB invalidate. */
  EIOTLB: 0x6,
  /** PASID-cache invalidate. */
  PC: 0x7,
  /** PASID-based device-TLB invalidate. */
  DEIOTLB: 0x8,
  /** Page group response. */
  PGRP_RESP: 0x9,
} as const;

/** Context-cache granularity (bits 5:4): 1 global, 2 domain-selective, 3 device-selective. */
export const CC_GRAN = { GLOBAL: 1, DOMAIN: 2, DEVICE: 3 } as const;
/** IOTLB granularity (bits 5:4): 1 global, 2 domain-selective, 3 page-selective-within-domain. */
export const IOTLB_GRAN = { GLOBAL: 1, DOMAIN: 2, PAGE: 3 } as const;
/** PASID-based IOTLB granularity (Linux QI_GRAN_NONG_PASID / QI_GRAN_PSI_PASID). */
export const PIOTLB_GRAN = { NONGLOBAL_PASID: 2, PAGE_PASID: 3 } as const;
/** PASID-cache granularity (Linux QI_PC_ALL_PASIDS / QI_PC_PASID_SEL / QI_PC_GLOBAL). */
export const PC_GRAN = { DOMAIN: 0, PASID: 1, GLOBAL: 3 } as const;
/** Page group response codes (Linux QI_RESP_*; PCIe PRG response codes). */
export const QI_RESP = { SUCCESS: 0x0, INVALID: 0x1, FAILURE: 0xf } as const;

/** A descriptor as its quadwords `[qw0, qw1]`. */
export type Descriptor = readonly [bigint, bigint];

const B = BigInt;

/** Context-cache invalidate: qw0 = type | G<<4 | DID<<16 | SID<<32 | FM<<48. */
export function ccDesc(gran: number, did = 0, sid = 0, fm = 0): Descriptor {
  return [B(QI_TYPE.CC) | (B(gran) << 4n) | (B(did) << 16n) | (B(sid) << 32n) | (B(fm & 3) << 48n), 0n];
}

/**
 * IOTLB invalidate: qw0 = type | G<<4 | DW<<6 | DR<<7 | DID<<16;
 * qw1 = ADDR (bits 63:12) | IH<<6 | AM (bits 5:0, log2 of 4 KiB pages).
 */
export function iotlbDesc(gran: number, did = 0, addr = 0n, am = 0, ih = false): Descriptor {
  return [
    B(QI_TYPE.IOTLB) | (B(gran) << 4n) | (1n << 6n) | (1n << 7n) | (B(did) << 16n),
    (addr & ~0xfffn) | (ih ? 1n << 6n : 0n) | B(am & 0x3f),
  ];
}

/** PASID-based IOTLB invalidate: qw0 = type | G<<4 | DID<<16 | PASID<<32; qw1 = ADDR | IH<<6 | AM. */
export function piotlbDesc(
  gran: number,
  did: number,
  pasid: number,
  addr = 0n,
  am = 0,
  ih = false,
): Descriptor {
  return [
    B(QI_TYPE.EIOTLB) | (B(gran) << 4n) | (B(did) << 16n) | (B(pasid) << 32n),
    (addr & ~0xfffn) | (ih ? 1n << 6n : 0n) | B(am & 0x3f),
  ];
}

/** PASID-cache invalidate: qw0 = type | G<<4 | DID<<16 | PASID<<32. */
export function pcDesc(gran: number, did = 0, pasid = 0): Descriptor {
  return [B(QI_TYPE.PC) | (B(gran) << 4n) | (B(did) << 16n) | (B(pasid) << 32n), 0n];
}

/** Device-TLB invalidate: qw0 = type | QDEP<<16 | SID<<32; qw1 = ADDR | S (bit 0). */
export function devTlbDesc(sid: number, addr = 0n, size = false, qdep = 0): Descriptor {
  return [B(QI_TYPE.DIOTLB) | (B(qdep & 0x1f) << 16n) | (B(sid) << 32n), (addr & ~0xfffn) | (size ? 1n : 0n)];
}

/** PASID-based device-TLB invalidate: qw0 = type | QDEP<<4 | SID<<16 | PASID<<32; qw1 = ADDR | S<<11 | G. */
export function pDevTlbDesc(sid: number, pasid: number, addr = 0n, size = false, global = false): Descriptor {
  return [
    B(QI_TYPE.DEIOTLB) | (B(sid) << 16n) | (B(pasid & 0xfffff) << 32n),
    (addr & ~0xfffn) | (size ? 1n << 11n : 0n) | (global ? 1n : 0n),
  ];
}

/**
 * Invalidation wait: qw0 = type | IF<<4 | SW<<5 | FN<<6 | StatusData<<32;
 * qw1 = status address (bits 63:2).
 */
export function waitDesc(opts: {
  statusAddr?: bigint;
  statusData?: number;
  interrupt?: boolean;
  fence?: boolean;
}): Descriptor {
  const sw = opts.statusAddr !== undefined;
  return [
    B(QI_TYPE.IWD) |
      (opts.interrupt === true ? 1n << 4n : 0n) |
      (sw ? 1n << 5n : 0n) |
      (opts.fence === true ? 1n << 6n : 0n) |
      (B(opts.statusData ?? 0) << 32n),
    (opts.statusAddr ?? 0n) & ~3n,
  ];
}

/**
 * Page group response: qw0 = type | PASID_P<<4 | RESP_CODE<<12 | RID<<16 |
 * PASID<<32; qw1 = LPIG<<2 | PRG index<<3.
 */
export function pageGroupResponseDesc(
  rid: number,
  index: number,
  code: number,
  pasid?: number,
  lpig = true,
): Descriptor {
  return [
    B(QI_TYPE.PGRP_RESP) |
      (pasid === undefined ? 0n : 1n << 4n) |
      (B(code & 0xf) << 12n) |
      (B(rid & 0xffff) << 16n) |
      (B(pasid ?? 0) << 32n),
    (lpig ? 1n << 2n : 0n) | (B(index & 0x1ff) << 3n),
  ];
}

/** Bytes per descriptor: 32 in scalable mode (256-bit), else 16. */
export function descriptorSize(smts: boolean): number {
  return smts ? 32 : 16;
}

/** Lay descriptors out as queue bytes (little-endian quadwords, padded to `size`). */
export function encodeDescriptors(descs: readonly Descriptor[], size: number): Uint8Array {
  const out = new Uint8Array(descs.length * size);
  const v = new DataView(out.buffer);
  descs.forEach((d, i) => {
    v.setBigUint64(i * size, BigInt.asUintN(64, d[0]), true);
    v.setBigUint64(i * size + 8, BigInt.asUintN(64, d[1]), true);
  });
  return out;
}

/**
 * Split queue bytes into descriptors and check their types: an unknown
 * type, or a non-zero upper half of a 256-bit descriptor, is an
 * invalidation queue error (FSTS.IQE), which Linux `qi_check_fault()`
 * turns into -EINVAL.
 */
export function decodeDescriptors(bytes: Uint8Array, size: number): Descriptor[] | Errno {
  if (bytes.length === 0 || bytes.length % size !== 0)
    return errno("EINVAL", `queue bytes must be a non-empty multiple of ${size}`);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Descriptor[] = [];
  for (let off = 0; off < bytes.length; off += size) {
    const qw0 = v.getBigUint64(off, true);
    const qw1 = v.getBigUint64(off + 8, true);
    const type = Number(qw0 & 0xfn) | (Number((qw0 >> 9n) & 7n) << 4);
    if (type < QI_TYPE.CC || type > QI_TYPE.PGRP_RESP)
      return errno("EINVAL", `IQE: descriptor ${off / size} has invalid type 0x${type.toString(16)}`);
    for (let q = 16; q < size; q += 8)
      if (v.getBigUint64(off + q, true) !== 0n)
        return errno("EINVAL", `IQE: descriptor ${off / size} has non-zero reserved quadwords`);
    out.push([qw0, qw1]);
  }
  return out;
}
