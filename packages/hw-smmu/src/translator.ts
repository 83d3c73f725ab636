/**
 * The SMMU's translation of one address (Arm IHI 0070 §3.4, §3.9, §3.10):
 * StreamID → STE (config cache or stream table), SubstreamID → CD (config
 * cache or CD table, fetched through stage 2 when nested), TLB or table
 * walk, permission check — or the fault and the event record it produces.
 *
 * `Translator` is allocation-free on the TLB-hit path. Cache misses do not
 * change the state: they are collected as `fills` (the caller's
 * `smmu.*.filled` events), and later lookups by the same Translator see them.
 */
import type { FrameStore } from "@iommu-sim/eventlog";
import type { AtcEntry } from "./atc";
import { type ContextConfig, contextConfigOf, type StreamConfig, streamConfigOf } from "./config";
import { PhysReader } from "./phys";
import { PERM_ALL, PERM_R_PRIV, PERM_R_UNPRIV, PERM_W_PRIV, PERM_W_UNPRIV } from "./pte";
import { EVT, type EventRecord } from "./records";
import { cdKey, type SmmuInstance, type SmmuState } from "./state";
import { EATS, S1DSS } from "./ste";
import { cdAddress, steAddress } from "./tables";
import { makeEntry, s1Tag, s2Tag, type TagSet, type TlbEntry, tagSetLookup, tlbTagSet } from "./tlb";
import { CLASS_CD, CLASS_IN, F_PERMISSION, F_TRANSLATION, WalkOut, walk } from "./walk";

/** The part of the root state this package reads: its own slice, and RAM from `mm` when present. */
export interface SmmuRoot {
  readonly smmu: SmmuState;
  readonly mm?: { readonly ram: FrameStore };
}

/** A cache fill decided while translating. */
export type Fill =
  | { readonly kind: "ste"; readonly sid: number; readonly words: readonly bigint[] }
  | { readonly kind: "cd"; readonly sid: number; readonly ssid: number; readonly words: readonly bigint[] }
  | { readonly kind: "tlb"; readonly entry: Omit<TlbEntry, "seq"> }
  | { readonly kind: "atc"; readonly sid: number; readonly entry: AtcEntry };

const POW2: number[] = Array.from({ length: 65 }, (_, i) => 2 ** i);

/** Translates single addresses against one instance's state. Reuse it: it keeps scratch objects. */
export class Translator {
  /** Result of the last successful `translate`: output PA, and bytes left in its leaf from that address. */
  pa = 0;
  leafRemaining = 0;
  /** The fault of the last failed `translate` (undefined: terminated silently, e.g. STE.Config = abort). */
  fault: EventRecord | undefined;
  /** Whether that fault is recorded in the event queue (CD.R / STE.S2R; C_BAD_* always). */
  recordFault = false;
  /**
   * Whether the fault is one an ATS Translation Request reports back to the
   * device instead of recording it (a walk fault on a stream with EATS = 1,
   * IDR0.ATS present) — the device may then send a PRI page request.
   */
  atsFault = false;
  /** STE.PPAR of the stream that faulted (PRI overflow auto-responses). */
  faultPpar = false;
  /** After a successful `translate`: the TLB entry used (valid until the next call), and whether the stream allows ATS (EATS = 1). */
  entry: TlbEntry | undefined;
  atsEnabled = false;
  /** Cache fills made so far (when `keepFills`). */
  readonly fills: Fill[] = [];
  /** Record fills (and consult them on later lookups). Benchmarks of the walk path turn this off. */
  keepFills = true;

  private readonly mem: PhysReader;
  private readonly out = new WalkOut();
  private readonly s2out = new WalkOut();
  private readonly tmp = new WalkOut();
  private readonly localSte = new Map<number, StreamConfig>();
  private readonly localCd = new Map<number, ContextConfig>();
  private readonly localTlb: TlbEntry[] = [];
  private sid = 0;
  private ssid = -1;
  private ia = 0;
  private write = false;
  private priv = false;

  constructor(
    readonly inst: SmmuInstance,
    ram: FrameStore | undefined,
  ) {
    this.mem = new PhysReader(inst.mem, inst.tableBase, inst.tableEnd, ram);
  }

