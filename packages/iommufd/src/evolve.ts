/**
 * How the iommufd slice changes on its events.
 */
import { IOMMU_TEST_DEV_CACHE_DEFAULT, MOCK_DEV_CACHE_NUM } from "@iommu-sim/uapi";
import { castDraft, produce } from "immer";
import type { IommufdEvent } from "./messages";
import { evolveMockNested } from "./selftest/nested";
import type { IommufdObject, IommufdState, ObjectType } from "./state";

type Created = Extract<IommufdEvent, { type: "iommufd.object.created" }>["data"];

function objectOf(e: Created): IommufdObject {
  return {
    id: e.id,
    type: e.type as ObjectType,
    refs: e.refs,
    ...(e.kobj === undefined ? {} : { kobj: e.kobj }),
    ...(e.external === undefined ? {} : { external: e.external }),
    ...(e.autoDomain === undefined ? {} : { autoDomain: e.autoDomain }),
    ...(e.flags === undefined ? {} : { flags: e.flags }),
    ...(e.device === undefined ? {} : { device: e.device }),
    ...(e.viommuType === undefined ? {} : { viommuType: e.viommuType }),
    ...(e.iommu === undefined ? {} : { iommu: e.iommu }),
    ...(e.virtId === undefined ? {} : { virtId: e.virtId }),
    ...(e.queueType === undefined ? {} : { queueType: e.queueType }),
    ...(e.queueIndex === undefined ? {} : { queueIndex: e.queueIndex }),
    ...(e.iova === undefined ? {} : { iova: e.iova }),
    ...(e.length === undefined ? {} : { length: e.length }),
  };
}

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
    case "iommufd.object.created":
      return produce(state, (d) => {
        const c = d.contexts[event.data.ctx];
        if (c === undefined) return;
        c.objects[event.data.id] = castDraft(objectOf(event.data));
        if (event.data.kobj !== undefined) d.nextKobj = Math.max(d.nextKobj, event.data.kobj + 1);
      });
    case "iommufd.object.refs.set":
      return produce(state, (d) => {
        const o = d.contexts[event.data.ctx]?.objects[event.data.id];
        if (o !== undefined) o.refs = castDraft(event.data.refs);
      });
    case "iommufd.object.tombstoned":
      return produce(state, (d) => {
        const c = d.contexts[event.data.ctx];
        if (c === undefined) return;
        delete c.objects[event.data.id];
        c.tombstones = [...(c.tombstones ?? []), event.data.id];
      });
    case "iommufd.object.destroyed":
      return produce(state, (d) => {
        const c = d.contexts[event.data.ctx];
        if (c === undefined) return;
        delete c.objects[event.data.id];
        if (c.vfioIoas === event.data.id) delete c.vfioIoas;
      });
    case "iommufd.vfioIoas.set":
      return produce(state, (d) => {
        const c = d.contexts[event.data.ctx];
        if (c === undefined) return;
        if (event.data.ioasId === 0) delete c.vfioIoas;
        else c.vfioIoas = event.data.ioasId;
      });
    case "iommufd.accountMode.set":
      return produce(state, (d) => {
        const c = d.contexts[event.data.ctx];
        if (c !== undefined) c.accountMode = event.data.accountMode;
      });
    case "iommufd.device.attachment.set":
      return produce(state, (d) => {
        const o = d.contexts[event.data.ctx]?.objects[event.data.id];
        if (o === undefined) return;
        const { pasid, hwpt } = event.data;
        const rest = (o.attachments ?? []).filter((a) => a.pasid !== pasid);
        const attachments = hwpt === 0 ? rest : [...rest, { pasid, hwpt }].sort((a, b) => a.pasid - b.pasid);
        o.attachments = attachments;
        o.refs = [...new Set(attachments.map((a) => a.hwpt))];
      });
    case "iommufd.selftest.pasid_set":
      return produce(state, (d) => {
        const o = d.contexts[event.data.ctx]?.objects[event.data.id];
        if (o === undefined) return;
        const { pasid, hwpt } = event.data;
        const rest = (o.attachments ?? []).filter((a) => a.pasid !== pasid);
        const attachments = hwpt === 0 ? rest : [...rest, { pasid, hwpt }].sort((a, b) => a.pasid - b.pasid);
        if (attachments.length === 0) delete o.attachments;
        else o.attachments = attachments;
        // A selftest object uses its device and the HWPTs of its PASIDs (selftest/pasid.ts).
        o.refs = [o.refs[0]!, ...new Set(attachments.map((a) => a.hwpt))];
      });
    case "iommufd.selftest.access_item_added":
      return produce(state, (d) => {
        const o = d.contexts[event.data.ctx]?.objects[event.data.id];
        if (o !== undefined) o.nextItem = event.data.item + 1;
      });
    case "iommufd.mock_dev.cache_cleared":
      return produce(state, (d) => {
        const o = d.contexts[event.data.ctx]?.objects[event.data.id];
        if (o === undefined) return;
        const cache = [
          ...(o.devCache ?? new Array<number>(MOCK_DEV_CACHE_NUM).fill(IOMMU_TEST_DEV_CACHE_DEFAULT)),
        ];
        for (const id of event.data.ids) cache[id] = 0;
        o.devCache = cache;
      });
    case "iommufd.mock_nested.allocated":
    case "iommufd.mock_nested.iotlb_cleared":
    case "iommufd.mock_nested.freed":
      return evolveMockNested(state, event);
    case "iommufd.hw_domain.bound": {
      const { kobj, driver, unit, domain } = event.data;
      return { ...state, hwDomains: { ...state.hwDomains, [kobj]: { driver, unit, domain } } };
    }
    case "iommufd.hw_domain.unbound": {
      const { [event.data.kobj]: _gone, ...hwDomains } = state.hwDomains;
      return { ...state, hwDomains };
    }
    default:
      return state;
  }
}
