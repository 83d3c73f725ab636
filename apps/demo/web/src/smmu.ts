/**
 * The SMMU panel's model: per SMMUv3 instance of `root.smmu`, the STE of
 * every attached stream (found from the stream table as the hardware finds
 * it: linear, or a level-1 descriptor then the level-2 table), the CD of
 * each attached substream (linear CD table, or a level-1 CD descriptor then
 * the leaf), and each domain's stage-1 / stage-2 tree to expand level by
 * level (pagetables.ts). A nested domain's CD table and stage-1 tables are
 * the guest's: their addresses are IPAs, read through the stage 2 of the
 * stream's STE. Structures are read from the instance's table memory, or
 * from RAM (`root.mm.ram`) outside it.
 *
 * Sources: Arm IHI 0070 §3.3.2 (stream table, 2-level: L1STD SPAN 4:0,
 * L2Ptr 51:6), §5.2 (STE), §3.4.3 / §5.3 (CD table, L1CD V bit 0, L2Ptr
 * 51:12; 64 or 1024 CDs per leaf), §5.4 (CD); decoded with
 * @iommu-sim/hw-smmu's `decodeSte` / `decodeCd` / `streamConfigOf` /
 * `contextConfigOf`.
 */
import {
  CD_SIZE,
  type Cd,
  contextConfigOf,
  decodeCd,
  decodeSte,
  type SmmuDomain,
  type SmmuInstance,
  STE_CFG,
  STE_SIZE,
  type Ste,
  streamConfigOf,
  type TtConfig,
} from "@iommu-sim/hw-smmu";
import { lookup, type PhysRead, type PtContext, type PtFormat } from "./pagetables";
import { isMapLike, isRecord } from "./slices";
import type { At } from "./vtd";

/** STE.Config names (IHI 0070 §5.2). */
export const STE_CONFIG_NAME: Readonly<Record<number, string>> = {
  [STE_CFG.ABORT]: "abort",
  [STE_CFG.BYPASS]: "bypass",
  [STE_CFG.S1_TRANS]: "stage 1",
  [STE_CFG.S2_TRANS]: "stage 2",
  [STE_CFG.NESTED]: "stage 1 + stage 2",
};

/** A walkable tree of a domain. */
export interface SmmuTree {
  readonly stage: 1 | 2;
  readonly format: PtFormat;
  /** TTB0 / S2TTB as written (an IPA for a guest stage 1). */
  readonly root: number;
  /** log2 of a top-level entry's span. */
  readonly shift: number;
  /** Entries of the top table (more than 512 with concatenated stage-2 start tables). */
  readonly topCount: number;
  readonly ctx: PtContext;
}

/** A CD of an attached substream. */
export interface SmmuCdView {
  readonly ssid: number;
  /** The CD's address as the table says (an IPA when the table is the guest's), and the entry; undefined when absent. */
  readonly at: At<Cd> | undefined;
}

/** An attached stream. */
export interface SmmuStreamView {
  readonly sid: number;
  readonly ste: At<Ste> | undefined;
  readonly cds: readonly SmmuCdView[];
}

/** A domain. */
export interface SmmuDomainView {
  readonly id: number;
  readonly kind: SmmuDomain["kind"];
  readonly asid: number;
  readonly vmid: number;
  readonly parent: number | undefined;
  /** Streams using it, as "sid 0x8" or "sid 0x8 ssid 3". */
  readonly users: readonly string[];
  /** Stage 1 then stage 2, those it has. */
  readonly trees: readonly SmmuTree[];
}

/** One instance. */
export interface SmmuInstanceView {
  readonly id: number;
  /** Stream table base and format (0 linear, 1 2-level). */
  readonly strtabBase: number;
  readonly strtabFmt: number;
  readonly streams: readonly SmmuStreamView[];
  readonly domains: readonly SmmuDomainView[];
}

type Ram = { readU64(pa: number): bigint } | undefined;

function readerOf(i: SmmuInstance, ram: Ram): PhysRead {
  return (pa) => (pa >= i.tableBase && pa < i.tableEnd ? i.mem.readU64(pa) : (ram?.readU64(pa) ?? 0n));
}

const words = (read: PhysRead, pa: number, n: number): bigint[] =>
  Array.from({ length: n }, (_, k) => read(pa + k * 8));

/** The STE address of `sid` (IHI 0070 §3.3.2), or undefined when its level-2 table is absent. */
function steAddress(i: SmmuInstance, read: PhysRead, sid: number): number | undefined {
  const st = i.strtab;
  if (st.fmt === 0) return st.base + sid * STE_SIZE;
  const l1 = read(st.base + Math.floor(sid / 2 ** st.split) * 8);
  const span = Number(l1 & 0x1fn);
  if (span === 0) return undefined;
  return Number(l1 & 0x000f_ffff_ffff_ffc0n) + (sid % 2 ** st.split) * STE_SIZE;
}

/** A stage's tree description from its translation regime (4 KiB granule only; else undefined). */
function treeOf(stage: 1 | 2, tt: TtConfig, ctx: PtContext): SmmuTree | undefined {
  if (tt.granuleShift !== 12) return undefined;
  const shift = 12 + 9 * (3 - tt.startLevel);
  return {
    stage,
    format: stage === 1 ? "arm-s1" : "arm-s2",
    root: tt.ttb,
    shift,
    topCount: 2 ** Math.max(0, tt.iaBits - shift),
    ctx,
  };
}

