/**
 * The `iommufd` subsystem: routes `iommufd.*` commands to their deciders.
 */
import type { Subsystem } from "@iommu-sim/eventlog";
import { decideClose, decideOpen } from "./context";
import { decideDestroy } from "./destroy";
import {
  decideDeviceAttach,
  decideDeviceDetach,
  decideDeviceReplace,
  decideDeviceUnbind,
} from "./device-attach";
import { decideDeviceBind } from "./device-bind";
import { evolveIommufd } from "./evolve";
import { decideFaultCommand } from "./fault/commands";
import { evolveFaults } from "./fault/evolve";
import { decideHwQueueAlloc } from "./hw-queue";
import { decideHwptAlloc } from "./hwpt-alloc";
import { decideHwptInvalidate } from "./hwpt-invalidate";
import { decideIoasAlloc } from "./ioas";
import type { IommufdCommand, IommufdEvent } from "./messages";
import { decideOptionSet } from "./option";
import type { Platform } from "./platform";
import type { IommufdRoot, RootEvolve } from "./root";
import {
  decideAccessCreate,
  decideAccessPages,
  decideAccessPagesDestroy,
  decideAccessRelease,
  decideAccessReplaceIoas,
  decideAccessWrite,
} from "./selftest/access";
import { decideMockDomain } from "./selftest/mock-domain";
import { decideMockPasidAttach, decideMockPasidDetach, decideMockPasidReplace } from "./selftest/pasid";
import { decideMockDomainReplace } from "./selftest/replace";
import { INITIAL_IOMMUFD_STATE, type IommufdState } from "./state";
import { decideVdeviceAlloc } from "./vdevice";
import { decideVeventqCommand } from "./veventq/commands";
import { evolveVeventqs } from "./veventq/evolve";
import { decideVfioIoasSet } from "./vfio-ioas";
import { decideViommuAlloc } from "./viommu";

/** What the iommufd subsystem needs from the system it is composed into. */
export interface IommufdOptions {
  /** The composed system's evolve (asked lazily: it exists only once the system is combined). */
  readonly evolve: () => RootEvolve;
  /** The machine whose devices can be bound (`iommufd.device.bind`); absent: selftest mock devices only. */
  readonly platform?: Platform;
}

/**
 * The iommufd subsystem (root key `iommufd`, command prefix `iommufd.`).
 * Its commands emit events of other slices too (iopt's `ioas.*`), so it is
 * composed with them: see `createSystem`.
 * Errors: see each decider (context.ts, destroy.ts, option.ts, ioas.ts,
 * viommu.ts, vdevice.ts…).
 */
export function createIommufd(
  options: IommufdOptions,
): Subsystem<IommufdCommand, IommufdEvent, IommufdState, IommufdRoot> {
  return {
    commands: ["iommufd."],
    // The hardware's page requests feed the fault queues (fault/evolve.ts).
    events: ["iommufd.", "vtd.prq.queued", "smmu.pri.queued"],
    initialState:
      options.platform === undefined
        ? INITIAL_IOMMUFD_STATE
        : Object.freeze({ ...INITIAL_IOMMUFD_STATE, platform: options.platform }),
    decide(_state, c, ctx) {
      const root = ctx.root;
      switch (c.type) {
        case "iommufd.open":
          return decideOpen(root, c.data.pid, c.data.vfio, ctx) as IommufdEvent[];
        case "iommufd.close":
          return decideClose(root, c.data.ctx, options.evolve()) as IommufdEvent[];
        case "iommufd.destroy":
          return decideDestroy(root, c.data.ctx, c.data.id) as IommufdEvent[];
        case "iommufd.option.set":
          return decideOptionSet(root.iommufd, c.data.ctx, c.data.option, c.data.objectId, c.data.value);
        case "iommufd.ioas.alloc":
          return decideIoasAlloc(root, c.data.ctx, ctx) as IommufdEvent[];
        case "iommufd.selftest.mock_domain":
          return decideMockDomain(root, c.data, ctx) as IommufdEvent[];
        case "iommufd.selftest.mock_domain_replace":
          return decideMockDomainReplace(root, c.data, ctx) as IommufdEvent[];
        case "iommufd.fault.alloc":
        case "iommufd.fault.read":
        case "iommufd.fault.respond":
        case "iommufd.fault.release":
        case "iommufd.selftest.trigger_iopf":
          return decideFaultCommand(root, c, ctx) as IommufdEvent[];
        case "iommufd.veventq.alloc":
        case "iommufd.veventq.read":
        case "iommufd.veventq.release":
        case "iommufd.selftest.trigger_vevent":
          return decideVeventqCommand(root, c, ctx) as IommufdEvent[];
        case "iommufd.hwpt.alloc":
          return decideHwptAlloc(root, c.data, ctx) as IommufdEvent[];
        case "iommufd.hwpt.invalidate":
          return decideHwptInvalidate(root, c.data, ctx) as IommufdEvent[];
        case "iommufd.viommu.alloc":
          return decideViommuAlloc(root, c.data, ctx) as IommufdEvent[];
        case "iommufd.vdevice.alloc":
          return decideVdeviceAlloc(root, c.data, ctx) as IommufdEvent[];
        case "iommufd.hw_queue.alloc":
          return decideHwQueueAlloc(root, c.data, ctx, options.evolve()) as IommufdEvent[];
        case "iommufd.vfio_ioas.set":
          return decideVfioIoasSet(root, c.data.ctx, c.data.ioasId);
        case "iommufd.device.bind":
          return decideDeviceBind(root, c.data, ctx) as IommufdEvent[];
        case "iommufd.device.unbind":
          return decideDeviceUnbind(root, c.data, options.evolve()) as IommufdEvent[];
        case "iommufd.device.attach":
          return decideDeviceAttach(root, c.data, ctx, options.evolve()) as IommufdEvent[];
        case "iommufd.device.replace":
          return decideDeviceReplace(root, c.data, ctx, options.evolve()) as IommufdEvent[];
        case "iommufd.device.detach":
          return decideDeviceDetach(root, c.data, options.evolve()) as IommufdEvent[];
        case "iommufd.selftest.access_create":
          return decideAccessCreate(root, c.data, ctx) as IommufdEvent[];
        case "iommufd.selftest.access_destroy":
          return decideAccessRelease(root, c.data) as IommufdEvent[];
        case "iommufd.selftest.access_replace_ioas":
          return decideAccessReplaceIoas(root, c.data, ctx) as IommufdEvent[];
        case "iommufd.selftest.access_pages":
          return decideAccessPages(root, c.data, ctx, options.evolve()) as IommufdEvent[];
        case "iommufd.selftest.access_pages_destroy":
          return decideAccessPagesDestroy(root, c.data, ctx) as IommufdEvent[];
        case "iommufd.selftest.access_write":
          return decideAccessWrite(root, c.data, ctx) as IommufdEvent[];
        case "iommufd.selftest.pasid_attach":
          return decideMockPasidAttach(root, c.data, ctx) as IommufdEvent[];
        case "iommufd.selftest.pasid_replace":
          return decideMockPasidReplace(root, c.data, ctx) as IommufdEvent[];
        case "iommufd.selftest.pasid_detach":
          return decideMockPasidDetach(root, c.data) as IommufdEvent[];
      }
    },
    evolve: (state, e) => evolveVeventqs(evolveFaults(evolveIommufd(state, e), e), e),
  };
}
