/**
 * Commands and events of the `vtd.` subsystem (packages/hw-vtd): Intel VT-d
 * scalable-mode remapping units as hardware — what software programs (domains,
 * tables, attachments, queued invalidation, fault and page-request queue
 * registers) and what devices do (DMA), with the cache fills, faults and
 * page requests the hardware produces. Owned by packages/hw-vtd; see
 * docs/CONVENTIONS.md ("Messages").
 *
 * Identifiers: `unit` a remapping unit (DRHD) index, `did` a domain id
 * (16-bit, the VT-d DID, also the domain's handle), `rid` a PCI requester id
 * (bus << 8 | dev << 3 | fn), `pasid` a 20-bit PASID. Addresses are bytes;
 * `vpn`/`pfn` are 4 KiB page/frame numbers.
 *
 * Source: Intel VT-d spec rev 4.1 (§6.5.2 invalidation descriptors, §7.5
 * page requests, §9 structures, §10.4 registers); Linux
 * drivers/iommu/intel/{iommu.c,pasid.c,nested.c,prq.c}.
 */
import { type TSchema, Type } from "@sinclair/typebox";
import { command, event, type MessageDef, type MessagesOf } from "./message";
import { Bytes, Pfn, U64, UInt } from "./schema";

const obj = <P extends Record<string, TSchema>>(p: P) => Type.Object(p, { additionalProperties: false });
const Unit = () => UInt(8, "remapping unit index");
const Did = () => UInt(16, "domain id (DID)");
const Rid = () => UInt(16, "PCI requester id: bus << 8 | dev << 3 | fn");
const Pasid = () => UInt(20, "PASID");
const PfnRuns = () =>
  Type.Array(obj({ pfn: Pfn("first 4 KiB frame"), count: UInt(32, "4 KiB frames") }), {
    description: "physically contiguous runs of 4 KiB frames",
  });

