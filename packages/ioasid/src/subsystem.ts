/**
 * The `ioasid` subsystem: root key `ioasid`; commands and events prefixed
 * `ioasid.`, `pasid.`, `sva.`, `systemPasid.`.
 */
import type { Message, Subsystem, SubsystemDecideContext } from "@iommu-sim/eventlog";
import type { Errno, IoasidCommand, IoasidEvent } from "@iommu-sim/uapi";
import { decideCgroupAttach, decideCgroupCreate, decideCgroupSetMax } from "./cgroup";
import type { DeviceLookup } from "./device";
import { decideAlloc, decideClose, decideFree, decideOpen, decideShare } from "./devioasid";
import { evolveIoasid } from "./evolve";
import { decideIopfHandle, queuePageRequest } from "./iopf";
import { decideExit, decideFork } from "./process";
import { type IoasidState, initialIoasidState, type PasidSpaceConfig } from "./state";
import { decideBind, decideUnbind } from "./sva";
import type { SvaHooks } from "./sva-hooks";
import {
  decideDirectMapDisable,
  decideDirectMapEnable,
  decideDisable,
  decideEnable,
  decidePolicy,
} from "./system-pasid";

/** Message type prefixes of the subsystem (a prefix belongs to one subsystem). */
export const IOASID_PREFIXES = ["ioasid.", "pasid.", "sva.", "systemPasid."] as const;

/** Options of `createIoasid`. */
export interface IoasidOptions<R> extends PasidSpaceConfig {
  /** How to find a device by requester id in the root state (the composition supplies it). */
  readonly devices: DeviceLookup<R>;
  /**
   * The drivers' side of SVA (sva-hooks.ts): with it a bind programs the
   * IOMMU and page requests at SVA PASIDs reach the SVA fault queue;
   * without it a bind only allocates the PASID.
   */
  readonly sva?: SvaHooks<R>;
}

/**
 * What the subsystem emits and follows: its own events and, with SVA hooks,
 * the drivers' and mm's events the hooks return or report page requests in.
 */
export type IoasidEmitted = IoasidEvent | Message;

/** The `ioasid` subsystem type. */
export type IoasidSubsystem<R> = Subsystem<IoasidCommand, IoasidEmitted, IoasidState, R>;

function decide<R>(
  state: IoasidState,
  c: IoasidCommand,
  ctx: SubsystemDecideContext<R>,
  devices: DeviceLookup<R>,
  hooks: SvaHooks<R> | undefined,
): readonly IoasidEmitted[] | Errno {
  switch (c.type) {
    case "ioasid.open":
      return decideOpen(state, c.data, ctx);
    case "ioasid.close":
      return decideClose(state, c.data);
    case "ioasid.fd.share":
      return decideShare(state, c.data);
    case "ioasid.alloc":
      return decideAlloc(state, c.data, ctx);
    case "ioasid.free":
      return decideFree(state, c.data);
    case "ioasid.process.fork":
      return decideFork(state, c.data);
    case "ioasid.process.exit":
      return decideExit(state, c.data, ctx.root, hooks);
    case "ioasid.cgroup.create":
      return decideCgroupCreate(state, c.data, ctx);
    case "ioasid.cgroup.setMax":
      return decideCgroupSetMax(state, c.data);
    case "ioasid.cgroup.attach":
      return decideCgroupAttach(state, c.data);
    case "sva.bind":
      return decideBind(state, c.data, ctx, devices, hooks);
    case "sva.unbind":
      return decideUnbind(state, c.data, ctx.root, hooks);
    case "sva.iopf.handle":
      return decideIopfHandle(state, c.data, ctx, hooks);
    case "systemPasid.enable":
      return decideEnable(state, c.data, ctx, devices);
    case "systemPasid.disable":
      return decideDisable(state, c.data);
    case "systemPasid.directMap.enable":
      return decideDirectMapEnable(state, c.data, ctx, devices);
    case "systemPasid.directMap.disable":
      return decideDirectMapDisable(state, c.data);
    case "systemPasid.policy":
      return decidePolicy(c.data);
  }
}

/**
 * Create the `ioasid` subsystem, to be combined under the root key `ioasid`:
 * `combine({ ioasid: createIoasid({ devices }) , … })`.
 * @param options the PASID width (default 20 bits), whether PASID 0 is
 *   reserved (default yes: VT-d RID2PASID), the device lookup, and the
 *   optional SVA driver hooks.
 */
export function createIoasid<R = unknown>(options: IoasidOptions<R>): IoasidSubsystem<R> {
  const { devices, sva } = options;
  const own = (type: string) => IOASID_PREFIXES.some((p) => type.startsWith(p));
  return {
    commands: IOASID_PREFIXES,
    events: [...IOASID_PREFIXES, ...(sva?.pageRequestEvents ?? [])],
    initialState: initialIoasidState(options),
    decide: (state, c, ctx) => decide(state, c, ctx, devices, sva),
    evolve(state, e, root) {
      if (own(e.type)) return evolveIoasid(state, e as IoasidEvent);
      // A driver's page request: the SVA fault queue takes those at SVA-bound PASIDs.
      const r = sva?.pageRequest(root, e);
      return r === undefined ? state : queuePageRequest(state, r);
    },
  };
}
