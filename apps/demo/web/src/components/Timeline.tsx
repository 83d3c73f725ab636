/**
 * The record timeline: a window of records around the selected sequence
 * number (seq, command/event, type, short data). Records after the
 * selection are dimmed: they have not happened in the state shown. Only a
 * window is rendered, so logs of millions of records stay responsive.
 */
import type { LogRecord } from "@iommu-sim/eventlog";
import { shortData } from "../format";

/** Records shown before and after the selected one. */
const SPAN = 20;

/** Props of `Timeline`. */
export interface TimelineProps {
  readonly records: readonly LogRecord[];
  /** Seq of the first record (1 for a log read from its start). */
  readonly first: number;
  readonly seq: number;
  readonly onSeq: (seq: number) => void;
}

/** The table of records around `seq`. */
export function Timeline({ records, first, seq, onSeq }: TimelineProps) {
  const at = Math.max(0, seq - first);
  const from = Math.max(0, at - SPAN);
  const shown = records.slice(from, Math.min(records.length, at + SPAN + 1));
  return (
    <table class="timeline" data-testid="timeline">
      <thead>
        <tr>
          <th>seq</th>
          <th />
          <th>type</th>
          <th>data</th>
        </tr>
      </thead>
      <tbody>
        {shown.map((r) => (
          <tr
            key={r.seq}
            data-testid={`record-${r.seq}`}
            class={`${r.kind}${r.seq === seq ? " current" : ""}${r.seq > seq ? " future" : ""}`}
            onClick={() => onSeq(r.seq)}
          >
            <td class="num">{r.seq}</td>
            <td class="kind" title={r.kind}>
              {r.kind === "command" ? "C" : "E"}
            </td>
            <td class="type">{r.type}</td>
            <td class="data">{shortData(r.data)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
