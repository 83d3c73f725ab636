/**
 * The invariant checker (what CONFIG_IOMMUFD_TEST's assertions and
 * iopt_pages' interval-tree checks guard in Linux): run after every command
 * in tests.
 *
 * 1. Areas of an IOAS are sorted, disjoint, outside every reserved range,
 *    and each lies inside its iopt_pages, which refers back to it.
 * 2. Each iopt_pages is pinned exactly on the union of its holders: areas
 *    in IOASes with a domain, and access pins.
 * 3. Every frame's pin count equals the number of iopt_pages pages pinned
 *    to it; locked-page accounting equals the pinned page totals.
 * 4. Every mock domain attached to an IOAS maps exactly the IOAS's areas,
 *    each IO page to the right physical address with the area's prot, and
 *    nothing else.
 *
 * (Areas inside the allowed ranges is not an invariant: Linux checks the
 * allowed set only when allocating IOVA.)
 */
import { framesOf, pinnedIntervals, union } from "./iopt/intervals";
import { intersects } from "./iopt/iova";
import {
  ACCOUNT_MM,
  ACCOUNT_USER,
  areaIndexRange,
  type Ioas,
  type IoptState,
  type Pages,
} from "./iopt/state";
import { words } from "./mm/pte";
import type { CheckRoot } from "./mock-domain/check";
import { MOCK_IO_PAGE, readMockPte } from "./mock-domain/page-table";
import type { MockDomain } from "./mock-domain/subsystem";

function checkAreas(s: IoptState, ioas: Ioas, out: string[]): void {
  let prevLast = -1n;
  for (const a of ioas.areas) {
    const at = `IOAS ${ioas.id} area 0x${a.iova.toString(16)}`;
    if (a.iova <= prevLast) out.push(`${at}: overlaps or is out of order`);
    prevLast = a.last;
    if (a.last < a.iova) out.push(`${at}: last < iova`);
    if (ioas.reserved.some((r) => intersects(r, a.iova, a.last)))
      out.push(`${at}: intersects a reserved range`);
    const p = s.pages.get(a.pages);
    if (p === undefined) {
      out.push(`${at}: pages ${a.pages} missing`);
      continue;
    }
    const { index, count } = areaIndexRange(a);
    if (index + count > p.npages) out.push(`${at}: beyond its pages`);
    if (!p.areas.some((r) => r.ioas === ioas.id && r.iova === a.iova))
      out.push(`${at}: pages does not refer back`);
  }
}

function checkPages(s: IoptState, p: Pages, out: string[]): void {
  const at = `pages ${p.id}`;
  const req = [];
  for (const ref of p.areas) {
    const ioas = s.ioas.get(ref.ioas);
    const a = ioas?.areas.find((x) => x.iova === ref.iova);
    if (ioas === undefined || a === undefined || a.pages !== p.id) {
      out.push(`${at}: stale area ref ${ref.ioas}:0x${ref.iova.toString(16)}`);
      continue;
    }
    if (ioas.domains.length > 0) {
      const r = areaIndexRange(a);
      req.push({ start: r.index, end: r.index + r.count });
    }
  }
  for (const h of p.holds) req.push({ start: h.index, end: h.index + h.count });
  const want = union(req);
  const have = pinnedIntervals(p.pinned);
  if (JSON.stringify(want) !== JSON.stringify(have))
    out.push(`${at}: pinned ${JSON.stringify(have)} but holders need ${JSON.stringify(want)}`);
  if (p.areas.length === 0 && p.holds.length === 0) out.push(`${at}: no holders but not destroyed`);
}

