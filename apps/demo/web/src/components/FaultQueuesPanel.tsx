/**
 * The fault-queue panel (faults.ts): iommufd's fault objects (pending
 * groups, groups awaiting a response), the SVA fault queue (groups awaiting
 * the iopf workqueue, per bond), then the VT-d fault recording
 * registers, page request queue and page groups, then the SMMU event and
 * PRI queues.
 */

import { priRespText } from "../../../src/story/smmu-text";
import { reasonText } from "../../../src/story/vtd-text";
import type { FaultObjectView, FaultsView, GroupView, SmmuFaultView, VtdFaultView } from "../faults";
import { hex } from "../format";
import { permText, vtdResponseText } from "./fault-text";
import { SvaFaultQueue } from "./SvaFaultQueue";

/** Props of `FaultQueuesPanel`. */
export interface FaultQueuesPanelProps {
  readonly faults: FaultsView;
}

function GroupRow({ g, testId }: { g: GroupView; testId: string }) {
  return (
    <li data-testid={testId}>
      group {g.grpid} from {g.source} (device {g.devId}), PASID {g.pasid}
      {g.cookie === undefined ? "" : `, cookie ${g.cookie}`}:{" "}
      {g.pages
        .map((p) => `${hex(p.addr)} ${permText(p.perm)}${(p.flags & 2) !== 0 ? " last" : ""}`)
        .join(", ")}
    </li>
  );
}

function ObjectBlock({ o }: { o: FaultObjectView }) {
  const id = `fault-object-${o.kobj}`;
  return (
    <div class="unit" data-testid={id}>
      <h3>
        fault object {o.id} of context {o.ctx} (kernel object {o.kobj}):{" "}
        <span data-testid={`${id}-pending`}>{o.pending.length}</span> pending,{" "}
        <span data-testid={`${id}-awaiting`}>{o.awaiting.length}</span> awaiting a response
        {o.partial.length === 0 ? "" : `, ${o.partial.length} partial`}
      </h3>
      <ul>
        {o.pending.map((g) => (
          <GroupRow key={`p${g.seq}`} g={g} testId={`${id}-group-${g.seq}`} />
        ))}
        {o.awaiting.map((g) => (
          <GroupRow key={`a${g.seq}`} g={g} testId={`${id}-group-${g.seq}`} />
        ))}
      </ul>
    </div>
  );
}

function VtdBlock({ v }: { v: VtdFaultView }) {
  const id = `fault-vtd-${v.unit}`;
  return (
    <div class="unit" data-testid={id}>
      <h3>
        VT-d unit {v.unit}: <span data-testid={`${id}-records`}>{v.records.length}</span> fault record(s)
        {v.overflow ? " (PFO: faults lost)" : ""}, <span data-testid={`${id}-prq`}>{v.requests.length}</span>{" "}
        page request(s) queued{v.prqOverflow ? " (PRO)" : ""}, {v.groups.length} page group(s)
      </h3>
      <ul>
        {v.records.map(({ index, record: r }) => (
          <li key={`f${index}`} data-testid={`${id}-record-${index}`}>
            FRCD {index}: reason {reasonText(r.reason)} from {hex(r.rid)}
            {r.pasid === undefined ? "" : ` PASID ${r.pasid}`} at {hex(r.addr)} {r.write ? "write" : "read"}
          </li>
        ))}
        {v.requests.map((r, i) => (
          <li key={`q${i}`} data-testid={`${id}-request-${i}`}>
            page request: group {r.index} from {hex(r.rid)}
            {r.pasid === undefined ? "" : ` PASID ${r.pasid}`} for {hex(r.addr)} {r.write ? "W" : ""}
            {r.read ? "R" : ""}
            {r.lpig ? " LPIG" : ""}
          </li>
        ))}
        {v.groups.map((g) => (
          <li key={`g${g.rid}-${g.index}`} data-testid={`${id}-group-${hex(g.rid)}-${g.index}`}>
            page group {g.index} of {hex(g.rid)}
            {g.pasid === undefined ? "" : ` PASID ${g.pasid}`}:{" "}
            {g.response === undefined ? "awaiting a response" : `response ${vtdResponseText(g.response)}`}
          </li>
        ))}
      </ul>
    </div>
  );
}

function SmmuBlock({ s }: { s: SmmuFaultView }) {
  const id = `fault-smmu-${s.instance}`;
  return (
    <div class="unit" data-testid={id}>
      <h3>
        SMMUv3 instance {s.instance}: <span data-testid={`${id}-events`}>{s.events.length}</span> event(s)
        {s.evtqOverflow ? " (overflow)" : ""}, <span data-testid={`${id}-pri`}>{s.requests.length}</span> PRI
        request(s){s.priqOverflow ? " (overflow)" : ""}, {s.responses.length} PRI response(s)
      </h3>
      <ul>
        {s.events.map((e, i) => (
          <li key={`e${i}`} data-testid={`${id}-event-${i}`}>
            event {hex(e.id)} from sid {hex(e.sid)}
            {e.ssid === undefined ? "" : ` ssid ${e.ssid}`}
            {e.inputAddr === undefined ? "" : ` at ${hex(e.inputAddr)}`}
            {e.s2 === true ? " (stage 2)" : ""}
          </li>
        ))}
        {s.requests.map((r, i) => (
          <li key={`p${i}`} data-testid={`${id}-request-${i}`}>
            PRI request: group {r.grpid} from sid {hex(r.sid)}
            {r.ssid === undefined ? "" : ` ssid ${r.ssid}`} for {hex(r.addr)} {r.write ? "W" : ""}
            {r.read ? "R" : ""}
            {r.last ? " last" : ""}
          </li>
        ))}
        {s.responses.map((r, i) => (
          <li key={`r${i}`}>
            PRI response: group {r.grpid} of sid {hex(r.sid)} → {priRespText(r.resp)}
            {r.auto === true ? " (auto)" : ""}
          </li>
        ))}
      </ul>
    </div>
  );
}

/** The whole panel. */
export function FaultQueuesPanel({ faults }: FaultQueuesPanelProps) {
  return (
    <div>
      {faults.objects === undefined || faults.objects.length === 0 ? (
        <p class="empty" data-testid="fault-objects-summary">
          no iommufd fault queue
        </p>
      ) : (
        <>
          <p data-testid="fault-objects-summary">{faults.objects.length} iommufd fault queue(s)</p>
          {faults.objects.map((o) => (
            <ObjectBlock key={o.kobj} o={o} />
          ))}
        </>
      )}
      {faults.sva === undefined ? null : <SvaFaultQueue queue={faults.sva} />}
      {faults.vtd.map((v) => (
        <VtdBlock key={v.unit} v={v} />
      ))}
      {faults.smmu.map((s) => (
        <SmmuBlock key={s.instance} s={s} />
      ))}
    </div>
  );
}