const vtdCommandDefs = [
  command(
    "vtd.unit.add",
    obj({
      unit: Unit(),
      cap: Type.Optional(U64("CAP_REG value")),
      ecap: Type.Optional(U64("ECAP_REG value")),
      tableBase: Type.Optional(U64("table-memory base PA, bytes, 4 KiB aligned")),
      tableFrames: Type.Optional(UInt(32, "table-memory size in 4 KiB frames")),
      iotlbSize: Type.Optional(UInt(32, "IOTLB capacity in pages")),
      contextCacheSize: Type.Optional(UInt(32, "context-cache capacity in entries")),
      pasidCacheSize: Type.Optional(UInt(32, "PASID-cache capacity in entries")),
      prqFrames: Type.Optional(UInt(8, "page request queue size in 4 KiB frames")),
    }),
    "add a remapping unit (a DRHD) with its registers and table memory; absent fields take the defaults",
  ),
  command(
    "vtd.domain.alloc",
    obj({
      unit: Unit(),
      nestParent: Type.Optional(Type.Boolean()),
      identity: Type.Optional(Type.Boolean()),
      dirtyTracking: Type.Optional(Type.Boolean()),
    }),
    "allocate a second-stage paging domain (Linux intel_iommu_domain_alloc_paging_flags), or with identity the pass-through domain (DID 1, Linux FLPT_DEFAULT_DID)",
  ),
  command(
    "vtd.domain.alloc_nested",
    obj({ unit: Unit(), parent: Did(), data: Bytes("struct iommu_hwpt_vtd_s1") }),
    "allocate a nested domain over a NEST_PARENT domain (Linux intel_nested_domain_alloc)",
  ),
  command(
    "vtd.domain.alloc_sva",
    obj({
      unit: Unit(),
      pgd: U64("PA of the process's first-stage root table (CR3), in RAM"),
      addrWidth: UInt(8, "48 (4-level) or 57 (5-level)"),
    }),
    "allocate a first-stage (SVA) domain sharing a process page table (Linux intel_svm_domain_alloc)",
  ),
  command(
    "vtd.domain.free",
    obj({ unit: Unit(), did: Did() }),
    "free an unattached domain and its second-stage tables",
  ),
  command(
    "vtd.domain.map",
    obj({ unit: Unit(), did: Did(), iova: U64("bytes, 4 KiB aligned"), pfnRuns: PfnRuns(), prot: UInt(8) }),
    "map PFN runs at an IOVA in a paging domain; prot = Linux IOMMU_READ|IOMMU_WRITE bits",
  ),
  command(
    "vtd.domain.unmap",
    obj({ unit: Unit(), did: Did(), iova: U64("bytes"), length: U64("bytes") }),
    "clear the second-stage leaves of a range (no IOTLB flush)",
  ),
  command(
    "vtd.device.attach",
    obj({
      unit: Unit(),
      rid: Rid(),
      pasid: Type.Optional(Pasid()),
      did: Did(),
      ats: Type.Optional(Type.Boolean()),
      pri: Type.Optional(Type.Boolean()),
    }),
    "program the context and PASID entries of a device (PASID absent = RID_PASID 0)",
  ),
  command(
    "vtd.device.detach",
    obj({ unit: Unit(), rid: Rid(), pasid: Type.Optional(Pasid()) }),
    "clear a device's PASID entry (Linux intel_pasid_tear_down_entry)",
  ),
  command(
    "vtd.qi.submit",
    obj({ unit: Unit(), descriptors: Bytes("raw invalidation descriptors, 32 bytes each in scalable mode") }),
    "submit descriptors to the invalidation queue",
  ),
  command(
    "vtd.hwpt.invalidate",
    obj({
      unit: Unit(),
      did: Did(),
      data: Bytes("entries of struct iommu_hwpt_vtd_s1_invalidate"),
      entryLen: UInt(32, "bytes per entry"),
      entryNum: UInt(32, "entries"),
    }),
    "IOMMU_HWPT_INVALIDATE on a nested domain (Linux intel_nested_cache_invalidate_user)",
  ),
  command(
    "vtd.dma",
    obj({
      unit: Unit(),
      rid: Rid(),
      pasid: Type.Optional(Pasid()),
      iova: U64("bytes"),
      length: UInt(32, "bytes"),
      write: Type.Boolean(),
      bytes: Type.Optional(Bytes("the data of a write")),
      privileged: Type.Optional(Type.Boolean()),
      exec: Type.Optional(Type.Boolean()),
    }),
    "a device's DMA request, translated page by page",
  ),
  command(
    "vtd.domain.set_dirty_tracking",
    obj({ unit: Unit(), did: Did(), enable: Type.Boolean() }),
    "turn second-stage A/D tracking (PASID-entry SSADE) on or off for a paging domain (Linux intel_iommu_set_dirty_tracking)",
  ),
  command(
    "vtd.dirty.clear",
    obj({ unit: Unit(), did: Did(), iova: U64("bytes, 4 KiB aligned"), length: U64("bytes") }),
    "clear the D bits of a range after reading them (IOMMU_HWPT_GET_DIRTY_BITMAP without NO_CLEAR)",
  ),
  command(
    "vtd.fault.clear",
    obj({ unit: Unit(), index: Type.Optional(UInt(8)), overflow: Type.Optional(Type.Boolean()) }),
    "software clears a fault record's F bit (write 1) and/or FSTS.PFO",
  ),
  command(
    "vtd.prq.consume",
    obj({ unit: Unit(), count: Type.Optional(UInt(32, "descriptors; absent = all")) }),
    "software advances the page request queue head (PQH_REG)",
  ),
] as const satisfies readonly MessageDef[];

