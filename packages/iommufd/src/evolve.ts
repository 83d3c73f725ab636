/**
 * How the iommufd slice changes on its events.
 */
import { produce } from "immer";
import type { IommufdEvent } from "./messages";
import type { IommufdState, ObjectType } from "./state";

/** Apply one `iommufd.` event. */
export function evolveIommufd(state: IommufdState, event: IommufdEvent): IommufdState {
  switch (event.type) {
    case "iommufd.opened": {
      const { ctx, pid, accountMode } = event.data;
      return produce(state, (d) => {
        d.contexts[ctx] = { id: ctx, pid, vfio: accountMode === "mm", accountMode, objects: {} };
        d.nextContext = Math.max(d.nextContext, ctx + 1);
      });
    }
    case "iommufd.closed":
      return produce(state, (d) => {
        delete d.contexts[event.data.ctx];
      });
    case "iommufd.object.destroyed":
      return produce(state, (d) => {
        const c = d.contexts[event.data.ctx];
        if (c === undefined) return;
        delete c.objects[event.data.id];
        if (c.vfioIoas === event.data.id) delete c.vfioIoas;
      });
    case "iommufd.object.created": {
      const { ctx, id, type, kobj, refs } = event.data;
      return produce(state, (d) => {
        const c = d.contexts[ctx];
        if (c === undefined) return;
        c.objects[id] =
          kobj === undefined
            ? { id, type: type as ObjectType, refs }
            : { id, type: type as ObjectType, refs, kobj };
        if (kobj !== undefined) d.nextKobj = Math.max(d.nextKobj, kobj + 1);
      });
    }
    case "iommufd.accountMode.set":
      return produce(state, (d) => {
        const c = d.contexts[event.data.ctx];
        if (c !== undefined) c.accountMode = event.data.accountMode;
      });
    default:
      return state;
  }
}
