/**
 * Evolving the `iopt` slice: applying what decide chose. Cannot fail.
 */
import { mapDelete, mapSet } from "../mm/state";
import { addPins } from "../pin-counts";
import { computeAlignment } from "./alignment";
import { addPinned, framesOf, removePinned } from "./intervals";
import { firstAreaFrom } from "./iova";
import type { IoptEvent, IoptRoot } from "./messages";
import {
  ACCOUNT_MM,
  ACCOUNT_NONE,
  ACCOUNT_USER,
  type Area,
  type Ioas,
  type IoptState,
  type Pages,
} from "./state";
import { pagesIn, toNumber } from "./u64";

type Patch = { -readonly [K in keyof IoptState]?: IoptState[K] };

/**
 * `s` with `o`'s fields replaced. Written out field by field rather than as
 * a spread: it keeps one object shape, which V8 copies several times faster.
 *
 * When every field is the one `s` has — the tables (`EpochMap`,
 * `FrameStore`) were updated in place, as they are until the epoch is
 * sealed — the slice is `s` itself, as hw-vtd's and hw-smmu's slices stay
 * as they were when their table memory is written in place: `combine` then
 * leaves the root uncopied (an UNMAP's event costs no root copy). A sealed
 * state is never updated in place, so one that escaped still never changes.
 */
function patch(s: IoptState, o: Patch): IoptState {
  const ioas = o.ioas ?? s.ioas;
  const pages = o.pages ?? s.pages;
  const nextPages = o.nextPages ?? s.nextPages;
  const accesses = o.accesses ?? s.accesses;
  const pinCounts = o.pinCounts ?? s.pinCounts;
  const accountMode = o.accountMode ?? s.accountMode;
  const userLocked = o.userLocked ?? s.userLocked;
  const mmLocked = o.mmLocked ?? s.mmLocked;
  if (
    ioas === s.ioas &&
    pages === s.pages &&
    nextPages === s.nextPages &&
    accesses === s.accesses &&
    pinCounts === s.pinCounts &&
    accountMode === s.accountMode &&
    userLocked === s.userLocked &&
    mmLocked === s.mmLocked
  )
    return s;
  return { ioas, pages, nextPages, accesses, pinCounts, accountMode, userLocked, mmLocked };
}

function withIoas(s: IoptState, ioas: Ioas): IoptState {
  return patch(s, { ioas: s.ioas.with(ioas.id, ioas) });
}

function withPages(s: IoptState, p: Pages): IoptState {
  return patch(s, { pages: s.pages.with(p.id, p) });
}

/** `p` with new areas, pinned runs or holds (field by field, see `patch`). */
function pagesWith(
  p: Pages,
  o: { areas?: Pages["areas"]; pinned?: Pages["pinned"]; holds?: Pages["holds"] },
): Pages {
  return {
    id: p.id,
    pid: p.pid,
    uptr: p.uptr,
    ...(p.file === undefined ? {} : { file: p.file }),
    npages: p.npages,
    writable: p.writable,
    accountMode: p.accountMode,
    accountId: p.accountId,
    lockLimit: p.lockLimit,
    pinned: o.pinned ?? p.pinned,
    areas: o.areas ?? p.areas,
    holds: o.holds ?? p.holds,
  };
}

/** `ioas` with new areas (field by field, see `patch`). */
function ioasWithAreas(ioas: Ioas, areas: Ioas["areas"]): Ioas {
  return {
    id: ioas.id,
    areas,
    reserved: ioas.reserved,
    allowed: ioas.allowed,
    domains: ioas.domains,
    accesses: ioas.accesses,
    disableLargePages: ioas.disableLargePages,
    iovaAlignment: ioas.iovaAlignment,
  };
}

/** `xs` without element `i`, in one exact-size copy (splice on a copy would also allocate the removed list). */
function withoutIndex<T>(xs: readonly T[], i: number): T[] {
  if (i === 0) return xs.slice(1);
  if (i === xs.length - 1) return xs.slice(0, i);
  return xs.slice(0, i).concat(xs.slice(i + 1));
}

