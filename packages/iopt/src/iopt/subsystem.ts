/**
 * The `iopt` subsystem (root key `iopt`): routes `ioas.*` and `iopt.*`
 * commands to the decide helpers, evolves on `ioas.*`/`iopt.*` events.
 * iommufd calls the same helpers from its own commands.
 */
import type { Subsystem } from "@iommu-sim/eventlog";
import { type Errno, errno } from "@iommu-sim/uapi";
import {
  decideAccessCreate,
  decideAccessDestroy,
  decideAccessPin,
  decideAccessReplaceIoas,
  decideAccessUnpin,
  decideAccessWrite,
} from "./access";
import { decideIoasCut } from "./cut";
import { decideAttachDomain, decideDetachDomain } from "./domains";
import { evolveIopt } from "./evolve";
import { decideIoasCreate, decideIoasDestroy } from "./ioas";
import { decideIoasCopy, decideIoasMap, decideIoasMapFile } from "./map";
import type { IoptCommand, IoptDecided, IoptEvent, IoptRoot } from "./messages";
import {
  decideAllowIovas,
  decideReserve,
  decideSetHugePages,
  decideSetRlimitMode,
  decideUnreserve,
} from "./ranges";
import { type IoptState, initialIoptState } from "./state";
import type { IoptCtx } from "./txn";
import { decideIoasUnmap } from "./unmap";

/** Decide any iopt command against the whole root (what iommufd calls). */
export function decideIopt(root: IoptRoot, c: IoptCommand, ctx: IoptCtx): readonly IoptDecided[] | Errno {
  switch (c.type) {
    case "ioas.create":
      return decideIoasCreate(root, c.data, ctx);
    case "ioas.destroy":
      return decideIoasDestroy(root, c.data, ctx);
    case "ioas.map":
      return decideIoasMap(root, c.data, ctx);
    case "ioas.map_file":
      return decideIoasMapFile(root, c.data, ctx);
    case "ioas.unmap":
      return decideIoasUnmap(root, c.data, ctx);
    case "ioas.copy":
      return decideIoasCopy(root, c.data, ctx);
    case "ioas.cut":
      return decideIoasCut(root, c.data, ctx);
    case "ioas.allow_iovas":
      return decideAllowIovas(root, c.data, ctx);
    case "ioas.reserve":
      return decideReserve(root, c.data, ctx);
    case "ioas.unreserve":
      return decideUnreserve(root, c.data);
    case "ioas.set_huge_pages":
      return decideSetHugePages(root, c.data);
    case "ioas.attach_domain":
      return decideAttachDomain(root, c.data, ctx);
    case "ioas.detach_domain":
      return decideDetachDomain(root, c.data, ctx);
    case "iopt.set_rlimit_mode":
      return decideSetRlimitMode(root, c.data);
    case "iopt.access.create":
      return decideAccessCreate(root, c.data, ctx);
    case "iopt.access.destroy":
      return decideAccessDestroy(root, c.data, ctx);
    case "iopt.access.replace_ioas":
      return decideAccessReplaceIoas(root, c.data, ctx);
    case "iopt.access.pin":
      return decideAccessPin(root, c.data, ctx);
    case "iopt.access.unpin":
      return decideAccessUnpin(root, c.data, ctx);
    case "iopt.access.write":
      return decideAccessWrite(root, c.data, ctx);
    default:
      return errno("ENOTTY", `unknown iopt command ${(c as { type: string }).type}`);
  }
}

/**
 * The `iopt` subsystem. Its decide emits `mm.faulted`/`mm.phys.written`
 * besides its own events (pinning faults pages in; access writes store to
 * RAM), so list `mm` before `iopt` in `combine`.
 */
export const ioptSubsystem: Subsystem<IoptCommand, IoptDecided, IoptState, IoptRoot> = {
  commands: ["ioas.", "iopt."],
  events: ["ioas.", "iopt."],
  initialState: initialIoptState(),
  decide: (_s, c, ctx) => decideIopt(ctx.root, c, ctx),
  evolve: (s, e, root) => evolveIopt(s, e as IoptEvent, root),
};
