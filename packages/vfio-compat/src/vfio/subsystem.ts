/**
 * The `vfio` subsystem: routes `vfio.*` commands to their deciders.
 */
import type { Subsystem } from "@iommu-sim/eventlog";
import type { RootEvolve } from "@iommu-sim/iommufd";
import type { Errno } from "@iommu-sim/uapi";
import { decideCdevAttach, decideCdevBind, decideCdevDetach, decideCdevOpen } from "./cdev";
import { decideDeviceClose, decideDeviceOpen } from "./device-file";
import { evolveVfio, type VfioEvolveEvent } from "./evolve";
import { decideGroupClose, decideGroupOpen, decideSetContainer, decideUnsetContainer } from "./group";
import { decideIommufdRelease, withReleases } from "./lifetime";
import type { Decided, VfioCommand } from "./messages";
import { INITIAL_VFIO_STATE, type VfioRoot, type VfioState } from "./state";

/**
 * A decision as the subsystem type wants it. The deciders emit iommufd's,
 * iopt's and the hardware's events besides their own (the root evolves
 * each on its owner's slice), so their result is typed loosely.
 */
function out(d: Decided | Errno): readonly VfioEvolveEvent[] | Errno {
  return d as readonly VfioEvolveEvent[] | Errno;
}

/** What the vfio subsystem needs from the system it is composed into. */
export interface VfioOptions {
  /**
   * The composed system's evolve (asked lazily: it exists only once the
   * system is combined), to decide a bind and then an attach on the state
   * the bind leaves.
   */
  readonly evolve: () => RootEvolve;
}

/**
 * The vfio subsystem: root key `vfio`, command prefix `vfio.`, evolving on
 * `vfio.*` and `iommufd.closed`. It reads the `iommufd` slice (platform,
 * contexts, device objects) and emits iommufd's and iopt's events (device
 * bind/attach/unbind, the compat IOAS), so it is composed after them:
 *
 * ```ts
 * let evolve: RootEvolve | undefined;
 * const decider = createSystem({ vfio: createVfio({ evolve: () => evolve! }) });
 * evolve = decider.evolve as unknown as RootEvolve;
 * ```
 * (`createVfioSystemLog` does exactly this.) Errors: see each decider
 * (group.ts, device-file.ts, cdev.ts, lifetime.ts).
 */
export function createVfio(
  options: VfioOptions,
): Subsystem<VfioCommand, VfioEvolveEvent, VfioState, VfioRoot> {
  return {
    commands: ["vfio."],
    events: ["vfio.", "iommufd.closed"],
    initialState: INITIAL_VFIO_STATE,
    decide(_state, c, ctx) {
      const root = ctx.root;
      const evolve = options.evolve();
      switch (c.type) {
        case "vfio.group.open":
          return out(decideGroupOpen(root, c.data.group));
        case "vfio.group.set_container":
          return out(decideSetContainer(root, c.data, ctx, evolve));
        // Letting go of a context may be its last reference: withReleases closes it then.
        case "vfio.group.unset_container":
          return out(withReleases(root, decideUnsetContainer(root, c.data.group, evolve), evolve));
        case "vfio.group.close":
          return out(withReleases(root, decideGroupClose(root, c.data.group, evolve), evolve));
        case "vfio.device.open":
          return out(decideDeviceOpen(root, c.data, ctx));
        case "vfio.cdev.open":
          return out(decideCdevOpen(root, c.data.device, ctx));
        case "vfio.cdev.bind":
          return out(decideCdevBind(root, c.data, ctx));
        case "vfio.cdev.attach":
          return out(decideCdevAttach(root, c.data, ctx, evolve));
        case "vfio.cdev.detach":
          return out(decideCdevDetach(root, c.data, evolve));
        case "vfio.device.close":
          return out(withReleases(root, decideDeviceClose(root, c.data.file, evolve), evolve));
        case "vfio.iommufd.release":
          return out(decideIommufdRelease(root, c.data.ctx, evolve));
      }
    },
    evolve: (state, event) => evolveVfio(state, event),
  };
}
