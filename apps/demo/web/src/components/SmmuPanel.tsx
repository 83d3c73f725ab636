/**
 * The SMMU panel (smmu.ts): per SMMUv3 instance, the STE of each attached
 * stream, the CDs of its substreams, and each domain's stage-1 / stage-2
 * trees.
 */
import type { Cd, Ste } from "@iommu-sim/hw-smmu";
import { hex } from "../format";
import { type SmmuDomainView, type SmmuInstanceView, type SmmuStreamView, STE_CONFIG_NAME } from "../smmu";
import { PageTableTree } from "./PageTableTree";

/** Props of `SmmuPanel`. */
export interface SmmuPanelProps {
  /** Undefined: the root has no `smmu` slice. */
  readonly instances: readonly SmmuInstanceView[] | undefined;
}

const S1DSS_NAME = ["terminate", "bypass", "SSID0"];
const EATS_NAME = ["abort", "translate", "S1 check"];

/** STE fields (IHI 0070 §5.2) the driver sets. */
export function steText(s: Ste): string {
  if (!s.v) return "V=0 (invalid)";
  const parts = [`Config ${STE_CONFIG_NAME[s.config] ?? s.config.toString(2)}`];
  if ((s.config & 1) === 1)
    parts.push(
      `S1ContextPtr ${hex(s.s1ContextPtr)} S1Fmt ${s.s1fmt} S1CDMax ${s.s1cdmax} S1DSS ${S1DSS_NAME[s.s1dss] ?? s.s1dss}`,
    );
  if ((s.config & 2) === 2)
    parts.push(`S2VMID ${s.s2vmid} S2TTB ${hex(s.s2ttb)} S2T0SZ ${s.s2t0sz} S2SL0 ${s.s2sl0}`);
  parts.push(`EATS ${EATS_NAME[s.eats] ?? s.eats}`);
  return parts.join(" ");
}

/** CD fields (IHI 0070 §5.4). */
export function cdText(c: Cd): string {
  if (!c.v) return "V=0 (invalid)";
  return `ASID ${c.asid} TTB0 ${hex(c.ttb0)} T0SZ ${c.t0sz} TG0 ${c.tg0}${c.epd0 ? " EPD0" : ""}${c.aa64 ? " AA64" : ""}${c.r ? " R" : ""}${c.a ? " A" : ""}${c.s ? " S" : ""}`;
}

function StreamRows({ inst, s }: { inst: number; s: SmmuStreamView }) {
  const sid = hex(s.sid);
  return (
    <>
      <tr data-testid={`smmu-ste-${inst}-${sid}`}>
        <td class="num">sid {sid}</td>
        <td>
          {s.ste === undefined ? "no level-2 stream table" : `STE ${hex(s.ste.pa)}: ${steText(s.ste.entry)}`}
        </td>
      </tr>
      {s.cds.map((c) => (
        <tr key={c.ssid} class="sub" data-testid={`smmu-cd-${inst}-${sid}-${c.ssid}`}>
          <td class="num">ssid {c.ssid}</td>
          <td>{c.at === undefined ? "no CD" : `CD ${hex(c.at.pa)}: ${cdText(c.at.entry)}`}</td>
        </tr>
      ))}
    </>
  );
}

function DomainBlock({ inst, d }: { inst: number; d: SmmuDomainView }) {
  const what =
    d.kind === "s1"
      ? `stage 1, ASID ${d.asid}`
      : d.kind === "s2"
        ? `stage 2, VMID ${d.vmid}`
        : `nested (guest stage 1) on domain ${d.parent}`;
  return (
    <details class="domain" data-testid={`smmu-domain-${inst}-${d.id}`}>
      <summary>
        domain {d.id}: {what}
        {d.users.length === 0 ? ", unused" : `, used by ${d.users.join(", ")}`}
      </summary>
      {d.trees.length === 0 ? <p class="empty">no table to show (not attached)</p> : null}
      {d.trees.map((t) => (
        <div key={t.stage}>
          <h4>
            stage {t.stage} from {hex(t.root)}
          </h4>
          <PageTableTree
            ctx={t.ctx}
            format={t.format}
            root={t.root}
            shift={t.shift}
            topCount={t.topCount}
            testId={`smmu-pt-${inst}-${d.id}-s${t.stage}`}
          />
        </div>
      ))}
    </details>
  );
}

/** Every instance. */
export function SmmuPanel({ instances }: SmmuPanelProps) {
  if (instances === undefined) return <p class="empty">no smmu slice in this system</p>;
  if (instances.length === 0)
    return (
      <p class="empty" data-testid="smmu-summary">
        no SMMUv3 instance
      </p>
    );
  return (
    <div>
      <p data-testid="smmu-summary">
        {instances.length} SMMUv3 instance(s), {instances.reduce((n, i) => n + i.streams.length, 0)} attached
        stream(s), {instances.reduce((n, i) => n + i.domains.length, 0)} domain(s)
      </p>
      {instances.map((i) => (
        <div key={i.id} class="unit" data-testid={`smmu-instance-${i.id}`}>
          <h3>
            instance {i.id}: stream table {hex(i.strtabBase)} ({i.strtabFmt === 0 ? "linear" : "2-level"})
          </h3>
          {i.streams.length === 0 ? (
            <p class="empty">no attached stream</p>
          ) : (
            <table>
              <tbody>
                {i.streams.map((s) => (
                  <StreamRows key={s.sid} inst={i.id} s={s} />
                ))}
              </tbody>
            </table>
          )}
          {i.domains.map((d) => (
            <DomainBlock key={d.id} inst={i.id} d={d} />
          ))}
        </div>
      ))}
    </div>
  );
}
