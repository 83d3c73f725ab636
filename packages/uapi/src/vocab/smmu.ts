/**
 * Commands and events of the `smmu.` subsystem (packages/hw-smmu): ARM
 * SMMUv3 instances, the driver-side writes into their table memory (stream
 * table, CD tables, page tables), the command queue, device DMA through the
 * SMMU, and the event and PRI queues. Owned by packages/hw-smmu; see
 * docs/CONVENTIONS.md ("Messages").
 *
 * Units: `pa`, `iova`, `length`, `tableBase`, `tableSize` are bytes; PFNs
 * are 4 KiB frames. `sid` is the StreamID (for PCI the requester id),
 * `ssid` the SubstreamID (= PASID). Raw STEs, CDs, commands and records are
 * arrays of little-endian u64 words, bit layouts per Arm IHI 0070.
 */
import { type TSchema, Type } from "@sinclair/typebox";
import { command, event, type MessageDef, type MessagesOf } from "./message";
import { Bytes, Pfn, U64, UInt } from "./schema";

const obj = <P extends Record<string, TSchema>>(p: P) => Type.Object(p, { additionalProperties: false });
const Instance = () => UInt(16, "SMMU instance id");
const Sid = () => UInt(32, "StreamID");
const Ssid = () => UInt(20, "SubstreamID (PASID)");
const DomainId = () => Type.Integer({ minimum: 1, maximum: 2 ** 31 - 1, description: "SMMU domain id" });
const Words = (n: number, what: string) =>
  Type.Array(U64(), { minItems: n, maxItems: n, description: `${what}: ${n} little-endian u64 words` });
const RawCmd = () => Words(2, "a 128-bit command");
const Count = () => UInt(32, "number of records");
const PfnRuns = () =>
  Type.Array(obj({ pfn: Pfn(), count: UInt(32, "frames (4 KiB)") }), {
    description: "physical frames, in order",
  });
const DomainKind = () => Type.Union([Type.Literal("s1"), Type.Literal("s2")]);
const CacheSizes = {
  tlbEntries: UInt(20, "TLB capacity, entries"),
  steCacheEntries: UInt(20, "STE cache capacity, entries"),
  cdCacheEntries: UInt(20, "CD cache capacity, entries"),
};