/** Recompute an IOAS's alignment from its option, domains and accesses. */
function realign(s: IoptState, ioas: Ioas): Ioas {
  const accesses = ioas.accesses.map((a) => s.accesses.get(a)!.iovaAlignment);
  return { ...ioas, iovaAlignment: computeAlignment(ioas.disableLargePages, ioas.domains, accesses) };
}

/** Charge `n` (±) locked pages to the pages' account. */
function charge(s: IoptState, p: Pages, n: number): IoptState {
  if (p.accountMode === ACCOUNT_NONE) return s;
  if (p.accountMode === ACCOUNT_USER)
    return patch(s, {
      userLocked: mapSet(s.userLocked, p.accountId, (s.userLocked.get(p.accountId) ?? 0) + n),
    });
  return patch(s, { mmLocked: mapSet(s.mmLocked, p.accountId, (s.mmLocked.get(p.accountId) ?? 0) + n) });
}

type MappedData = Extract<IoptEvent, { type: "ioas.mapped" }>["data"];
type UnmappedData = Extract<IoptEvent, { type: "ioas.unmapped" }>["data"];
type CreatedData = NonNullable<MappedData["created"]>;

/**
 * The iopt_pages of `iopt.pages_created` / `ioas.mapped.created`: the
 * account owner and memlock limit are the process's at creation.
 */
function newPages(
  id: number,
  d: CreatedData,
  root: IoptRoot,
  areas: Pages["areas"] = [],
  pinned: Pages["pinned"] = [],
): Pages {
  const proc = root.mm.processes.get(d.pid);
  const p: Pages = {
    id,
    pid: d.pid,
    uptr: d.uptr,
    npages: toNumber(d.npages),
    writable: d.writable,
    accountMode: d.accountMode,
    accountId: d.accountMode === ACCOUNT_MM ? d.pid : (proc?.uid ?? 0),
    lockLimit: proc === undefined ? 0 : pagesIn(proc.memlockLimit),
    pinned,
    areas,
    holds: [],
  };
  return d.file === undefined ? p : { ...p, file: d.file };
}

/**
 * Insert the area; with `created`, create its pages first and pin the
 * area's pages to `pfnRuns` (new pages: the area is their only holder).
 */
function evolveMapped(s: IoptState, d: MappedData, root: IoptRoot): IoptState {
  const ioas = s.ioas.get(d.ioas)!;
  const area = {
    iova: d.iova,
    last: d.iova + d.length - 1n,
    pages: d.pages,
    startByte: d.startByte,
    prot: d.prot,
  };
  let areas: Area[];
  if (ioas.areas.length === 0) areas = [area];
  else {
    areas = ioas.areas.slice();
    areas.splice(firstAreaFrom(areas, d.iova), 0, area);
  }
  const ref = { ioas: d.ioas, iova: d.iova };
  if (d.created === undefined) {
    const p = s.pages.get(d.pages)!;
    return patch(s, {
      ioas: s.ioas.with(ioas.id, ioasWithAreas(ioas, areas)),
      pages: s.pages.with(p.id, pagesWith(p, { areas: [...p.areas, ref] })),
    });
  }
  let n = 0;
  for (const r of d.pfnRuns) n += r.count;
  const pinned = n === 0 ? [] : addPinned([], pagesIn(d.startByte), d.pfnRuns);
  const p = newPages(d.pages, d.created, root, [ref], pinned);
  const next = patch(s, {
    ioas: s.ioas.with(ioas.id, ioasWithAreas(ioas, areas)),
    pages: s.pages.with(p.id, p),
    nextPages: Math.max(s.nextPages, d.pages + 1),
    pinCounts: n === 0 ? s.pinCounts : addPins(s.pinCounts, d.pfnRuns, 1),
  });
  return n === 0 ? next : charge(next, p, n);
}

/**
 * Remove the area; with `pagesDestroyed`, unpin and uncharge whatever its
 * pages still hold and free them.
 */
