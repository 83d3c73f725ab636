/**
 * From raw STE/CD words to the configuration a translation uses, with the
 * checks that make an STE or CD ILLEGAL (→ C_BAD_STE / C_BAD_CD).
 *
 * Sources: Arm IHI 0070 §5.2 (STE, and its ILLEGAL conditions), §5.4 (CD),
 * §3.4.3 (S1DSS and substreams); Arm ARM D8.2 (T0SZ limits, stage-2 start
 * level from SL0, at most 16 concatenated tables). QEMU hw/arm/smmuv3.c
 * decode_ste / decode_cd / s2_pgtable_config_valid perform the same checks.
 *
 * Modelled subset of the ILLEGAL conditions: V = 0; a stage
 * the SMMU lacks (IDR0.S1P/S2P); S1Fmt reserved or 2-level without
 * IDR0.CD2L; S1CDMax > IDR1.SSIDSIZE; S2AA64 = 0; S2ENDI = 1; S2S = 1 (no
 * stall model); unsupported or reserved S2TG; S2SL0/S2T0SZ inconsistent;
 * S2TTB beyond S2PS. CD: V = 0; AA64 = 0; ENDI = 1; TG0 reserved or
 * unsupported; T0SZ outside [16, 39].
 */
import { type Cd, decodeCd, TG_SHIFT } from "./cd";
import type { SmmuFeatures } from "./regs";
import { oasBits } from "./regs";
import { decodeSte, STE_CFG, type Ste, steS1Enabled, steS2Enabled } from "./ste";
import { s1StartLevel, type TtConfig } from "./walk";

/** What an STE makes of a stream. */
export interface StreamConfig {
  /** The raw words it was decoded from (what the config cache holds). */
  readonly words: readonly bigint[];
  readonly ste: Ste;
  /** abort (Config 0b000), bypass (0b100), or translate (stage 1, stage 2 or both). */
  readonly kind: "abort" | "bypass" | "translate";
  readonly s1: boolean;
  /** Stage-2 regime when stage 2 is on. */
  readonly s2: TtConfig | undefined;
  /** The VMID that tags this stream's TLB entries (STE.S2VMID; 0 when S2P is absent). */
  readonly vmid: number;
}

/** What a CD makes of a substream. */
export interface ContextConfig {
  readonly words: readonly bigint[];
  readonly cd: Cd;
  readonly s1: TtConfig;
  readonly asid: number;
  /** CD.EPD0: TTB0 walks disabled (every address faults). */
  readonly epd0: boolean;
}

/** Stage-2 start level from S2SL0 (Arm ARM D8.2, VTCR_EL2.SL0), or -1 if reserved. */
export function s2StartLevel(granuleShift: number, sl0: number): number {
  if (granuleShift === 12) return sl0 === 0 ? 2 : sl0 === 1 ? 1 : sl0 === 2 ? 0 : -1;
  if (granuleShift === 16) return sl0 === 0 ? 3 : sl0 === 1 ? 2 : sl0 === 2 ? 1 : -1;
  return sl0 === 0 ? 3 : sl0 === 1 ? 2 : sl0 === 2 ? 1 : 0;
}

function granuleSupported(f: SmmuFeatures, shift: number | undefined): shift is number {
  return (shift === 12 && f.gran4k) || (shift === 14 && f.gran16k) || (shift === 16 && f.gran64k);
}

/** Stage-2 regime of an STE, or undefined when ILLEGAL. */
function stage2Of(f: SmmuFeatures, ste: Ste): TtConfig | undefined {
  if (!ste.s2aa64 || ste.s2endi || ste.s2s) return undefined;
  const g = TG_SHIFT[ste.s2tg];
  if (!granuleSupported(f, g)) return undefined;
  const oaBits = Math.min(oasBits(ste.s2ps), f.oas);
  const iaBits = 64 - ste.s2t0sz;
  if (ste.s2t0sz > 39 || iaBits > f.oas) return undefined;
  if (g !== 16 && ste.s2t0sz < 16) return undefined;
  const start = s2StartLevel(g, ste.s2sl0);
  if (start < 0) return undefined;
  // The start level must resolve at least one bit and at most 16 concatenated tables.
  const shift = g + (3 - start) * (g - 3);
  const bits = iaBits - shift;
  if (bits < 1 || bits > g - 3 + 4) return undefined;
  if (ste.s2ttb >= 2 ** oaBits) return undefined;
  return { stage: 2, ttb: ste.s2ttb, iaBits, granuleShift: g, startLevel: start, oaBits, affd: ste.s2affd };
}

/** Decode and check an STE (IHI 0070 §5.2). @returns the config, or undefined for C_BAD_STE. */
export function streamConfigOf(f: SmmuFeatures, words: readonly bigint[]): StreamConfig | undefined {
  const ste = decodeSte(words);
  if (!ste.v) return undefined;
  // VMID[15:8] are RES0 without IDR0.VMID16; no VMID tags at all without stage 2.
  const vmid = f.s2 ? (f.vmidBits === 16 ? ste.s2vmid : ste.s2vmid & 0xff) : 0;
  // Config 0b0xx: abort (0b001..0b011 are reserved and behave as 0b000, IHI 0070 §5.2).
  if ((ste.config & 0b100) === 0) return { words, ste, kind: "abort", s1: false, s2: undefined, vmid };
  if (ste.config === STE_CFG.BYPASS) return { words, ste, kind: "bypass", s1: false, s2: undefined, vmid };
  const s1 = steS1Enabled(ste.config);
  const s2on = steS2Enabled(ste.config);
  if ((s1 && !f.s1) || (s2on && !f.s2)) return undefined;
  if (s1) {
    if (ste.s1fmt === 3 || (ste.s1fmt !== 0 && !f.cd2l)) return undefined;
    if (ste.s1cdmax > f.ssidBits) return undefined;
  }
  let s2: TtConfig | undefined;
  if (s2on) {
    s2 = stage2Of(f, ste);
    if (s2 === undefined) return undefined;
  }
  return { words, ste, kind: "translate", s1, s2, vmid };
}

/** Decode and check a CD (IHI 0070 §5.4). @returns the config, or undefined for C_BAD_CD. */
export function contextConfigOf(f: SmmuFeatures, words: readonly bigint[]): ContextConfig | undefined {
  const cd = decodeCd(words);
  if (!cd.v || !cd.aa64 || cd.endi) return undefined;
  const g = TG_SHIFT[cd.tg0];
  if (!granuleSupported(f, g)) return undefined;
  if (cd.t0sz < 16 || cd.t0sz > 39) return undefined;
  const iaBits = 64 - cd.t0sz;
  const s1: TtConfig = {
    stage: 1,
    ttb: cd.ttb0,
    iaBits,
    granuleShift: g,
    startLevel: s1StartLevel(g, iaBits),
    oaBits: Math.min(oasBits(cd.ips), f.oas),
    affd: cd.affd || cd.ha,
  };
  const asid = f.asidBits === 16 ? cd.asid : cd.asid & 0xff;
  return { words, cd, s1, asid, epd0: cd.epd0 };
}