function checkCounts(s: IoptState, out: string[]): void {
  const expect = new Map<number, number>();
  const user = new Map<number, number>();
  const mm = new Map<number, number>();
  for (const p of s.pages.values()) {
    for (const r of p.pinned) {
      for (let k = 0; k < r.count; k++) expect.set(r.pfn + k, (expect.get(r.pfn + k) ?? 0) + 1);
      const t = p.accountMode === ACCOUNT_USER ? user : p.accountMode === ACCOUNT_MM ? mm : undefined;
      t?.set(p.accountId, (t.get(p.accountId) ?? 0) + r.count);
    }
  }
  for (const [frame, bytes] of s.pinCounts.frames()) {
    const w = new Uint32Array(bytes.buffer, bytes.byteOffset, 1024);
    for (let i = 0; i < 1024; i++) {
      const pfn = frame * 1024 + i;
      if (w[i] !== (expect.get(pfn) ?? 0))
        out.push(`frame ${pfn}: pin count ${w[i]}, expected ${expect.get(pfn) ?? 0}`);
      expect.delete(pfn);
    }
  }
  for (const [pfn, n] of expect) out.push(`frame ${pfn}: pin count 0, expected ${n}`);
  for (const [name, have, want] of [
    ["user", s.userLocked, user],
    ["mm", s.mmLocked, mm],
  ] as const) {
    for (const id of new Set([...have.keys(), ...want.keys()]))
      if ((have.get(id) ?? 0) !== (want.get(id) ?? 0))
        out.push(`${name} ${id}: locked ${have.get(id) ?? 0} pages, pinned ${want.get(id) ?? 0}`);
  }
}

function checkMockDomain(s: IoptState, d: MockDomain, out: string[]): void {
  const at = `mock domain ${d.id}`;
  const ioas = s.ioas.get(d.ioas!);
  if (ioas === undefined || !ioas.domains.some((x) => x.id === d.id)) {
    out.push(`${at}: attached to IOAS ${d.ioas}, which does not list it`);
    return;
  }
  let expected = 0;
  for (const a of ioas.areas) {
    const p = s.pages.get(a.pages)!;
    const { index, count } = areaIndexRange(a);
    const frames = framesOf(p.pinned, index, count);
    if (frames === undefined) {
      out.push(`${at}: area 0x${a.iova.toString(16)} is not pinned`);
      continue;
    }
    const nio = Number((a.last - a.iova + 1n) / BigInt(MOCK_IO_PAGE));
    expected += nio;
    let byte = Number(a.startByte % 4096n);
    let run = 0;
    let k = 0;
    for (let j = 0; j < nio; j++) {
      const pa = (frames[run]!.pfn + k) * 4096 + byte;
      const iova = a.iova + BigInt(j * MOCK_IO_PAGE);
      const pte = readMockPte(d.table, Number(iova / BigInt(MOCK_IO_PAGE)));
      if (pte === undefined || pte.pa !== pa || pte.prot !== a.prot) {
        out.push(
          `${at}: IOVA 0x${iova.toString(16)} maps ${pte === undefined ? "nothing" : `0x${pte.pa.toString(16)}`}, expected 0x${pa.toString(16)}`,
        );
        return;
      }
      byte += MOCK_IO_PAGE;
      if (byte >= 4096) {
        byte -= 4096;
        if (++k >= frames[run]!.count) {
          run++;
          k = 0;
        }
      }
    }
  }
  let present = 0;
  for (const [, bytes] of d.table.frames()) {
    const w = words(bytes);
    for (let i = 0; i < 1024; i += 2) if (w[i] !== 0 || w[i + 1] !== 0) present++;
  }
  if (present !== expected) out.push(`${at}: ${present} IO pages mapped, the IOAS has ${expected}`);
}

/** Every violated invariant, as a sentence; empty when the state is consistent. */
export function checkInvariants(root: CheckRoot): string[] {
  const out: string[] = [];
  const s = root.iopt;
  for (const ioas of s.ioas.values()) checkAreas(s, ioas, out);
  for (const p of s.pages.values()) checkPages(s, p, out);
  checkCounts(s, out);
  for (const d of root.mockDomain.domains.values()) {
    if (d.ioas !== undefined) checkMockDomain(s, d, out);
    else if (d.table.frameCount > 0 && [...d.table.frames()].some(([, b]) => b.some((x) => x !== 0)))
      out.push(`mock domain ${d.id}: detached but not empty`);
  }
  for (const a of s.accesses.values()) {
    if (!s.ioas.get(a.ioas)?.accesses.includes(a.id))
      out.push(`access ${a.id}: IOAS ${a.ioas} does not list it`);
    for (const [pinId, pin] of a.pins)
      for (const x of pin.areas)
        if (!s.pages.get(x.pages)?.holds.some((h) => h.access === a.id && h.pin === pinId))
          out.push(`access ${a.id} pin ${pinId}: pages ${x.pages} lacks the hold`);
  }
  return out;
}
