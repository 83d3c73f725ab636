/**
 * Evolving the `mm` slice: installing what decide chose. Cannot fail.
 * A process with a CPU page table (pgd.ts) has its PTEs rewritten by the
 * same event that changes its pages.
 */
import { FrameStore } from "@iommu-sim/eventlog";
import type { MmEvent } from "./decide";
import { lookupPage } from "./fault";
import { buildPgd, clearLeaves, faultedLeaves, forkWriteProtect, populate } from "./pgd";
import { clearExclusive, copyTable, writePtes } from "./pte";
import { findVma, type MmState, mapDelete, mapSet, PAGE_SIZE, type Process } from "./state";
import { carve, insertVma } from "./vma";

function withProcess(mm: MmState, p: Process): MmState {
  return { ...mm, processes: mapSet(mm.processes, p.pid, p) };
}

/** Remove [addr, addr+length) from a process: VMAs carved, private PTEs cleared. */
function unmapRange(p: Process, addr: number, length: number): Process {
  const pt = writePtes(p.pt, addr / PAGE_SIZE, length / PAGE_SIZE, -1, false);
  return { ...p, vmas: carve(p.vmas, addr, addr + length), pt };
}

function copyFrame(ram: FrameStore, from: number, to: number): FrameStore {
  const src = ram.peek(from);
  return src === undefined ? ram : ram.write(to * PAGE_SIZE, src.slice());
}

function applyFaults(mm: MmState, e: Extract<MmEvent, { type: "mm.faulted" }>["data"]): MmState {
  let proc = mm.processes.get(e.pid)!;
  let objects = mm.objects;
  let ram = mm.ram;
  let next = mm.nextPfn;
  for (const run of e.runs) {
    const va = Number(run.va);
    if (run.object !== undefined) {
      const obj = objects.get(run.object)!;
      objects = mapSet(objects, obj.id, {
        ...obj,
        pages: writePtes(obj.pages, va / PAGE_SIZE, run.count, run.pfn, false),
      });
    } else if (run.shared) {
      const vma = findVma(proc.vmas, va)!;
      const obj = objects.get(vma.object!)!;
      const index = (vma.pgoff + va - vma.start) / PAGE_SIZE;
      objects = mapSet(objects, obj.id, {
        ...obj,
        pages: writePtes(obj.pages, index, run.count, run.pfn, false),
      });
    } else {
      proc = { ...proc, pt: writePtes(proc.pt, va / PAGE_SIZE, run.count, run.pfn, true) };
    }
    if (run.copyFrom !== undefined) {
      for (let k = 0; k < run.copyFrom.length; k++) ram = copyFrame(ram, run.copyFrom[k]!, run.pfn + k);
    }
    next = Math.max(next, run.pfn + run.count);
  }
  return { ...withProcess(mm, proc), objects, ram, nextPfn: next };
}

function applyFork(mm: MmState, e: Extract<MmEvent, { type: "mm.forked" }>["data"]): MmState {
  const parent = mm.processes.get(e.parent)!;
  let childPt = clearExclusive(copyTable(parent.pt));
  const parentPt = clearExclusive(parent.pt);
  let ram = mm.ram;
  let next = mm.nextPfn;
  let pPt = parentPt;
  for (const c of e.copies) {
    const vpn = Number(c.va) / PAGE_SIZE;
    childPt = writePtes(childPt, vpn, 1, c.pfn, true);
    pPt = writePtes(pPt, vpn, 1, c.from, true);
    ram = copyFrame(ram, c.from, c.pfn);
    next = Math.max(next, c.pfn + 1);
  }
  // The child is a new mm: no CPU page table until it is SVA-bound itself.
  const { pgd: _pgd, ...rest } = parent;
  const child: Process = { ...rest, pid: e.child, pt: childPt };
  ram = forkWriteProtect(ram, parent, pPt);
  return withProcess(withProcess({ ...mm, ram, nextPfn: next }, { ...parent, pt: pPt }), child);
}

/** Apply one `mm.` event. */
export function evolveMm(mm: MmState, event: MmEvent): MmState {
  switch (event.type) {
    case "mm.spawned": {
      const d = event.data;
      const p: Process = {
        pid: d.pid,
        uid: d.uid,
        memlockLimit: d.memlockLimit,
        capIpcLock: d.capIpcLock,
        vmas: [],
        pt: FrameStore.empty(),
      };
      return withProcess(mm, p);
    }
    case "mm.mapped": {
      const d = event.data;
      const addr = Number(d.addr);
      const length = Number(d.length);
      const before = mm.processes.get(d.pid)!;
      const p = unmapRange(before, addr, length);
      const vma = {
        start: addr,
        end: addr + length,
        prot: d.prot,
        shared: d.shared,
        ...(d.object === undefined ? {} : { object: d.object }),
        pgoff: Number(d.pgoff),
      };
      let next = withProcess(
        { ...mm, ram: clearLeaves(mm.ram, before, addr, length) },
        { ...p, vmas: insertVma(p.vmas, vma) },
      );
      if (d.objectCreated === true && d.object !== undefined) {
        next = {
          ...next,
          objects: mapSet(next.objects, d.object, {
            id: d.object,
            kind: "shmem",
            length,
            pages: FrameStore.empty(),
          }),
          nextShmem: mm.nextShmem - 1,
        };
      }
      return next;
    }
    case "mm.unmapped": {
      const p = mm.processes.get(event.data.pid)!;
      const addr = Number(event.data.addr);
      const length = Number(event.data.length);
      return withProcess({ ...mm, ram: clearLeaves(mm.ram, p, addr, length) }, unmapRange(p, addr, length));
    }
    case "mm.faulted":
      return faultedLeaves(applyFaults(mm, event.data), event.data);
    case "mm.populated": {
      const pid = event.data.pid;
      return populate(mm, event.data, (vpn) => {
        const pfn = lookupPage(mm, pid, vpn);
        return typeof pfn === "number" ? pfn : -1;
      });
    }
    case "mm.pgd.allocated":
      return buildPgd(mm, event.data);
    case "mm.phys.written":
      return { ...mm, ram: mm.ram.write(Number(event.data.pa), event.data.bytes) };
    case "mm.forked":
      return applyFork(mm, event.data);
    case "mm.exited":
      return { ...mm, processes: mapDelete(mm.processes, event.data.pid) };
    case "mm.file.created":
      return {
        ...mm,
        objects: mapSet(mm.objects, event.data.file, {
          id: event.data.file,
          kind: "file",
          length: Number(event.data.length),
          pages: FrameStore.empty(),
        }),
      };
  }
}
