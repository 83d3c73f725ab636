/**
 * The VT-d panel (vtd.ts): per unit, the root, context and PASID-table
 * entries of every attached device (under a first-stage-only entry, the
 * tree it points at: an SVA bond's process page table), and each domain's
 * page-table tree.
 */
import type { ContextEntry, PasidEntry, RootEntry } from "@iommu-sim/hw-vtd";
import { hex } from "../format";
import {
  PGTT_NAME,
  type VtdDeviceView,
  type VtdDomainView,
  type VtdFirstStageView,
  type VtdUnitView,
} from "../vtd";
import { PageTableTree } from "./PageTableTree";

/** Props of `VtdPanel`. */
export interface VtdPanelProps {
  /** Undefined: the root has no `vtd` slice. */
  readonly units: readonly VtdUnitView[] | undefined;
}

const flags = (pairs: [boolean, string][]) =>
  pairs
    .filter(([on]) => on)
    .map(([, s]) => s)
    .join(" ");

/** Root entry: the context table of this device's half of the bus. */
export function rootText(e: RootEntry, devfn: number): string {
  const lower = devfn < 128;
  const present = lower ? e.lowerPresent : e.upperPresent;
  return `${lower ? "LP" : "UP"}=${present ? 1 : 0} ${lower ? "LCTP" : "UCTP"} ${hex(lower ? e.lowerCtp : e.upperCtp)}`;
}

/** Context entry fields (VT-d §9.4). */
export function contextText(e: ContextEntry): string {
  return `${flags([
    [e.present, "P"],
    [e.fpd, "FPD"],
    [e.dte, "DTE"],
    [e.pasidEnable, "PASIDE"],
    [e.pre, "PRE"],
  ])} PDTS ${e.pdts} PASIDDIRPTR ${hex(e.pasidDirPtr)} RID_PASID ${e.ridPasid}`;
}

/** PASID-table entry fields (VT-d §9.6). */
export function pasidText(e: PasidEntry): string {
  const ptr =
    e.pgtt === 1
      ? `FSPTPTR ${hex(e.flptptr)}`
      : e.pgtt === 3
        ? `FSPTPTR ${hex(e.flptptr)} SSPTPTR ${hex(e.slptptr)}`
        : e.pgtt === 2
          ? `SSPTPTR ${hex(e.slptptr)}`
          : "";
  return `${e.present ? "P" : "not present"} PGTT ${e.pgtt} (${PGTT_NAME[e.pgtt] ?? "?"}) DID ${e.did} AW ${e.aw} ${ptr} ${flags(
    [
      [e.sre, "SRE"],
      [e.wpe, "WPE"],
      [e.pgsnp, "PGSNP"],
      [e.pwsnp, "PWSNP"],
      [e.ssade, "SSADE"],
    ],
  )}`.trim();
}

function DeviceRows({ unit, d }: { unit: number; d: VtdDeviceView }) {
  const rid = hex(d.rid);
  return (
    <>
      <tr data-testid={`vtd-device-${unit}-${rid}`}>
        <td class="num">
          {d.bdf} ({rid})
        </td>
        <td>
          root {hex(d.root.pa)}: {rootText(d.root.entry, d.rid & 0xff)}
        </td>
        <td>
          {d.context === undefined
            ? "no context table"
            : `context ${hex(d.context.pa)}: ${contextText(d.context.entry)}`}
        </td>
      </tr>
      {d.pasids.map((p) => (
        <tr key={p.pasid} data-testid={`vtd-pasid-${unit}-${rid}-${p.pasid}`} class="sub">
          <td class="num">PASID {p.pasid}</td>
          <td colSpan={2}>
            {p.at === undefined
              ? `DID ${p.did}: no PASID table page`
              : `entry ${hex(p.at.pa)}: ${pasidText(p.at.entry)}`}
            {p.firstStage === undefined ? null : (
              <FirstStageTree fs={p.firstStage} testId={`${unit}-${rid}-${p.pasid}`} />
            )}
          </td>
        </tr>
      ))}
    </>
  );
}

/** Whose table a first-stage pointer is: "process 2000's page table" when a process's pgd, else "table". */
export function firstStageOwner(pid: number | undefined): string {
  return pid === undefined ? "first-stage table" : `process ${pid}'s page table`;
}

/**
 * The first-stage tree under a PGTT 1 PASID entry (for an SVA bond the
 * process's x86-64 CPU page table, in RAM), opened level by level.
 */
function FirstStageTree({ fs, testId }: { fs: VtdFirstStageView; testId: string }) {
  return (
    <details class="domain" data-testid={`vtd-pasid-tree-${testId}`}>
      <summary>
        FSPTPTR {hex(fs.root)}: {firstStageOwner(fs.pid)} (x86-64, {fs.shift === 48 ? 5 : 4}-level)
      </summary>
      <PageTableTree
        ctx={fs.ctx}
        format="vtd-fl"
        root={fs.root}
        shift={fs.shift}
        testId={`vtd-pasid-pt-${testId}`}
      />
    </details>
  );
}

function DomainBlock({ unit, d }: { unit: number; d: VtdDomainView }) {
  const what =
    d.kind === "nested"
      ? `nested on DID ${d.parent}`
      : d.kind === "sva"
        ? `SVA, ${firstStageOwner(d.pid)}`
        : d.nestParent
          ? "paging, nest parent"
          : d.kind;
  return (
    <details class="domain" data-testid={`vtd-domain-${unit}-${d.did}`}>
      <summary>
        DID {d.did}: {what}; {d.format === "vtd-sl" ? "second-stage" : "first-stage"} table {hex(d.root)}
        {d.users.length === 0 ? ", unused" : `, used by ${d.users.join(", ")}`}
      </summary>
      {d.kind === "identity" ? (
        <p class="empty">pass-through: no table</p>
      ) : (
        <PageTableTree
          ctx={d.ctx}
          format={d.format}
          root={d.root}
          shift={d.shift}
          testId={`vtd-pt-${unit}-${d.did}`}
        />
      )}
    </details>
  );
}

/** Every unit. */
export function VtdPanel({ units }: VtdPanelProps) {
  if (units === undefined) return <p class="empty">no vtd slice in this system</p>;
  if (units.length === 0)
    return (
      <p class="empty" data-testid="vtd-summary">
        no VT-d unit
      </p>
    );
  return (
    <div>
      <p data-testid="vtd-summary">
        {units.length} VT-d unit(s), {units.reduce((n, u) => n + u.devices.length, 0)} device(s),{" "}
        {units.reduce((n, u) => n + u.domains.length, 0)} domain(s)
      </p>
      {units.map((u) => (
        <div key={u.id} class="unit" data-testid={`vtd-unit-${u.id}`}>
          <h3>
            unit {u.id}: RTADDR {hex(u.rootTable)}, CAP {hex(u.cap)}, ECAP {hex(u.ecap)}, {u.tableFrames}{" "}
            table frame(s)
          </h3>
          {u.devices.length === 0 ? (
            <p class="empty">no device</p>
          ) : (
            <table>
              <tbody>
                {u.devices.map((d) => (
                  <DeviceRows key={d.rid} unit={u.id} d={d} />
                ))}
              </tbody>
            </table>
          )}
          {u.domains.map((d) => (
            <DomainBlock key={d.did} unit={u.id} d={d} />
          ))}
        </div>
      ))}
    </div>
  );
}
