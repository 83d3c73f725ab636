/**
 * How the account names what a VT-d `vtd.dma` did, from its events: the
 * IOTLB entry it used (page size, translation class) and the fault it
 * raised (the reason code with the spec's name, VT-d 4.1 Appendix A).
 */
import type { LogRecord } from "@iommu-sim/eventlog";
import { decodePasidEntry, FR, PGTT, readContextEntry, type VtdUnit } from "@iommu-sim/hw-vtd";
import { hex } from "./account";

/** The fault reasons' names as the spec's Appendix A lists them (the codes hw-vtd reports). */
const REASON_TEXT: Record<number, string> = {
  [FR.ROOT_ENTRY_P]: "SRT.2 root entry not present",
  [FR.ROOT_ENTRY_RSVD]: "SRT.3 root entry reserved bit",
  [FR.CONTEXT_ENTRY_P]: "SCT.2 context entry not present",
  [FR.CONTEXT_ENTRY_RSVD]: "SCT.3 context entry reserved bit",
  [FR.CONTEXT_PASIDE_CLEAR]: "SCT.6 PASIDE clear",
  [FR.PASID_TOO_LARGE]: "SCT.7 PASID beyond the PASID directory",
  [FR.PASID_DIR_ENTRY_P]: "SPD.2 PASID directory entry not present",
  [FR.PASID_ENTRY_P]: "SPT.2 PASID-table entry not present",
  [FR.PASID_ENTRY_INV]: "SPT.4 invalid PASID-table entry",
  [FR.PASID_SRE_CLEAR]: "SPT.6 SRE clear",
  [FR.FS_ENTRY_P]: "SFS.2 first-stage entry not present",
  [FR.FS_ENTRY_RSVD]: "SFS.3 first-stage entry reserved bit",
  [FR.FS_ADDR_BEYOND_MGAW_NESTED]: "SFS.5 first-stage table address beyond the second stage",
  [FR.FS_ENTRY_READ_NESTED]: "SFS.7 second stage refuses a first-stage table read",
  [FR.FS_AD_WRITE_NESTED]: "SFS.8 second stage refuses a first-stage A/D update",
  [FR.SS_ENTRY_P]: "SSS.2 second-stage entry not present",
  [FR.SS_ENTRY_RSVD]: "SSS.3 second-stage entry reserved bit",
  [FR.NON_CANONICAL]: "SGN.1 non-canonical address",
  [FR.US_CLEAR]: "SGN.2 user request to a supervisor page",
  [FR.NO_EXECUTE]: "SGN.3 execute request to a no-execute page",
  [FR.ADDR_BEYOND_AW]: "SGN.4 address beyond the address width",
  [FR.NO_WRITE]: "SGN.6 no write permission",
  [FR.NO_READ]: "SGN.7 no read permission",
  [FR.INTERRUPT_ADDR]: "SGN.8 interrupt address range",
};

/** A fault reason as `0x79 (SSS.2 second-stage entry not present)`. */
export function reasonText(reason: number): string {
  const name = REASON_TEXT[reason];
  return name === undefined ? hex(reason) : `${hex(reason)} (${name})`;
}

const PAGE_SIZES = ["4 KiB", "2 MiB", "1 GiB"];
const CLASSES = ["second-stage", "first-stage", "nested"];

/** The IOTLB fill of a DMA (`vtd.iotlb.filled`): `4 KiB second-stage IOTLB entry, DID 2`; or "IOTLB hit". */
export function iotlbPageText(records: readonly LogRecord[]): string {
  const fill = records.find((r) => r.type === "vtd.iotlb.filled");
  if (fill === undefined) return "IOTLB hit";
  const d = fill.data as { did: number; cls: number; sizeIdx: number };
  return `${PAGE_SIZES[d.sizeIdx] ?? "?"} ${CLASSES[d.cls] ?? "?"} IOTLB entry, DID ${d.did}`;
}

/** The fault a DMA raised: a primary fault record or a page request; "no fault" otherwise. */
export function faultText(records: readonly LogRecord[]): string {
  for (const r of records) {
    if (r.type === "vtd.fault.recorded") {
      const d = r.data as { reason: number; addr: bigint; index?: number };
      return `primary fault ${reasonText(d.reason)} at ${hex(d.addr)}, fault recording register ${d.index ?? "lost"}`;
    }
    if (r.type === "vtd.prq.queued") {
      const d = r.data as { reason: number; addr: bigint; index: number; pasid?: number };
      return `page request (group ${d.index}, PASID ${d.pasid ?? "none"}) for ${hex(d.addr)} in the page request queue, fault ${reasonText(d.reason)}`;
    }
  }
  return "no fault";
}

/**
 * The PASID-table entry unit 0 holds for (`rid`, `pasid`), read from its
 * table memory as the hardware finds it (context entry → PASID directory
 * entry PASID >> 6 → entry PASID & 0x3f, VT-d 4.1 §9.4–9.6), as text:
 * `PGTT 3 (nested), DID 4`; "no PASID-table entry" when absent.
 */
export function pasidEntryText(unit: VtdUnit | undefined, rid: number, pasid: number): string {
  const ctx = unit === undefined ? undefined : readContextEntry(unit, rid);
  if (unit === undefined || ctx?.present !== true) return "no context entry";
  const dir = unit.tables.readU64(ctx.pasidDirPtr + (pasid >> 6) * 8);
  if ((dir & 1n) === 0n) return "no PASID-table entry";
  const pa = Number(dir & 0x000f_ffff_ffff_f000n) + (pasid & 0x3f) * 64;
  const e = decodePasidEntry(
    unit.tables.readU64(pa),
    unit.tables.readU64(pa + 8),
    unit.tables.readU64(pa + 16),
  );
  if (!e.present) return "PASID-table entry not present";
  const base = `PGTT ${e.pgtt} (${PGTT_NAMES[e.pgtt] ?? "?"}), DID ${e.did}`;
  if (e.pgtt !== PGTT.FL_ONLY) return base;
  // A first-stage-only entry (SVA): the CPU page table it walks and how.
  return `${base}, FLPTR ${hex(e.flptptr)}, FLPM ${e.flpm} (${e.flpm === 1 ? 5 : 4}-level), SRE ${e.sre ? 1 : 0}`;
}

/** The page group response unit 0 holds for `rid`'s group `grpid` (VT-d 4.1 §7.7.1 response codes). */
export function groupResponseText(unit: VtdUnit | undefined, rid: number, grpid: number): string {
  const g = [...(unit?.pageGroups.values() ?? [])].find((x) => x.rid === rid && x.index === grpid);
  if (g?.response === undefined) return "no page group response yet";
  const code = g.response === 0 ? "Success" : g.response === 1 ? "Invalid Request" : `code ${g.response}`;
  return `page group response to ${hex(rid)} group ${grpid}: ${code}`;
}

const PGTT_NAMES: Record<number, string> = {
  [PGTT.FL_ONLY]: "first-stage",
  [PGTT.SL_ONLY]: "second-stage",
  [PGTT.NESTED]: "nested",
  [PGTT.PT]: "pass-through",
};