  /**
   * Translate input address `ia` of a transaction from StreamID `sid`
   * (SubstreamID `ssid`, −1 for none).
   * @returns true with `pa`/`leafRemaining`, or false with `fault`.
   */
  translate(sid: number, ssid: number, ia: number, write: boolean, privileged: boolean): boolean {
    // The stream/substream context of the previous call is reused as is: nothing changes under a Translator.
    if (sid !== this.memoSid || ssid !== this.memoSsid) {
      this.note(sid, ssid, ia, write, privileged);
      const r = this.configure(sid, ssid, ia);
      if (r !== undefined) return r;
    }
    const set = this.memoSet;
    let e = this.localTlb.length === 0 && set !== undefined ? tagSetLookup(set, ia) : undefined;
    if (e === undefined) {
      this.note(sid, ssid, ia, write, privileged);
      e = this.miss(ia);
      if (e === undefined) return false;
    }
    const need = write
      ? privileged
        ? PERM_W_PRIV
        : PERM_W_UNPRIV
      : privileged
        ? PERM_R_PRIV
        : PERM_R_UNPRIV;
    if ((e.s1perm & e.s2perm & need) === 0) {
      this.note(sid, ssid, ia, write, privileged);
      const s2 = (e.s1perm & need) !== 0;
      return this.walkFault(
        this.memoStream!,
        this.memoCtx,
        F_PERMISSION,
        s2,
        CLASS_IN,
        s2 ? e.ipa + (ia - e.base) : 0,
      );
    }
    this.pa = e.pa + (ia - e.base);
    this.leafRemaining = e.base + POW2[e.log2size]! - ia;
    this.entry = e;
    return true;
  }

  /** Remember the transaction's attributes (for the fault record); off the hit path. */
  private note(sid: number, ssid: number, ia: number, write: boolean, privileged: boolean): void {
    this.sid = sid;
    this.ssid = ssid;
    this.ia = ia;
    this.write = write;
    this.priv = privileged;
  }

  /** TLB miss path: this request's own fills, the TLB, then a walk. */
  private miss(ia: number): TlbEntry | undefined {
    const tag = this.memoTag;
    const set = this.memoSet;
    return (
      (this.localTlb.length === 0 ? undefined : this.localLookup(tag, ia)) ??
      (set === undefined ? undefined : tagSetLookup(set, ia)) ??
      this.fill(this.memoStream!, this.memoCtx, tag, ia)
    );
  }

  private memoSid = -1;
  private memoSsid = -2;
  private memoStream: StreamConfig | undefined;
  private memoCtx: ContextConfig | undefined;
  private memoTag = 0;
  private memoSet: TagSet | undefined;

  /**
   * Resolve the STE and CD for (sid, ssid) and remember them.
   * @returns undefined to go on translating, or the final answer (bypass, abort, fault).
   */
  private configure(sid: number, ssid: number, ia: number): boolean | undefined {
    const stream = this.streamOf(sid);
    if (stream === undefined) return false;
    if (stream.kind === "abort") return this.silentAbort();
    if (stream.kind === "bypass") return this.bypass(ia);
    let ctx: ContextConfig | undefined;
    if (stream.s1) {
      const ste = stream.ste;
      let cdIndex = 0;
      // IHI 0070 §5.2 STE.S1DSS: without a substream, 0b00 (and reserved 0b11) terminate with
      // F_STREAM_DISABLED, 0b01 bypasses stage 1, 0b10 uses CD 0 — which substream 0 then may not.
      if (ssid >= 0) {
        if (ste.s1cdmax === 0 || ssid >= POW2[ste.s1cdmax]!) return this.config(EVT.C_BAD_SUBSTREAMID);
        if (ssid === 0 && ste.s1dss === S1DSS.SSID0) return this.config(EVT.F_STREAM_DISABLED);
        cdIndex = ssid;
      } else if (ste.s1cdmax > 0 && (ste.s1dss === S1DSS.TERMINATE || ste.s1dss === 3)) {
        return this.config(EVT.F_STREAM_DISABLED);
      }
      const s1Bypassed = ssid < 0 && ste.s1cdmax > 0 && ste.s1dss === S1DSS.BYPASS;
      if (!s1Bypassed) {
        ctx = this.contextOf(stream, cdIndex);
        if (ctx === undefined) return false;
      }
    }
    if (ctx === undefined && stream.s2 === undefined) return this.bypass(ia);
    this.memoSid = sid;
    this.memoSsid = ssid;
    this.memoStream = stream;
    this.memoCtx = ctx;
    this.memoTag = ctx !== undefined ? s1Tag(stream.vmid, ctx.asid) : s2Tag(stream.vmid);
    this.atsEnabled = this.inst.features.ats && stream.ste.eats === EATS.TRANS;
    this.memoSet = tlbTagSet(this.inst.tlb, this.memoTag);
    return undefined;
  }

