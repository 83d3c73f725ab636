/**
 * `iommu-sim inspect LOG [--at SEQ] [--object ID] [--json]`: the state at
 * record SEQ (default: the end) — every slice's summary (the object graph:
 * contexts and their objects with the objects they reference), or one
 * object: `--object ID` (in every context that has it) or
 * `--object CTX:ID`, with its users. Views of IOAS areas, page-table
 * trees, PASID tables and queues join as their slices arrive.
 */
import { UsageError } from "../errors";
import { replayLog } from "./replay";
import { type FoundObject, findObjects, type SliceSummary } from "./summary";

/** What inspect reports. */
export interface InspectResult {
  readonly file: string;
  readonly seq: number;
  readonly hash: string;
  readonly summary?: Record<string, SliceSummary>;
  readonly objects?: FoundObject[];
}

/** Parse `ID` or `CTX:ID`. @throws UsageError otherwise. */
export function parseObjectRef(text: string): { ctx?: number; id: number } {
  const m = /^(?:(\d+):)?(\d+)$/.exec(text);
  if (m === null) throw new UsageError(`inspect: --object: '${text}' is not ID or CTX:ID`);
  return m[1] === undefined ? { id: Number(m[2]) } : { ctx: Number(m[1]), id: Number(m[2]) };
}

/** Inspect `file` at `at` (default: the end), optionally one object. */
export async function inspectLog(file: string, at?: number, object?: string): Promise<InspectResult> {
  const ref = object === undefined ? undefined : parseObjectRef(object);
  const r = await replayLog(file, at);
  if (ref === undefined) return { file, seq: r.seq, hash: r.hash, summary: r.summary };
  const objects = findObjects(r.log.state, ref.id, ref.ctx);
  if (objects.length === 0)
    throw new UsageError(`${file}: --object ${object}: no such object at seq ${r.seq}`);
  return { file, seq: r.seq, hash: r.hash, objects };
}
