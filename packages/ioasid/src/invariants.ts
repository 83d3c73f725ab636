/**
 * The consistency rules of the `ioasid` slice, checked by tests after every
 * command (DESIGN.md: "an invariant checker … after every command in
 * tests") and available to compositions that want the same.
 */
import { type IoasidState, ROOT_CGROUP } from "./state";

/**
 * Every violated rule, as a sentence; empty when the state is consistent.
 *
 * - The space holds exactly: the reserved PASID, every set's /dev/ioasid ids
 *   and SVA PASID, every system PASID and the direct-map PASID — each once.
 * - Each bond's PASID is its mm's SVA PASID; a set with an SVA PASID has a bond.
 * - `users` and `files` agree; every set is used by a file or a bond.
 * - Each group's usage is the PASIDs charged to it and to its descendants
 *   (a set charges its ids and SVA PASID to its group).
 * - The SVA fault queue holds only groups of live bonds, with ascending ids
 *   up to `lastIopf`, and at most one open (incomplete) group per source,
 *   device and group index.
 */
export function checkIoasidInvariants(state: IoasidState): string[] {
  const bad: string[] = [];
  const owners = new Map<number, string>();
  const own = (pasid: number, who: string) => {
    const prior = owners.get(pasid);
    if (prior !== undefined) bad.push(`PASID ${pasid} held by ${prior} and ${who}`);
    owners.set(pasid, who);
  };
  if (state.reserved !== undefined) own(state.reserved, "the platform (reserved)");
  const charged = new Map<number, number>();
  for (const set of Object.values(state.sets)) {
    for (const id of set.ids.ids()) own(id, `mm ${set.mm}`);
    if (set.svaPasid !== undefined) own(set.svaPasid, `mm ${set.mm} (SVA)`);
    const n = set.ids.size + (set.svaPasid === undefined ? 0 : 1);
    charged.set(set.cgroup, (charged.get(set.cgroup) ?? 0) + n);
    const bonded = Object.values(state.bonds).some((b) => b.mm === set.mm);
    if (set.svaPasid !== undefined && !bonded) bad.push(`mm ${set.mm} has an SVA PASID but no bond`);
    if (state.users[set.mm] === undefined && !bonded) bad.push(`mm ${set.mm}'s set is used by nothing`);
  }
  for (const [rid, pasid] of Object.entries(state.systemPasids)) own(pasid, `device ${rid} (system)`);
  if (state.directMap !== undefined) own(state.directMap.pasid, "the direct map");
  const taken = [...state.space.ids()];
  if (taken.length !== owners.size || taken.some((id) => !owners.has(id)))
    bad.push(
      `space holds [${taken.join(",")}] but owners are [${[...owners.keys()].sort((a, b) => a - b).join(",")}]`,
    );
  for (const b of Object.values(state.bonds))
    if (state.sets[b.mm]?.svaPasid !== b.pasid)
      bad.push(`bond ${b.bond} uses PASID ${b.pasid}, not its mm's`);
  for (const [mm, fd] of Object.entries(state.users))
    if (state.files[fd]?.mm !== Number(mm)) bad.push(`mm ${mm}'s fd ${fd} is not its file`);
  for (const g of Object.values(state.cgroups)) {
    let expected = 0;
    for (const [cg, n] of charged) {
      for (
        let x = state.cgroups[cg];
        x !== undefined;
        x = x.parent === undefined ? undefined : state.cgroups[x.parent]
      )
        if (x.cgroup === g.cgroup) expected += n;
    }
    if (g.usage !== expected) bad.push(`cgroup ${g.cgroup} usage ${g.usage} ≠ ${expected} charged`);
    if (g.cgroup !== ROOT_CGROUP && state.cgroups[g.parent ?? -1] === undefined)
      bad.push(`cgroup ${g.cgroup} has no parent`);
  }
  checkIopf(state, bad);
  return bad;
}

function checkIopf(state: IoasidState, bad: string[]): void {
  let last = 0;
  const open = new Set<string>();
  for (const g of state.iopf) {
    if (g.id <= last || g.id > state.lastIopf) bad.push(`SVA fault group ${g.id} out of order`);
    last = g.id;
    if (!Object.values(state.bonds).some((b) => b.rid === g.rid && b.pasid === g.pasid))
      bad.push(`SVA fault group ${g.id} of rid ${g.rid} PASID ${g.pasid} has no bond`);
    const key = `${g.source}/${g.rid}/${g.grpid}`;
    if (!g.complete && open.has(key)) bad.push(`two open SVA fault groups ${key}`);
    if (!g.complete) open.add(key);
  }
}