/** `smmu.` commands. */
export const smmuCommandDefs = [
  command(
    "smmu.instance.add",
    obj({
      instance: Instance(),
      tableBase: U64("first byte of the table-memory region (PA, 4 KiB aligned)"),
      tableSize: U64("bytes of table memory (multiple of 4 KiB)"),
      idr: Type.Optional(Type.Array(UInt(32), { minItems: 6, maxItems: 6, description: "SMMU_IDR0..5" })),
      iidr: Type.Optional(UInt(32, "SMMU_IIDR")),
      aidr: Type.Optional(UInt(32, "SMMU_AIDR")),
      tlbEntries: Type.Optional(CacheSizes.tlbEntries),
      steCacheEntries: Type.Optional(CacheSizes.steCacheEntries),
      cdCacheEntries: Type.Optional(CacheSizes.cdCacheEntries),
    }),
    "Add an SMMU and let the driver set up its stream table (arm_smmu_device_probe + arm_smmu_init_strtab).",
  ),
  command(
    "smmu.mem.alloc",
    obj({ instance: Instance(), bytes: UInt(32, "bytes, rounded up to 4 KiB frames") }),
    "Driver allocates zeroed table memory (dmam_alloc_coherent); ENOMEM when the region is full.",
  ),
  command(
    "smmu.mem.write",
    obj({ instance: Instance(), pa: U64("PA inside table memory"), bytes: Bytes() }),
    "Driver stores bytes into table memory (hand-built tables; the SMMU sees them on its next fetch).",
  ),
  command(
    "smmu.ste.write",
    obj({ instance: Instance(), sid: Sid(), ste: Words(8, "an STE") }),
    "Driver writes StreamID sid's STE (arm_smmu_write_ste), allocating its level-2 stream table if needed.",
  ),
  command(
    "smmu.cd.write",
    obj({ instance: Instance(), sid: Sid(), ssid: Ssid(), cd: Words(8, "a CD") }),
    "Driver writes CD ssid of the CD table sid's STE points at (arm_smmu_write_cd_entry).",
  ),
  command(
    "smmu.cmdq.submit",
    obj({ instance: Instance(), cmds: Type.Array(RawCmd()) }),
    "Driver writes commands to the command queue and moves CMDQ_PROD; the SMMU consumes them in order.",
  ),
  command(
    "smmu.cmdq.skipError",
    obj({ instance: Instance() }),
    "Driver handles CMDQ_ERR (arm_smmu_cmdq_skip_err): the bad command becomes CMD_SYNC, GERROR is acked.",
  ),
  command(
    "smmu.evtq.consume",
    obj({ instance: Instance(), count: Count(), ackOverflow: Type.Optional(Type.Boolean()) }),
    "Driver consumes event records (moves EVTQ_CONS; ackOverflow copies OVFLG to OVACKFLG).",
  ),
  command(
    "smmu.priq.consume",
    obj({ instance: Instance(), count: Count(), ackOverflow: Type.Optional(Type.Boolean()) }),
    "Driver consumes PRI records (moves PRIQ_CONS; ackOverflow copies OVFLG to OVACKFLG).",
  ),
  command(
    "smmu.dma",
    obj({
      instance: Instance(),
      sid: Sid(),
      ssid: Type.Optional(Ssid()),
      iova: U64("input address, bytes"),
      length: UInt(32, "bytes"),
      write: Type.Boolean(),
      bytes: Type.Optional(Bytes("the data of a write")),
      privileged: Type.Optional(Type.Boolean({ description: "PnU = privileged" })),
      ats: Type.Optional(
        Type.Boolean({ description: "device uses ATS (its ATC, then Translation Requests)" }),
      ),
      pri: Type.Optional(
        Type.Boolean({ description: "device uses ATS + PRI: a miss becomes a page request" }),
      ),
    }),
    "A device transaction through the SMMU: cache fills, then the RAM write or the fault record.",
  ),
  command(
    "smmu.domain.alloc",
    obj({ instance: Instance(), kind: DomainKind() }),
    "Allocate a paging domain: s1 (ASID) or s2 (VMID, NEST_PARENT) (arm_smmu_domain_alloc_paging_flags).",
  ),
  command(
    "smmu.domain.allocNested",
    obj({
      instance: Instance(),
      parent: DomainId(),
      ste: Words(2, "guest STE words 0-1 (iommu_hwpt_arm_smmuv3)"),
      flags: Type.Optional(UInt(32)),
    }),
    "Allocate a nested domain from a guest STE (arm_vsmmu_alloc_domain_nested).",
  ),
  command(
    "smmu.domain.map",
    obj({
      instance: Instance(),
      domain: DomainId(),
      iova: U64("bytes"),
      pfnRuns: PfnRuns(),
      prot: UInt(32, "IOMMU_READ 1 | IOMMU_WRITE 2 | IOMMU_PRIV 32"),
    }),
    "Map frames into a paging domain (io-pgtable-arm map_pages).",
  ),
  command(
    "smmu.domain.unmap",
    obj({ instance: Instance(), domain: DomainId(), iova: U64("bytes"), length: U64("bytes") }),
    "Unmap a range, then TLBI + ATC_INV + SYNC (arm_smmu_tlb_inv_range_domain).",
  ),
  command(
    "smmu.domain.attach",
    obj({
      instance: Instance(),
      domain: DomainId(),
      sid: Sid(),
      ssid: Type.Optional(Ssid()),
      ats: Type.Optional(Type.Boolean()),
      ssidBits: Type.Optional(UInt(8, "the device's PASID width")),
    }),
    "Attach a stream (or one PASID of it) to a domain: STE/CD writes + CFGI + SYNC (arm_smmu_attach_dev).",
  ),
  command(
    "smmu.domain.detach",
    obj({ instance: Instance(), sid: Sid(), ssid: Type.Optional(Ssid()) }),
    "Detach a stream (abort STE) or one PASID (CD cleared), + CFGI + SYNC + ATC_INV (arm_smmu_attach_dev_blocked).",
  ),
  command(
    "smmu.domain.free",
    obj({ instance: Instance(), domain: DomainId() }),
    "Free a domain with nothing attached (arm_smmu_domain_free_paging); EBUSY otherwise.",
  ),
] as const satisfies readonly MessageDef[];

