/**
 * Scalable-mode non-recoverable fault reason codes (the FR field of a fault
 * recording register) that this model reports.
 *
 * Source: VT-d spec rev 4.1 Appendix A ("Non-Recoverable Fault Reason
 * Encodings", scalable mode: SRT/SCT/SPD/SPT/SFS/SSS/SGN conditions); the
 * same codes and descriptions as Linux drivers/iommu/intel/dmar.c
 * `dma_remap_sm_fault_reasons[]` (indexed from 0x30).
 */
export const FR = {
  /** 0x39 SRT.2: present bit in the root entry is clear. */
  ROOT_ENTRY_P: 0x39,
  /** 0x3A SRT.3: non-zero reserved field set in the root entry. */
  ROOT_ENTRY_RSVD: 0x3a,
  /** 0x41 SCT.2: present bit in the context entry is clear. */
  CONTEXT_ENTRY_P: 0x41,
  /** 0x42 SCT.3: non-zero reserved field set in the context entry. */
  CONTEXT_ENTRY_RSVD: 0x42,
  /** 0x45 SCT.6: PASID Enable field in the context entry is clear (request with PASID). */
  CONTEXT_PASIDE_CLEAR: 0x45,
  /** 0x46 SCT.7: PASID is larger than the context entry's PASID directory covers. */
  PASID_TOO_LARGE: 0x46,
  /** 0x51 SPD.2: present bit in the PASID directory entry is clear. */
  PASID_DIR_ENTRY_P: 0x51,
  /** 0x59 SPT.2: present bit in the PASID-table entry is clear. */
  PASID_ENTRY_P: 0x59,
  /** 0x5B SPT.4: invalid scalable-mode PASID-table entry (e.g. PGTT reserved or not supported). */
  PASID_ENTRY_INV: 0x5b,
  /** 0x5D SPT.6: SRE is clear in the PASID-table entry (supervisor request). */
  PASID_SRE_CLEAR: 0x5d,
  /** 0x71 SFS.2: present bit in a first-stage paging entry is clear. */
  FS_ENTRY_P: 0x71,
  /** 0x72 SFS.3: non-zero reserved field set in a first-stage paging entry. */
  FS_ENTRY_RSVD: 0x72,
  /** 0x74 SFS.5: first-stage entry address (a GPA) beyond the second stage's width in nested translation. */
  FS_ADDR_BEYOND_MGAW_NESTED: 0x74,
  /** 0x76 SFS.7: read permission error (second stage) on a first-stage paging entry in nested translation. */
  FS_ENTRY_READ_NESTED: 0x76,
  /** 0x77 SFS.8: the second stage does not allow the accessed/dirty update of a first-stage entry in nested translation. */
  FS_AD_WRITE_NESTED: 0x77,
  /** 0x79 SSS.2: second-stage entry not present (R = W = 0). */
  SS_ENTRY_P: 0x79,
  /** 0x7A SSS.3: non-zero reserved field set in a second-stage paging entry. */
  SS_ENTRY_RSVD: 0x7a,
  /** 0x80 SGN.1: address in first-stage translation is not canonical. */
  NON_CANONICAL: 0x80,
  /** 0x81 SGN.2: user-privilege request to a first-stage page with U/S = 0. */
  US_CLEAR: 0x81,
  /** 0x82 SGN.3: execute request to a page without execute permission. */
  NO_EXECUTE: 0x82,
  /** 0x83 SGN.4: input address beyond the translation's address width. */
  ADDR_BEYOND_AW: 0x83,
  /** 0x85 SGN.6: no write permission for a write request. */
  NO_WRITE: 0x85,
  /** 0x86 SGN.7: no read permission for a read request. */
  NO_READ: 0x86,
  /** 0x87 SGN.8: request to the interrupt address range 0xFEEx_xxxx. */
  INTERRUPT_ADDR: 0x87,
} as const;

/** A fault reason code (see `FR`). */
export type FaultReason = (typeof FR)[keyof typeof FR];

/**
 * Whether a fault on a PRI-capable device (context entry PRE = 1) is
 * reported as a page request instead of a primary fault record: the
 * translation faults a page request can resolve — a not-present entry or a
 * missing permission (VT-d §7.1, "recoverable" translation faults).
 */
export function isRecoverable(reason: number): boolean {
  return (
    reason === FR.FS_ENTRY_P ||
    reason === FR.SS_ENTRY_P ||
    reason === FR.NO_WRITE ||
    reason === FR.NO_READ ||
    reason === FR.US_CLEAR ||
    reason === FR.NO_EXECUTE
  );
}