  private localLookup(tag: number, ia: number): TlbEntry | undefined {
    for (const e of this.localTlb)
      if (e.tag === tag && ia >= e.base && ia < e.base + POW2[e.log2size]!) return e;
    return undefined;
  }

  /** Bypass (STE.Config, or S1DSS bypass without stage 2): the address passes through, page by page; not cached. */
  private bypass(ia: number): boolean {
    this.pa = ia;
    this.leafRemaining = 4096 - (ia % 4096);
    this.entry = undefined;
    this.atsEnabled = false;
    return true;
  }

  private silentAbort(): false {
    this.fault = undefined;
    this.recordFault = false;
    this.atsFault = false;
    return false;
  }

  /** A configuration error or F_STREAM_DISABLED: always recorded. */
  private config(id: number): false {
    this.fault = { id, sid: this.sid, ...(this.ssid >= 0 ? { ssid: this.ssid } : {}) };
    this.recordFault = true;
    this.atsFault = false;
    return false;
  }

  private walkFault(
    stream: StreamConfig,
    ctx: ContextConfig | undefined,
    id: number,
    s2: boolean,
    faultClass: number,
    ipa: number,
  ): false {
    this.fault = {
      id,
      sid: this.sid,
      ...(this.ssid >= 0 ? { ssid: this.ssid } : {}),
      stall: false,
      stag: 0,
      pnu: this.priv,
      ind: false,
      rnw: !this.write,
      s2,
      class: faultClass,
      inputAddr: BigInt(this.ia),
      ...(s2 ? { ipa: BigInt(ipa) } : {}),
    };
    this.recordFault = s2 ? stream.ste.s2r : ctx === undefined || ctx.cd.r;
    this.atsFault = this.inst.features.ats && stream.ste.eats === EATS.TRANS;
    this.faultPpar = stream.ste.ppar;
    return false;
  }

  /**
   * Whether an ATS Translation Request from `sid` is translated at all (IHI
   * 0070 §3.9.1.2): only when the STE translates with EATS = 1. An abort STE
   * answers UR silently; a bypass STE or EATS = 0 answers UR and records
   * F_BAD_ATS_TREQ; configuration errors are not recorded for ATS requests
   * (IDR0.ATSRECERR = 0: the base set of events).
   */
  atsRequest(sid: number, ssid: number, ia: number, write: boolean, privileged: boolean): boolean {
    this.note(sid, ssid, ia, write, privileged);
    const stream = this.streamOf(sid);
    if (stream === undefined) {
      this.recordFault = false;
      return false;
    }
    if (stream.kind === "abort") return this.silentAbort();
    if (stream.kind === "translate" && this.inst.features.ats && stream.ste.eats === EATS.TRANS) return true;
    this.fault = {
      id: EVT.F_BAD_ATS_TREQ,
      sid,
      ...(ssid >= 0 ? { ssid } : {}),
      rnw: !write,
      pnu: privileged,
      inputAddr: BigInt(ia),
    };
    this.recordFault = true;
    this.atsFault = false;
    return false;
  }

  /**
   * Whether the SMMU lets a Translated request (an ATS-translated address
   * from the device's ATC) through (IHI 0070 §3.9.1 with CR0.ATSCHK = 1,
   * §5.2 STE.EATS): the STE must translate with EATS = 1. Abort STEs
   * terminate it silently; EATS = 0 — including bypass STEs, whose EATS is
   * effectively 0 — records F_TRANSL_FORBIDDEN; bad STEs C_BAD_*.
   */
  checkTranslated(sid: number, ssid: number, ia: number, write: boolean, privileged: boolean): boolean {
    this.note(sid, ssid, ia, write, privileged);
    const stream = this.streamOf(sid);
    if (stream === undefined) return false;
    if (stream.kind === "abort") return this.silentAbort();
    if (stream.kind === "translate" && this.inst.features.ats && stream.ste.eats === EATS.TRANS) return true;
    this.fault = {
      id: EVT.F_TRANSL_FORBIDDEN,
      sid,
      ...(ssid >= 0 ? { ssid } : {}),
      rnw: !write,
      pnu: privileged,
      inputAddr: BigInt(ia),
    };
    this.recordFault = true;
    this.atsFault = false;
    return false;
  }

