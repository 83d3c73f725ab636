/**
 * Executing invalidation descriptors against a unit's caches.
 *
 * What each type removes (VT-d spec rev 4.1 §6.5.2; QEMU
 * hw/i386/intel_iommu.c `vtd_process_inv_desc()` for comparison):
 * - context-cache (type 1): global or domain-selective → all context
 *   entries (scalable-mode context entries carry no DID); device-selective →
 *   the SID with the function mask FM (0: none, 1: SID[2], 2: SID[2:1],
 *   3: SID[2:0]).
 * - IOTLB (type 2): global → everything; domain-selective → every entry of
 *   the DID; page-selective-within-domain → second-stage / pass-through
 *   entries of the DID overlapping [ADDR, ADDR + 2^AM pages), and every
 *   nested entry of the DID (its input is a first-stage address, so the
 *   hardware cannot tell which nested entries a GPA range feeds).
 * - PASID-based IOTLB (type 6): first-stage and nested entries of DID+PASID,
 *   all (G = 2) or overlapping the range (G = 3). Second-stage-only entries
 *   are untouched.
 * - PASID-cache (type 7): by DID (G = 0), DID+PASID (G = 1), or all (G = 3).
 * - device-TLB (types 3 and 8), interrupt-entry cache (type 4): accepted;
 *   device TLBs and the interrupt-entry cache are not modelled.
 * - invalidation wait (type 5): SW writes the status data (4 bytes) to the
 *   status address (`statusWrites`); IF counts an invalidation-wait
 *   completion (ICS.IWC).
 * - page group response (type 9): answers the device's outstanding page
 *   request group.
 */
import type { Descriptor } from "./descriptors";
import { PC_GRAN, PIOTLB_GRAN, QI_TYPE } from "./descriptors";
import { type Iotlb, TLB_CLASS, tagClass, tagDid, tagPasid } from "./iotlb";
import { mapSet, type VtdUnit } from "./state";

const bits = (v: bigint, lo: number, width: number): number =>
  Number((v >> BigInt(lo)) & ((1n << BigInt(width)) - 1n));

/** A status write an invalidation-wait descriptor performs: 4 bytes at `pa`. */
export interface StatusWrite {
  readonly pa: bigint;
  readonly data: number;
}

/** The status writes of `descs` (SW = 1 wait descriptors), in order. */
export function statusWrites(descs: readonly Descriptor[]): StatusWrite[] {
  const out: StatusWrite[] = [];
  for (const [qw0, qw1] of descs) {
    if (bits(qw0, 0, 4) === QI_TYPE.IWD && bits(qw0, 5, 1) === 1)
      out.push({ pa: qw1 & ~3n, data: bits(qw0, 32, 32) });
  }
  return out;
}

function contextInvalidate(unit: VtdUnit, qw0: bigint): VtdUnit {
  const gran = bits(qw0, 4, 2);
  if (gran !== 3) return { ...unit, contextCache: unit.contextCache.clear() };
  const sid = bits(qw0, 32, 16);
  const fm = bits(qw0, 48, 2);
  const mask = ~[0, 0b100, 0b110, 0b111][fm]! & 0xffff;
  return { ...unit, contextCache: unit.contextCache.deleteWhere((rid) => (rid & mask) === (sid & mask)) };
}

function iotlbInvalidate(unit: VtdUnit, qw0: bigint, qw1: bigint): VtdUnit {
  return invalidateIotlb(unit, bits(qw0, 4, 2), bits(qw0, 16, 16), Number(qw1 >> 12n), bits(qw1, 0, 6));
}

/**
 * What an IOTLB invalidate descriptor (type 2) does, from its decoded
 * fields: granularity 1 (global), 2 (domain `did`), 3 (page-selective
 * within `did`: 2^`am` pages from 4 KiB page `vpn`, aligned down). Shared
 * by the queued-invalidation path and drivers' direct flushes.
 */