const vtdEventDefs = [
  event(
    "vtd.unit.added",
    obj({
      unit: Unit(),
      cap: U64(),
      ecap: U64(),
      tableBase: U64(),
      tableFrames: UInt(32),
      iotlbSize: UInt(32),
      contextCacheSize: UInt(32),
      pasidCacheSize: UInt(32),
      prqFrames: UInt(8),
    }),
    "a remapping unit exists",
  ),
  event(
    "vtd.domain.allocated",
    obj({
      unit: Unit(),
      did: Did(),
      nestParent: Type.Boolean(),
      identity: Type.Optional(Type.Boolean()),
      dirtyTracking: Type.Optional(Type.Boolean()),
      parent: Type.Optional(Did()),
      s1: Type.Optional(obj({ flags: UInt(32), pgtblAddr: U64("GPA"), addrWidth: UInt(8) })),
      sva: Type.Optional(obj({ pgd: U64("PA"), addrWidth: UInt(8) })),
    }),
    "a paging domain (no parent), the identity domain (identity), a nested domain (parent + s1) or an SVA domain (sva) was allocated",
  ),
  event("vtd.domain.freed", obj({ unit: Unit(), did: Did() }), "a domain was freed"),
  event(
    "vtd.domain.dirty_tracking_set",
    obj({ unit: Unit(), did: Did(), enable: Type.Boolean() }),
    "SSADE was set or cleared in the PASID entries using the domain",
  ),
  event(
    "vtd.domain.mapped",
    obj({ unit: Unit(), did: Did(), iova: U64("bytes"), pfnRuns: PfnRuns(), prot: UInt(8) }),
    "second-stage leaves were written",
  ),
  event(
    "vtd.domain.unmapped",
    obj({ unit: Unit(), did: Did(), iova: U64("bytes"), length: U64("bytes") }),
    "second-stage leaves were cleared",
  ),
  event(
    "vtd.device.attached",
    obj({ unit: Unit(), rid: Rid(), pasid: Pasid(), did: Did(), ats: Type.Boolean(), pri: Type.Boolean() }),
    "context and PASID entries were programmed",
  ),
  event(
    "vtd.device.detached",
    obj({ unit: Unit(), rid: Rid(), pasid: Pasid() }),
    "a PASID entry was cleared",
  ),
  event(
    "vtd.qi.executed",
    obj({ unit: Unit(), descriptors: Bytes() }),
    "the invalidation queue executed these descriptors",
  ),
  event(
    "vtd.hwpt.invalidated",
    obj({ unit: Unit(), did: Did(), handled: UInt(32), error: Type.Optional(Type.String()) }),
    "a user invalidation request ended: entries handled, and the errno that stopped it",
  ),
  event(
    "vtd.context.cached",
    obj({ unit: Unit(), rid: Rid(), words: Type.Array(U64(), { minItems: 2, maxItems: 2 }) }),
    "a context entry (quadwords 0-1) entered the context cache",
  ),
  event(
    "vtd.pasid.cached",
    obj({ unit: Unit(), rid: Rid(), pasid: Pasid(), words: Type.Array(U64(), { minItems: 3, maxItems: 3 }) }),
    "a PASID entry (quadwords 0-2) entered the PASID cache",
  ),
  event(
    "vtd.iotlb.filled",
    obj({
      unit: Unit(),
      did: Did(),
      pasid: Pasid(),
      cls: UInt(8, "0 second stage/pass-through, 1 first stage, 2 nested"),
      vpn: Pfn("input 4 KiB page"),
      sizeIdx: UInt(8, "0 4 KiB, 1 2 MiB, 2 1 GiB"),
      pfn: Pfn("first output frame of the page"),
      perm: UInt(8, "1 read, 2 write, 4 exec, 8 user, 16 second-stage write"),
    }),
    "a translation entered the IOTLB",
  ),
  event(
    "vtd.fault.recorded",
    obj({
      unit: Unit(),
      index: Type.Optional(UInt(8, "fault recording register; absent = lost (FSTS.PFO)")),
      reason: UInt(8),
      rid: Rid(),
      pasid: Type.Optional(Pasid()),
      addr: U64("faulting page address"),
      write: Type.Boolean(),
      privileged: Type.Boolean(),
      exec: Type.Boolean(),
    }),
    "a primary (non-recoverable) fault was recorded",
  ),
  event(
    "vtd.fault.cleared",
    obj({ unit: Unit(), index: Type.Optional(UInt(8)), overflow: Type.Boolean() }),
    "fault record F bit and/or PFO cleared",
  ),
  event(
    "vtd.prq.queued",
    obj({
      unit: Unit(),
      rid: Rid(),
      pasid: Type.Optional(Pasid()),
      addr: U64("page address"),
      read: Type.Boolean(),
      write: Type.Boolean(),
      exec: Type.Boolean(),
      privileged: Type.Boolean(),
      lpig: Type.Boolean(),
      index: UInt(16, "page request group index (9 bits)"),
      reason: UInt(8, "the translation fault the request resolves"),
      overflow: Type.Boolean(),
    }),
    "a page request descriptor was written to the page request queue (or dropped: PRO)",
  ),
  event(
    "vtd.entry.accessed",
    obj({ unit: Unit(), pa: U64("entry PA in table memory"), value: U64("the entry with A/D set") }),
    "the hardware set accessed/dirty bits in a second-stage entry (PASID-entry SSADE)",
  ),
  event(
    "vtd.dirty.cleared",
    obj({ unit: Unit(), did: Did(), iova: U64("bytes"), length: U64("bytes") }),
    "software cleared the second-stage D bits of a range (Linux intel_iommu_read_and_clear_dirty)",
  ),
  event("vtd.prq.consumed", obj({ unit: Unit(), head: UInt(32, "new PQH byte offset") }), "PQH advanced"),
] as const satisfies readonly MessageDef[];

/** Every `vtd.` message definition. */
export const vtdMessages = [...vtdCommandDefs, ...vtdEventDefs] as const satisfies readonly MessageDef[];

/** A `vtd.` command (in-memory form). */
export type VtdCommand = MessagesOf<typeof vtdCommandDefs>;
/** A `vtd.` event (in-memory form). */
export type VtdEvent = MessagesOf<typeof vtdEventDefs>;