  private streamOf(sid: number): StreamConfig | undefined {
    const hit = this.localSte.get(sid) ?? this.inst.steCache.get(sid);
    if (hit !== undefined) return hit;
    const pa = steAddress(this.inst, this.mem, sid);
    if (pa === "bad_streamid") return void this.config(EVT.C_BAD_STREAMID);
    if (pa === "bad_ste") return void this.config(EVT.C_BAD_STE);
    const words = this.mem.readWords(pa, 8);
    const cfg = streamConfigOf(this.inst.features, words);
    if (cfg === undefined) return void this.config(EVT.C_BAD_STE);
    if (this.keepFills) {
      this.localSte.set(sid, cfg);
      this.fills.push({ kind: "ste", sid, words });
    }
    return cfg;
  }

  /** Translate a CD-table address through stage 2 when nested; false (fault set) on a stage-2 fault. */
  private cdFetchAddress(stream: StreamConfig, addr: number): number | undefined {
    const s2 = stream.s2;
    if (s2 === undefined) return addr;
    if (!walk(this.mem, s2, addr, this.tmp) || (this.tmp.perm & PERM_R_PRIV) === 0) {
      const id = this.tmp.fault === 0 ? F_PERMISSION : this.tmp.fault;
      this.walkFault(stream, undefined, id, true, CLASS_CD, addr);
      return undefined;
    }
    return this.tmp.pa;
  }

  private contextOf(stream: StreamConfig, ssid: number): ContextConfig | undefined {
    const key = cdKey(this.sid, ssid);
    const hit = this.localCd.get(key) ?? this.inst.cdCache.get(key);
    if (hit !== undefined) return hit;
    const ste = stream.ste;
    const where = cdAddress(this.mem, ste.s1ContextPtr, ste.s1fmt, ssid, (addr) => {
      const pa = this.cdFetchAddress(stream, addr);
      if (pa === undefined) return false;
      this.mem.read64(pa);
      return true;
    });
    if (where === "fault") return undefined;
    if (where === "bad_substreamid") return void this.config(EVT.C_BAD_SUBSTREAMID);
    const pa = this.cdFetchAddress(stream, where);
    if (pa === undefined) return undefined;
    const words = this.mem.readWords(pa, 8);
    const cfg = contextConfigOf(this.inst.features, words);
    if (cfg === undefined) return void this.config(EVT.C_BAD_CD);
    if (this.keepFills) {
      this.localCd.set(key, cfg);
      this.fills.push({ kind: "cd", sid: this.sid, ssid, words });
    }
    return cfg;
  }

  /** Walk stage 1 (nested: through stage 2) then stage 2; fill the TLB with the combined leaf. */
  private fill(
    stream: StreamConfig,
    ctx: ContextConfig | undefined,
    tag: number,
    ia: number,
  ): TlbEntry | undefined {
    const out = this.out;
    let ipa = ia;
    let size = 64;
    let s1perm = PERM_ALL;
    if (ctx !== undefined) {
      if (ctx.epd0) return void this.walkFault(stream, ctx, F_TRANSLATION, false, CLASS_IN, 0);
      if (!walk(this.mem, ctx.s1, ia, out, stream.s2, this.tmp))
        return void this.walkFault(stream, ctx, out.fault, out.s2, out.faultClass, out.ipa);
      ipa = out.pa;
      size = out.log2size;
      s1perm = out.perm;
    }
    let pa = ipa;
    let s2perm = PERM_ALL;
    if (stream.s2 !== undefined) {
      const o2 = this.s2out;
      if (!walk(this.mem, stream.s2, ipa, o2))
        return void this.walkFault(stream, ctx, o2.fault, true, CLASS_IN, ipa);
      pa = o2.pa;
      size = Math.min(size, o2.log2size);
      s2perm = o2.perm;
    }
    // Leaf sizes are at most 2^30 (a 1 GiB block), so the offset is the low bits of ia's low word.
    const off = size <= 30 ? ((ia >>> 0) & ((1 << size) - 1)) >>> 0 : ia % POW2[size]!;
    const e = this.scratch;
    e.tag = tag;
    e.base = ia - off;
    e.log2size = size;
    e.pa = pa - off;
    e.s1perm = s1perm;
    e.s2perm = s2perm;
    e.ipa = ipa - off;
    if (this.keepFills) {
      const entry = makeEntry(e.tag, e.base, e.log2size, e.pa, e.s1perm, e.s2perm, e.ipa, 0);
      this.localTlb.push(entry);
      const { seq: _seq, ...rest } = entry;
      this.fills.push({ kind: "tlb", entry: rest });
    }
    return e;
  }

  /** The walk result, reused (no allocation per walk when fills are not kept). */
  private readonly scratch = makeEntry(0, 0, 0, 0, 0, 0, 0, 0) as {
    -readonly [K in keyof TlbEntry]: TlbEntry[K];
  };
}
