/**
 * How the vfio slice changes on its events, and on `iommufd.closed`: a
 * context that goes takes the group containers and device bindings that
 * pointed at it along.
 */
import { castDraft, produce } from "immer";
import type { VfioEvent } from "./messages";
import type { VfioState } from "./state";

/** The events the vfio slice evolves on: its own and iommufd's context close. */
export type VfioEvolveEvent = VfioEvent | { readonly type: "iommufd.closed"; readonly data: { ctx: number } };

/** Whether a device file of `group` is open (other than `except`). */
function groupHasFiles(state: VfioState, group: number, except = 0): boolean {
  for (const k in state.files)
    if (state.files[k]!.group === group && state.files[k]!.id !== except) return true;
  return false;
}

/** Apply one event. */
export function evolveVfio(state: VfioState, event: VfioEvolveEvent): VfioState {
  switch (event.type) {
    case "vfio.group.opened":
      return produce(state, (d) => {
        d.groups[event.data.group] = { group: event.data.group, fileOpen: true };
      });
    case "vfio.group.container_set":
      return produce(state, (d) => {
        const g = d.groups[event.data.group];
        if (g !== undefined) g.ctx = event.data.ctx;
      });
    case "vfio.group.container_unset":
      return produce(state, (d) => {
        delete d.groups[event.data.group]?.ctx;
      });
    case "vfio.group.closed":
      return produce(state, (d) => {
        const g = d.groups[event.data.group];
        if (g === undefined) return;
        if (groupHasFiles(state, g.group)) g.fileOpen = false;
        else delete d.groups[event.data.group];
      });
    case "vfio.device.opened":
      return produce(state, (d) => {
        const { file, ...rest } = event.data;
        d.files[file] = castDraft({ id: file, ...rest });
        d.nextFile = Math.max(d.nextFile, file + 1);
      });
    case "vfio.device.bound":
      return produce(state, (d) => {
        const f = d.files[event.data.file];
        if (f === undefined) return;
        f.ctx = event.data.ctx;
        f.devId = event.data.devId;
      });
    case "vfio.device.closed":
      return produce(state, (d) => {
        const f = state.files[event.data.file];
        if (f === undefined) return;
        delete d.files[f.id];
        // A group file closed while its devices were open is released with the last of them.
        const g = f.group === undefined ? undefined : state.groups[f.group];
        if (g !== undefined && !g.fileOpen && !groupHasFiles(state, g.group, f.id)) delete d.groups[g.group];
      });
    case "vfio.iommufd.released":
      return produce(state, (d) => {
        d.released[event.data.ctx] = true;
      });
    case "iommufd.closed":
      return closeContext(state, event.data.ctx);
  }
}

/** Forget context `ctx` everywhere (it closed, destroying the device objects bound to it). */
function closeContext(state: VfioState, ctx: number): VfioState {
  let hit = state.released[ctx] === true;
  for (const k in state.groups) hit ||= state.groups[k]!.ctx === ctx;
  for (const k in state.files) hit ||= state.files[k]!.ctx === ctx;
  if (!hit) return state;
  return produce(state, (d) => {
    delete d.released[ctx];
    for (const k in d.groups) if (d.groups[k]!.ctx === ctx) delete d.groups[k]!.ctx;
    for (const k in d.files) {
      const f = d.files[k]!;
      if (f.ctx !== ctx) continue;
      delete f.ctx;
      delete f.devId;
    }
  });
}