function evolveUnmapped(s: IoptState, d: UnmappedData): IoptState {
  const ioas = s.ioas.get(d.ioas)!;
  const i = firstAreaFrom(ioas.areas, d.iova);
  const area = ioas.areas[i]!;
  const areas = withoutIndex(ioas.areas, i);
  const p = s.pages.get(area.pages)!;
  if (d.pagesDestroyed !== true) {
    const refs = p.areas.filter((r) => r.ioas !== d.ioas || r.iova !== d.iova);
    return patch(s, {
      ioas: s.ioas.with(ioas.id, ioasWithAreas(ioas, areas)),
      pages: s.pages.with(p.id, pagesWith(p, { areas: refs })),
    });
  }
  let n = 0;
  for (const r of p.pinned) n += r.count;
  const next = patch(s, {
    ioas: s.ioas.with(ioas.id, ioasWithAreas(ioas, areas)),
    pages: s.pages.without(p.id),
    pinCounts: n === 0 ? s.pinCounts : addPins(s.pinCounts, p.pinned, -1),
  });
  return n === 0 ? next : charge(next, p, -n);
}

function evolveIoas(s: IoptState, e: IoptEvent, root: IoptRoot): IoptState | undefined {
  switch (e.type) {
    case "ioas.created":
      return withIoas(s, {
        id: e.data.ioas,
        areas: [],
        reserved: [],
        allowed: [],
        domains: [],
        accesses: [],
        disableLargePages: false,
        iovaAlignment: 1,
      });
    case "ioas.destroyed":
      return patch(s, { ioas: s.ioas.without(e.data.ioas) });
    case "ioas.mapped":
      return evolveMapped(s, e.data, root);
    case "ioas.unmapped":
      return evolveUnmapped(s, e.data);
    case "ioas.area_split": {
      const d = e.data;
      const ioas = s.ioas.get(d.ioas)!;
      const i = firstAreaFrom(ioas.areas, d.iova);
      const area = ioas.areas[i]!;
      const rhsIova = d.at + 1n;
      const areas = ioas.areas.slice();
      areas.splice(
        i,
        1,
        { ...area, last: d.at },
        { ...area, iova: rhsIova, startByte: area.startByte + (rhsIova - area.iova) },
      );
      const p = s.pages.get(area.pages)!;
      const refs = [...p.areas, { ioas: d.ioas, iova: rhsIova }];
      return patch(s, {
        ioas: s.ioas.with(ioas.id, ioasWithAreas(ioas, areas)),
        pages: s.pages.with(p.id, pagesWith(p, { areas: refs })),
      });
    }
    case "ioas.iovas_allowed":
      return withIoas(s, { ...s.ioas.get(e.data.ioas)!, allowed: e.data.ranges });
    case "ioas.reserved": {
      const ioas = s.ioas.get(e.data.ioas)!;
      const { start, last, owner } = e.data;
      const reserved = [...ioas.reserved, { start, last, owner }].sort((a, b) =>
        a.start < b.start ? -1 : a.start > b.start ? 1 : 0,
      );
      return withIoas(s, { ...ioas, reserved });
    }
    case "ioas.unreserved": {
      const ioas = s.ioas.get(e.data.ioas)!;
      return withIoas(s, { ...ioas, reserved: ioas.reserved.filter((r) => r.owner !== e.data.owner) });
    }
    case "ioas.alignment_changed":
      return withIoas(
        s,
        realign(s, { ...s.ioas.get(e.data.ioas)!, disableLargePages: e.data.disableLargePages }),
      );
    case "ioas.domain_attached": {
      const ioas = s.ioas.get(e.data.ioas)!;
      return withIoas(s, realign(s, { ...ioas, domains: [...ioas.domains, e.data.domain] }));
    }
    case "ioas.domain_detached": {
      const ioas = s.ioas.get(e.data.ioas)!;
      return withIoas(
        s,
        realign(s, { ...ioas, domains: ioas.domains.filter((d) => d.id !== e.data.domain) }),
      );
    }
    default:
      return undefined;
  }
}