export function invalidateIotlb(unit: VtdUnit, gran: number, did: number, vpn: number, am: number): VtdUnit {
  if (unit.iotlb.size === 0) return unit;
  let iotlb: Iotlb;
  if (gran === 1) iotlb = unit.iotlb.invalidate(() => true);
  else if (gran === 2) iotlb = unit.iotlb.invalidate((t) => tagDid(t) === did);
  else {
    const range = { vpnStart: vpn, pages: 2 ** am };
    range.vpnStart -= range.vpnStart % range.pages;
    iotlb = unit.iotlb.invalidate((t) => tagDid(t) === did && tagClass(t) === TLB_CLASS.SECOND_STAGE, range);
    iotlb = iotlb.invalidate((t) => tagDid(t) === did && tagClass(t) === TLB_CLASS.NESTED);
  }
  // An unmap of pages no device used invalidates nothing: keep the unit.
  return iotlb === unit.iotlb ? unit : { ...unit, iotlb };
}

function piotlbInvalidate(unit: VtdUnit, qw0: bigint, qw1: bigint): VtdUnit {
  const gran = bits(qw0, 4, 2);
  const did = bits(qw0, 16, 16);
  const pasid = bits(qw0, 32, 20);
  const match = (t: number) =>
    tagDid(t) === did && tagPasid(t) === pasid && tagClass(t) !== TLB_CLASS.SECOND_STAGE;
  if (gran === PIOTLB_GRAN.NONGLOBAL_PASID) return { ...unit, iotlb: unit.iotlb.invalidate(match) };
  if (gran !== PIOTLB_GRAN.PAGE_PASID) return unit;
  const am = bits(qw1, 0, 6);
  const pages = 2 ** am;
  const vpn = Number(qw1 >> 12n);
  return { ...unit, iotlb: unit.iotlb.invalidate(match, { vpnStart: vpn - (vpn % pages), pages }) };
}

function pasidCacheInvalidate(unit: VtdUnit, qw0: bigint): VtdUnit {
  const gran = bits(qw0, 4, 2);
  const did = bits(qw0, 16, 16);
  const pasid = bits(qw0, 32, 20);
  if (gran === PC_GRAN.GLOBAL) return { ...unit, pasidCache: unit.pasidCache.clear() };
  return {
    ...unit,
    pasidCache: unit.pasidCache.deleteWhere(
      (key, pe) => pe.did === did && (gran === PC_GRAN.DOMAIN || key % 0x100000 === pasid),
    ),
  };
}

function pageGroupResponse(unit: VtdUnit, qw0: bigint, qw1: bigint): VtdUnit {
  const rid = bits(qw0, 16, 16);
  const index = bits(qw1, 3, 9);
  const key = rid * 512 + index;
  const group = unit.pageGroups.get(key);
  if (group === undefined) return unit;
  return { ...unit, pageGroups: mapSet(unit.pageGroups, key, { ...group, response: bits(qw0, 12, 4) }) };
}

/** Execute one (decoded, valid) descriptor on the unit's caches and registers. */
export function executeDescriptor(unit: VtdUnit, desc: Descriptor): VtdUnit {
  const [qw0, qw1] = desc;
  switch (bits(qw0, 0, 4)) {
    case QI_TYPE.CC:
      return contextInvalidate(unit, qw0);
    case QI_TYPE.IOTLB:
      return iotlbInvalidate(unit, qw0, qw1);
    case QI_TYPE.EIOTLB:
      return piotlbInvalidate(unit, qw0, qw1);
    case QI_TYPE.PC:
      return pasidCacheInvalidate(unit, qw0);
    case QI_TYPE.IWD:
      return bits(qw0, 4, 1) === 1 ? { ...unit, iwcCount: unit.iwcCount + 1 } : unit;
    case QI_TYPE.PGRP_RESP:
      return pageGroupResponse(unit, qw0, qw1);
    default:
      return unit;
  }
}
