/**
 * The `mm` subsystem: simulated processes and physical RAM (root key `mm`).
 * Commands `mm.*`; it evolves on `mm.*` events, including `mm.phys.written`
 * and `mm.faulted` emitted by other subsystems (device DMA, pinning).
 */
import type { Subsystem } from "@iommu-sim/eventlog";
import { errno, type MmMessage } from "@iommu-sim/uapi";
import {
  decideExit,
  decideFileCreate,
  decideFork,
  decideMmap,
  decideMunmap,
  decideSpawn,
  decideWrite,
  type MmEvent,
  type MmRoot,
} from "./decide";
import { evolveMm } from "./evolve";
import { initialMmState, type MmState } from "./state";

/** An `mm.` command. */
export type MmCommand = Exclude<MmMessage, MmEvent>;

/** The `mm` subsystem (see module comment). */
export const mmSubsystem: Subsystem<MmCommand, MmEvent, MmState, MmRoot> = {
  commands: ["mm."],
  events: ["mm."],
  initialState: initialMmState(),
  decide(mm, c, ctx) {
    switch (c.type) {
      case "mm.spawn":
        return decideSpawn(mm, c.data, ctx);
      case "mm.mmap":
        return decideMmap(mm, c.data, ctx);
      case "mm.munmap":
        return decideMunmap(mm, c.data);
      case "mm.write":
        return decideWrite(mm, c.data, ctx);
      case "mm.fork":
        return decideFork(mm, c.data, ctx);
      case "mm.exit":
        return decideExit(mm, c.data);
      case "mm.file.create":
        return decideFileCreate(mm, c.data, ctx);
      default:
        return errno("ENOTTY", `unknown mm command ${(c as { type: string }).type}`);
    }
  },
  evolve: (mm, e) => evolveMm(mm, e),
};
