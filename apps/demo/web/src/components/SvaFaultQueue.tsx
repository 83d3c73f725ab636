/**
 * The SVA fault queue block of the fault-queue panel (sva-faults.ts): per
 * SVA bond — device, PASID, process — the page request groups waiting for
 * the iopf workqueue (`sva.iopf.handle`), each with its pages, and the
 * responses the hardware got for that device and PASID.
 */
import { priRespText } from "../../../src/story/smmu-text";
import { hex } from "../format";
import type { SvaAnswerView, SvaBondQueueView, SvaGroupView, SvaPageView, SvaQueueView } from "../sva-faults";
import { bdf } from "../vtd";
import { vtdResponseText } from "./fault-text";

/** Props of `SvaFaultQueue`. */
export interface SvaFaultQueueProps {
  readonly queue: SvaQueueView;
}

/** A page's access as "W", "R", "RWX priv" (the request's R/W/X and privileged-mode bits). */
function accessText(p: SvaPageView): string {
  const rwx = `${p.read ? "R" : ""}${p.write ? "W" : ""}${p.exec ? "X" : ""}` || "-";
  return p.privileged ? `${rwx} priv` : rwx;
}

function SvaGroupRow({ g }: { g: SvaGroupView }) {
  return (
    <li data-testid={`fault-sva-group-${g.id}`}>
      group {g.grpid} (queue id {g.id}) from {g.source} rid {hex(g.rid)}, PASID {g.pasid}:{" "}
      {g.pages.map((p) => `${hex(p.addr)} ${accessText(p)}`).join(", ")}
      {g.complete ? " last — on the iopf workqueue" : " — waiting for its last page"}
    </li>
  );
}

function AnswerRow({ bond, a }: { bond: number; a: SvaAnswerView }) {
  const where = a.hw === "vtd" ? `VT-d unit ${a.unit}` : `SMMUv3 instance ${a.unit}`;
  return (
    <li data-testid={`fault-sva-answer-${bond}-${a.hw}-${a.unit}-${a.grpid}`}>
      answered: page group {a.grpid} → {a.hw === "vtd" ? vtdResponseText(a.code) : priRespText(a.code)} (
      {where})
    </li>
  );
}

function BondBlock({ b }: { b: SvaBondQueueView }) {
  const id = `fault-sva-bond-${b.bond}`;
  return (
    <div data-testid={id}>
      bond {b.bond}: {bdf(b.rid)} ({hex(b.rid)}) PASID {b.pasid}, process {b.pid}:{" "}
      <span data-testid={`${id}-pending`}>{b.pending.length}</span> group(s) pending
      <ul>
        {b.pending.map((g) => (
          <SvaGroupRow key={g.id} g={g} />
        ))}
        {b.answered.map((a) => (
          <AnswerRow key={`${a.hw}${a.unit}-${a.grpid}`} bond={b.bond} a={a} />
        ))}
      </ul>
    </div>
  );
}

/** The SVA fault queue: a summary, then each bond. */
export function SvaFaultQueue({ queue }: SvaFaultQueueProps) {
  return (
    <div class="unit" data-testid="fault-sva">
      <h3>
        SVA fault queue: <span data-testid="fault-sva-pending">{queue.total}</span> group(s) pending,{" "}
        {queue.bonds.length} SVA bond(s)
      </h3>
      {queue.bonds.map((b) => (
        <BondBlock key={b.bond} b={b} />
      ))}
      {queue.orphans.length === 0 ? null : (
        <ul>
          {queue.orphans.map((g) => (
            <SvaGroupRow key={g.id} g={g} />
          ))}
        </ul>
      )}
    </div>
  );
}