/** `smmu.` events. */
export const smmuEventDefs = [
  event(
    "smmu.instance.added",
    obj({
      instance: Instance(),
      tableBase: U64("bytes"),
      tableSize: U64("bytes"),
      idr: Type.Array(UInt(32), { minItems: 6, maxItems: 6 }),
      iidr: UInt(32),
      aidr: UInt(32),
      ...CacheSizes,
      strtabBase: U64("STRTAB_BASE (PA)"),
    }),
    "An SMMU exists, its stream table allocated at the start of table memory.",
  ),
  event(
    "smmu.mem.allocated",
    obj({ instance: Instance(), pa: U64("PA"), bytes: UInt(32) }),
    "Table memory was allocated.",
  ),
  event(
    "smmu.mem.written",
    obj({ instance: Instance(), pa: U64("PA"), bytes: Bytes() }),
    "Bytes were stored into table memory.",
  ),
  event(
    "smmu.ste.written",
    obj({
      instance: Instance(),
      sid: Sid(),
      ste: Words(8, "an STE"),
      l2: Type.Optional(U64("PA of a new level-2 stream table")),
    }),
    "An STE was written (and its level-2 table created).",
  ),
  event(
    "smmu.cd.written",
    obj({
      instance: Instance(),
      sid: Sid(),
      ssid: Ssid(),
      cd: Words(8, "a CD"),
      l2: Type.Optional(U64("PA of a new level-2 CD table")),
    }),
    "A CD was written (and its level-2 CD table created).",
  ),
  event(
    "smmu.cmd.consumed",
    obj({ instance: Instance(), cmd: RawCmd() }),
    "The SMMU consumed and executed one command.",
  ),
  event(
    "smmu.cmdq.errored",
    obj({ instance: Instance(), cerror: UInt(8, "CMDQ_CONS.ERR"), pending: Type.Array(RawCmd()) }),
    "The command queue stopped at a bad command (first of `pending`): GERROR.CMDQ_ERR.",
  ),
  event(
    "smmu.cmdq.held",
    obj({ instance: Instance(), cmds: Type.Array(RawCmd()) }),
    "Commands queued behind a halted command queue.",
  ),
  event("smmu.cmdq.errorSkipped", obj({ instance: Instance() }), "The driver skipped the bad command."),
  event(
    "smmu.ste.filled",
    obj({ instance: Instance(), sid: Sid(), ste: Words(8, "an STE") }),
    "An STE entered the configuration cache.",
  ),
  event(
    "smmu.cd.filled",
    obj({ instance: Instance(), sid: Sid(), ssid: Ssid(), cd: Words(8, "a CD") }),
    "A CD entered the configuration cache.",
  ),
  event(
    "smmu.tlb.filled",
    obj({
      instance: Instance(),
      tag: Type.Integer({
        minimum: 0,
        maximum: 2 ** 33,
        description: "VMID·2^16+ASID, or 2^32+VMID (stage 2)",
      }),
      base: U64("input address of the leaf"),
      log2size: UInt(8, "log2 of the leaf size in bytes"),
      pa: U64("output PA of the leaf"),
      ipa: U64("IPA of the leaf"),
      s1perm: UInt(8),
      s2perm: UInt(8),
    }),
    "A translation entered the TLB.",
  ),
  event(
    "smmu.atc.filled",
    obj({
      instance: Instance(),
      sid: Sid(),
      ssid: Type.Optional(Ssid()),
      base: U64("input address of the translation"),
      log2size: UInt(8, "log2 of its size in bytes"),
      pa: U64("output PA"),
      perm: UInt(8, "PERM_* mask granted"),
    }),
    "A device cached an ATS Translation Completion in its ATC.",
  ),
  event(
    "smmu.event.queued",
    obj({ instance: Instance(), record: Words(4, "an event record") }),
    "An event record was written to the event queue.",
  ),
  event(
    "smmu.evtq.overflowed",
    obj({ instance: Instance() }),
    "An event was lost to a full event queue and OVFLG toggled (no overflow was active).",
  ),
  event(
    "smmu.pri.queued",
    obj({ instance: Instance(), record: Words(2, "a PRI record") }),
    "A page request was written to the PRI queue.",
  ),
  event(
    "smmu.priq.overflowed",
    obj({ instance: Instance() }),
    "The PRI queue entered an overflow condition (OVFLG toggled); requests are discarded until acknowledged.",
  ),
  event(
    "smmu.evtq.consumed",
    obj({ instance: Instance(), count: Count(), ackOverflow: Type.Optional(Type.Boolean()) }),
    "Event records consumed (and the overflow acknowledged).",
  ),
  event(
    "smmu.priq.consumed",
    obj({ instance: Instance(), count: Count(), ackOverflow: Type.Optional(Type.Boolean()) }),
    "PRI records consumed (and the overflow acknowledged).",
  ),
  event(
    "smmu.pri.autoResponded",
    obj({
      instance: Instance(),
      sid: Sid(),
      ssid: Type.Optional(Ssid()),
      grpid: UInt(16, "PRG index (9 bits)"),
      resp: UInt(8, "1 Response Failure, 2 Success (CMD_PRI_RESP encoding)"),
    }),
    "The SMMU answered a Last = 1 page request lost to PRI queue overflow (IHI 0070 §8.1).",
  ),
  event(
    "smmu.domain.allocated",
    obj({ instance: Instance(), domain: DomainId(), kind: DomainKind() }),
    "A paging domain was allocated.",
  ),
  event(
    "smmu.domain.nestedAllocated",
    obj({
      instance: Instance(),
      domain: DomainId(),
      parent: DomainId(),
      ste: Words(2, "guest STE words 0-1"),
      flags: UInt(32),
    }),
    "A nested domain was allocated.",
  ),
  event(
    "smmu.domain.mapped",
    obj({ instance: Instance(), domain: DomainId(), iova: U64("bytes"), pfnRuns: PfnRuns(), prot: UInt(32) }),
    "Frames were mapped into a paging domain.",
  ),
  event(
    "smmu.domain.unmapped",
    obj({
      instance: Instance(),
      domain: DomainId(),
      iova: U64("bytes"),
      length: U64("bytes"),
      invalidations: Type.Array(RawCmd(), { description: "the TLBI/ATC_INV/SYNC commands issued" }),
    }),
    "A range was unmapped and invalidated.",
  ),
  event(
    "smmu.domain.attached",
    obj({
      instance: Instance(),
      domain: DomainId(),
      sid: Sid(),
      ssid: Type.Optional(Ssid()),
      ats: Type.Optional(Type.Boolean()),
      ssidBits: Type.Optional(UInt(8)),
    }),
    "A stream (or PASID) was attached to a domain.",
  ),
  event(
    "smmu.domain.detached",
    obj({ instance: Instance(), sid: Sid(), ssid: Type.Optional(Ssid()) }),
    "A stream (or PASID) was detached: blocked.",
  ),
  event("smmu.domain.freed", obj({ instance: Instance(), domain: DomainId() }), "A domain was freed."),
] as const satisfies readonly MessageDef[];

/** Every `smmu.` message definition (commands, then events). */
export const smmuMessages = [...smmuCommandDefs, ...smmuEventDefs] as const satisfies readonly MessageDef[];

/** The commands of the `smmu` subsystem (in-memory form). */
export type SmmuCommand = MessagesOf<typeof smmuCommandDefs>;
/** The events of the `smmu` subsystem (in-memory form). */
export type SmmuEvent = MessagesOf<typeof smmuEventDefs>;