/** The CD address of `ssid` in the table at `ptr` (format `s1fmt`), or undefined. `toPa` maps table addresses (IPA → PA). */
function cdAddress(
  read: PhysRead,
  toPa: (a: number) => number | undefined,
  ptr: number,
  s1fmt: number,
  ssid: number,
) {
  if (s1fmt === 0) return ptr + ssid * CD_SIZE;
  const per = s1fmt === 1 ? 64 : 1024;
  const l1pa = toPa(ptr + Math.floor(ssid / per) * 8);
  if (l1pa === undefined) return undefined;
  const l1 = read(l1pa);
  if ((l1 & 1n) === 0n) return undefined;
  return Number(l1 & 0x000f_ffff_ffff_f000n) + (ssid % per) * CD_SIZE;
}

/** What one attached stream's STE says: the STE, its CDs, and the trees of its configuration. */
function streamView(
  i: SmmuInstance,
  read: PhysRead,
  sid: number,
  ssids: readonly number[],
): { view: SmmuStreamView; s1: SmmuTree | undefined; s2: SmmuTree | undefined } {
  const pa = steAddress(i, read, sid);
  if (pa === undefined) return { view: { sid, ste: undefined, cds: [] }, s1: undefined, s2: undefined };
  const w = words(read, pa, 8);
  const ste = decodeSte(w);
  const cfg = streamConfigOf(i.features, w);
  const s2tt = cfg?.s2;
  const s2 = s2tt === undefined ? undefined : treeOf(2, s2tt, { read });
  // With stage 2 on, the CD table and stage-1 tables are IPAs: translate them through the stage 2.
  const toPa = (a: number) =>
    s2 === undefined ? a : lookup(read, "arm-s2", s2.root, s2.shift, BigInt(a), s2.topCount);
  const cds: SmmuCdView[] = [];
  let s1: SmmuTree | undefined;
  if (cfg?.s1 === true) {
    for (const ssid of ssids) {
      const addr = cdAddress(read, toPa, ste.s1ContextPtr, ste.s1fmt, ssid);
      const cdPa = addr === undefined ? undefined : toPa(addr);
      if (addr === undefined || cdPa === undefined) {
        cds.push({ ssid, at: undefined });
        continue;
      }
      const cw = words(read, cdPa, 8);
      cds.push({ ssid, at: { pa: addr, entry: decodeCd(cw) } });
      const cc = contextConfigOf(i.features, cw);
      if (s1 === undefined && cc !== undefined) {
        s1 = treeOf(1, cc.s1, s2 === undefined ? { read } : { read, tableAddress: toPa });
      }
    }
  }
  return { view: { sid, ste: { pa, entry: ste }, cds }, s1, s2 };
}

/** The SMMU instances of `root` (undefined when the root has no `smmu` slice). */
export function smmuInstances(
  root: Readonly<Record<string, unknown>>,
): readonly SmmuInstanceView[] | undefined {
  const s = root.smmu;
  if (!isRecord(s) || !isMapLike(s.instances)) return undefined;
  const mm = root.mm;
  const ram =
    isRecord(mm) && isRecord(mm.ram) ? (mm.ram as unknown as { readU64(pa: number): bigint }) : undefined;
  const out: SmmuInstanceView[] = [];
  for (const value of s.instances.values()) {
    const i = value as SmmuInstance;
    const read = readerOf(i, ram);
    const ssidsOf = new Map<number, Set<number>>();
    for (const d of i.domains.values())
      for (const a of d.attached) ssidsOf.set(a.sid, (ssidsOf.get(a.sid) ?? new Set([0])).add(a.ssid ?? 0));
    const streams = new Map<number, ReturnType<typeof streamView>>();
    for (const [sid, ssids] of [...ssidsOf].sort(([a], [b]) => a - b))
      streams.set(
        sid,
        streamView(
          i,
          read,
          sid,
          [...ssids].sort((a, b) => a - b),
        ),
      );
    const domains = [...i.domains.values()]
      .sort((a, b) => a.id - b.id)
      .map((d): SmmuDomainView => {
        const users = d.attached.map(
          (a) => `sid 0x${a.sid.toString(16)}${a.ssid === undefined ? "" : ` ssid ${a.ssid}`}`,
        );
        const seen = d.attached.map((a) => streams.get(a.sid)).find((x) => x !== undefined);
        const trees: SmmuTree[] = [];
        if (d.kind !== "s2" && seen?.s1 !== undefined) trees.push(seen.s1);
        if (d.kind !== "s1" && seen?.s2 !== undefined) trees.push(seen.s2);
        if (trees.length === 0 && d.kind !== "nested") {
          // Not attached: the driver's own table, with the start level io-pgtable-arm picks (no concatenation).
          const levels = Math.ceil((d.iaBits - 12) / 9);
          const shift = 12 + 9 * (levels - 1);
          trees.push({
            stage: d.kind === "s2" ? 2 : 1,
            format: d.kind === "s2" ? "arm-s2" : "arm-s1",
            root: d.ttb,
            shift,
            topCount: 2 ** (d.iaBits - shift),
            ctx: { read },
          });
        }
        return { id: d.id, kind: d.kind, asid: d.asid, vmid: d.vmid, parent: d.parent, users, trees };
      });
    out.push({
      id: i.id,
      strtabBase: i.strtab.base,
      strtabFmt: i.strtab.fmt,
      streams: [...streams.values()].map((x) => x.view),
      domains,
    });
  }
  return out.sort((a, b) => a.id - b.id);
}
