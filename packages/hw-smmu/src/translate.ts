/**
 * A device's DMA request through the SMMU, as pure functions over the root
 * state: `translate` (PA runs or the fault, plus the cache fills it caused,
 * including the device's ATC when it uses ATS) and `dmaRead`.
 *
 * Sources: Arm IHI 0070 §3.9 (ATS and PRI), §3.12 (fault handling); PCIe
 * Base Specification §10 (ATS Translated requests use the device's ATC).
 */
import { atcFill, atcLookup } from "./atc";
import { needPerm } from "./pte";
import type { EventRecord } from "./records";
import { type Fill, type SmmuRoot, Translator } from "./translator";
import { F_TRANSLATION } from "./walk";

/** A DMA request as a device issues it. `iova` and `length` in bytes. */
export interface DmaRequest {
  readonly sid: number;
  /** SubstreamID (PASID); absent = no PASID prefix. */
  readonly ssid?: number;
  readonly iova: bigint;
  readonly length: number;
  readonly write: boolean;
  /** PnU: privileged (default false). */
  readonly privileged?: boolean;
  /**
   * The device uses ATS: it looks in its ATC first, else sends a Translation
   * Request (UR + F_BAD_ATS_TREQ unless the STE translates with EATS = 1),
   * caches the completion and issues a Translated request; translation
   * faults come back to the device unrecorded (IHI 0070 §3.9.1.2).
   */
  readonly ats?: boolean;
  /** The device also uses PRI: an ATS translation fault becomes a page request (implies `ats`). */
  readonly pri?: boolean;
}

/** A run of physical memory: `length` bytes at PA `pa`. */
export interface PaRun {
  readonly pa: number;
  readonly length: number;
}

/** The outcome of translating a whole request. */
export type TranslateResult =
  | { readonly ok: true; readonly runs: readonly PaRun[]; readonly fills: readonly Fill[] }
  | {
      readonly ok: false;
      /** The fault, or undefined when the transaction was terminated without a record (STE abort). */
      readonly fault: EventRecord | undefined;
      readonly recorded: boolean;
      /** The device sends a PRI page request for the faulting page. */
      readonly pageRequest: boolean;
      /** STE.PPAR of the stream (for the PRI overflow auto-response). */
      readonly ppar: boolean;
      /** Input address of the page that faulted. */
      readonly at: bigint;
      readonly fills: readonly Fill[];
    };

/**
 * Input addresses this model represents exactly (as JS numbers): below 2^52,
 * the largest OAS/IAS an SMMUv3 has. Every translating configuration here has
 * a smaller input size, so such addresses only matter to bypass streams.
 */
export const MODEL_ADDRESS_LIMIT = 2n ** 52n;

/**
 * Translate every byte of `req` (pure). Bytes at or above
 * `MODEL_ADDRESS_LIMIT` fail as an unrecorded F_TRANSLATION (`smmu.dma`
 * rejects such requests with EINVAL first). Stops at the first faulting page:
 * the whole transaction is then aborted (the model does not perform partial
 * DMA). @returns undefined when `instance` does not exist.
 */
export function translate(root: SmmuRoot, instance: number, req: DmaRequest): TranslateResult | undefined {
  const inst = root.smmu.instances.get(instance);
  if (inst === undefined) return undefined;
  const t = new Translator(inst, root.mm?.ram);
  const ats = req.ats === true || req.pri === true;
  let atc = ats ? inst.atc.get(req.sid) : undefined;
  const ssid = req.ssid ?? -1;
  const priv = req.privileged === true;
  const need = needPerm(req.write, priv);
  const runs: PaRun[] = [];
  const end = req.iova + BigInt(req.length);
  let at = req.iova;
  while (at < end) {
    if (at >= MODEL_ADDRESS_LIMIT) {
      const fault = {
        id: F_TRANSLATION,
        sid: req.sid,
        ...(req.ssid === undefined ? {} : { ssid: req.ssid }),
        inputAddr: at,
      };
      return { ok: false, fault, recorded: false, pageRequest: false, ppar: false, at, fills: t.fills };
    }
    const ia = Number(at);
    const cached = atcLookup(atc, ssid, ia, need);
    let pa: number;
    let n: number;
    if (cached !== undefined) {
      // A Translated request: the device's ATC answered; the SMMU only checks the STE allows it.
      if (!t.checkTranslated(req.sid, ssid, ia, req.write, priv))
        return {
          ok: false,
          fault: t.fault,
          recorded: t.recordFault,
          pageRequest: false,
          ppar: false,
          at,
          fills: t.fills,
        };
      pa = cached.pa + (ia - cached.base);
      n = Math.min(cached.base + 2 ** cached.log2size - ia, Number(end - at));
    } else {
      if (ats && !t.atsRequest(req.sid, ssid, ia, req.write, priv))
        return {
          ok: false,
          fault: t.fault,
          recorded: t.recordFault,
          pageRequest: false,
          ppar: false,
          at,
          fills: t.fills,
        };
      if (!t.translate(req.sid, ssid, ia, req.write, priv)) {
        // A Translation Request's faults and configuration errors go back to the device
        // (R = W = 0, or CA) and are not recorded (IHI 0070 §3.9.1.2, base set of events).
        const atsFault = ats && t.atsFault;
        return {
          ok: false,
          fault: t.fault,
          recorded: t.recordFault && !ats,
          pageRequest: atsFault && req.pri === true && inst.features.pri,
          ppar: t.faultPpar,
          at,
          fills: t.fills,
        };
      }
      pa = t.pa;
      n = Math.min(t.leafRemaining, Number(end - at));
      const e = t.entry;
      if (ats && t.atsEnabled && e !== undefined) {
        const entry = { ssid, base: e.base, log2size: e.log2size, pa: e.pa, perm: e.s1perm & e.s2perm };
        atc = atcFill(atc, entry);
        t.fills.push({ kind: "atc", sid: req.sid, entry });
      }
    }
    const last = runs[runs.length - 1];
    if (last !== undefined && last.pa + last.length === pa)
      runs[runs.length - 1] = { pa: last.pa, length: last.length + n };
    else runs.push({ pa, length: n });
    at += BigInt(n);
  }
  return { ok: true, runs, fills: t.fills };
}

/**
 * A device read through the SMMU (pure): the bytes at the translated
 * addresses, from RAM (`root.mm.ram`; zeros where unpopulated).
 * @returns the bytes, the failing `TranslateResult`, or undefined for an unknown instance.
 */
export function dmaRead(
  root: SmmuRoot,
  instance: number,
  req: Omit<DmaRequest, "write">,
): Uint8Array | TranslateResult | undefined {
  const r = translate(root, instance, { ...req, write: false });
  if (r === undefined || !r.ok) return r;
  const out = new Uint8Array(req.length);
  let off = 0;
  for (const run of r.runs) {
    const ram = root.mm?.ram;
    if (ram !== undefined) out.set(ram.read(run.pa, run.length), off);
    off += run.length;
  }
  return out;
}