function evolvePages(s: IoptState, e: IoptEvent, root: IoptRoot): IoptState | undefined {
  switch (e.type) {
    case "iopt.pages_created": {
      const d = e.data;
      const p = newPages(d.pages, d, root);
      return patch(s, { pages: s.pages.with(p.id, p), nextPages: Math.max(s.nextPages, d.pages + 1) });
    }
    case "iopt.pages_pinned": {
      const p = s.pages.get(e.data.pages)!;
      let n = 0;
      for (const r of e.data.pfnRuns) n += r.count;
      const pinned = addPinned(p.pinned, Number(e.data.index), e.data.pfnRuns);
      const next = patch(s, {
        pages: s.pages.with(p.id, pagesWith(p, { pinned })),
        pinCounts: addPins(s.pinCounts, e.data.pfnRuns, 1),
      });
      return charge(next, p, n);
    }
    case "iopt.pages_unpinned": {
      const p = s.pages.get(e.data.pages)!;
      const index = Number(e.data.index);
      const count = Number(e.data.count);
      const frames = framesOf(p.pinned, index, count) ?? [];
      const next = patch(s, {
        pages: s.pages.with(p.id, pagesWith(p, { pinned: removePinned(p.pinned, index, count) })),
        pinCounts: addPins(s.pinCounts, frames, -1),
      });
      return charge(next, p, -count);
    }
    case "iopt.pages_destroyed":
      return patch(s, { pages: s.pages.without(e.data.pages) });
    case "iopt.rlimit_mode_set":
      return patch(s, { accountMode: e.data.mode });
    default:
      return undefined;
  }
}

function evolveAccess(s: IoptState, e: IoptEvent): IoptState {
  switch (e.type) {
    case "iopt.access_created": {
      const d = e.data;
      const t = {
        ...s,
        accesses: mapSet(s.accesses, d.access, {
          id: d.access,
          ioas: d.ioas,
          iovaAlignment: Number(d.iovaAlignment),
          pins: new Map(),
          ...(d.internal === true ? { internal: true as const } : {}),
        }),
      };
      const ioas = t.ioas.get(d.ioas)!;
      return withIoas(t, realign(t, { ...ioas, accesses: [...ioas.accesses, d.access] }));
    }
    case "iopt.access_destroyed": {
      const a = s.accesses.get(e.data.access)!;
      const t = { ...s, accesses: mapDelete(s.accesses, a.id) };
      const ioas = t.ioas.get(a.ioas)!;
      return withIoas(t, realign(t, { ...ioas, accesses: ioas.accesses.filter((x) => x !== a.id) }));
    }
    case "iopt.access_ioas_replaced": {
      const a = s.accesses.get(e.data.access)!;
      let t: IoptState = { ...s, accesses: mapSet(s.accesses, a.id, { ...a, ioas: e.data.ioas }) };
      const old = t.ioas.get(a.ioas)!;
      t = withIoas(t, realign(t, { ...old, accesses: old.accesses.filter((x) => x !== a.id) }));
      const neu = t.ioas.get(e.data.ioas)!;
      return withIoas(t, realign(t, { ...neu, accesses: [...neu.accesses, a.id] }));
    }
    case "iopt.access_pinned": {
      const d = e.data;
      const a = s.accesses.get(d.access)!;
      const areas = d.areas.map((x) => ({
        pages: x.pages,
        index: Number(x.index),
        count: Number(x.count),
        iova: x.iova,
      }));
      let t: IoptState = {
        ...s,
        accesses: mapSet(s.accesses, a.id, {
          ...a,
          pins: mapSet(a.pins, d.pin, { iova: d.iova, length: d.length, areas }),
        }),
      };
      for (const x of areas) {
        const p = t.pages.get(x.pages)!;
        t = withPages(t, {
          ...p,
          holds: [...p.holds, { pages: x.pages, access: a.id, pin: d.pin, index: x.index, count: x.count }],
        });
      }
      return t;
    }
    case "iopt.access_unpinned": {
      const d = e.data;
      const a = s.accesses.get(d.access)!;
      const pin = a.pins.get(d.pin)!;
      let t: IoptState = {
        ...s,
        accesses: mapSet(s.accesses, a.id, { ...a, pins: mapDelete(a.pins, d.pin) }),
      };
      for (const id of new Set(pin.areas.map((x) => x.pages))) {
        const p = t.pages.get(id);
        if (p !== undefined)
          t = withPages(t, { ...p, holds: p.holds.filter((h) => h.access !== d.access || h.pin !== d.pin) });
      }
      return t;
    }
    default:
      return s;
  }
}

/** Apply one iopt event. */
export function evolveIopt(s: IoptState, e: IoptEvent, root: IoptRoot): IoptState {
  return evolveIoas(s, e, root) ?? evolvePages(s, e, root) ?? evolveAccess(s, e);
}
