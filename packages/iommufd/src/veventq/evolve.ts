/**
 * How the vEVENTQs of the iommufd slice evolve: a queue appears with its
 * vEVENTQ object and goes with it; reports, reads and the fd's release
 * change it. Sequence numbers are given here, from the queue's counter,
 * so a replay numbers the records exactly as the original run did.
 */
import type { IommufdState } from "../state";
import { emptyVeventQueue, queueLost, queueVevent, takeRecords, type VeventQueue } from "./queue";

type AnyEvent = { type: string; data: unknown };

function withQueue(state: IommufdState, kobj: number, q: VeventQueue | undefined): IommufdState {
  const { [kobj]: _old, ...rest } = state.veventqs ?? {};
  return { ...state, veventqs: q === undefined ? rest : { ...rest, [kobj]: q } };
}

function onQueue(state: IommufdState, kobj: number, fn: (q: VeventQueue) => VeventQueue): IommufdState {
  const q = state.veventqs?.[kobj];
  return q === undefined ? state : withQueue(state, kobj, fn(q));
}

/** The kobj of the queue of vEVENTQ object `id` in context `ctx`. */
function queueKey(state: IommufdState, ctx: number, id: number): number | undefined {
  for (const [k, q] of Object.entries(state.veventqs ?? {}))
    if (q.ctx === ctx && q.id === id) return Number(k);
  return undefined;
}

/** The fd's users reference on vEVENTQ object `id` drops. */
function released(state: IommufdState, ctx: number, id: number): IommufdState {
  const c = state.contexts[ctx];
  const obj = c?.objects[id];
  if (c === undefined || obj === undefined) return state;
  const objects = { ...c.objects, [id]: { ...obj, external: Math.max(0, (obj.external ?? 0) - 1) } };
  return { ...state, contexts: { ...state.contexts, [ctx]: { ...c, objects } } };
}

/**
 * Apply one event to the vEVENTQs; runs after `evolveIommufd` on every
 * event the iommufd subsystem listens to. Events of no concern return
 * `state` itself.
 */
export function evolveVeventqs(state: IommufdState, e: AnyEvent): IommufdState {
  switch (e.type) {
    case "iommufd.object.created": {
      const d = e.data as {
        ctx: number;
        id: number;
        type: string;
        kobj?: number;
        refs: readonly number[];
        veventqType?: number;
        depth?: number;
      };
      if (d.type !== "veventq" || d.kobj === undefined) return state;
      const q = emptyVeventQueue(d.ctx, d.id, d.refs[0] ?? 0, d.veventqType ?? 0, d.depth ?? 0);
      return withQueue(state, d.kobj, q);
    }
    case "iommufd.object.destroyed": {
      const d = e.data as { ctx: number; id: number; type: string };
      if (d.type !== "veventq") return state;
      const key = queueKey(state, d.ctx, d.id);
      return key === undefined ? state : withQueue(state, key, undefined);
    }
    case "iommufd.vevent.reported": {
      const d = e.data as { veventq: number; data: Uint8Array };
      return onQueue(state, d.veventq, (q) => queueVevent(q, d.data));
    }
    case "iommufd.vevent.lost":
      return onQueue(state, (e.data as { veventq: number }).veventq, queueLost);
    case "iommufd.veventq.delivered": {
      const d = e.data as { veventq: number; records: number };
      return onQueue(state, d.veventq, (q) => takeRecords(q, d.records));
    }
    case "iommufd.veventq.released": {
      const d = e.data as { ctx: number; id: number };
      return released(state, d.ctx, d.id);
    }
    default:
      return state;
  }
}
