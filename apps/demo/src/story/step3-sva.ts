/**
 * Step 3's SVA part: the accelerator's DMA with the mm's PASID walks the
 * process's own page table. The process maps a buffer and touches some
 * pages; the device writes to a touched page (it lands), then to an
 * untouched one: not present in the CPU page table → a page request in the
 * VT-d page request queue → the SVA domain's fault queue → the iopf
 * workqueue faults the page in (Linux iommu-sva.c iommu_sva_handle_mm() →
 * handle_mm_fault()) and answers Success (intel_page_response()) → the
 * device retries, and the process reads the bytes back from its memory.
 */
import { readLeaf, readUser } from "@iommu-sim/iopt";
import { isErrno } from "@iommu-sim/uapi";
import { type Account, hex } from "./account";
import { dataOf, must, type SystemLog } from "./fds";
import { faultText, groupResponseText, pasidEntryText } from "./vtd-text";

/** The SVA buffer: 8 pages of 4 KiB, of which the process touches the first two. */
export const SVA_LENGTH = 0x8000n;
/** The offset in the SVA buffer of the page nobody touched that the accelerator writes. */
export const SVA_UNTOUCHED = 0x5000n;
/** What the accelerator writes. */
const PAYLOAD = "result!!";

/** Who is bound: the process, the device's requester id and the bond's PASID. */
export interface SvaBond {
  readonly pid: number;
  readonly rid: number;
  readonly pasid: number;
}

/** The x86-64 leaf entry of `va` in `pid`'s CPU page table, as hex ("not present" when 0). */
function pteText(log: SystemLog, pid: number, va: bigint): string {
  const proc = log.state.mm.processes.get(pid);
  if (proc?.pgd === undefined) return "no page table";
  const pte = readLeaf(log.state.mm.ram, proc.pgd, Number(va / 0x1000n));
  return pte === 0n ? "not present" : hex(pte);
}

/** Run the SVA part of step 3 on `log`, telling it on `account`. @returns what the process read back. */
export function svaFault(log: SystemLog, account: Account, b: SvaBond): string {
  const pgd = log.state.mm.processes.get(b.pid)?.pgd ?? 0;
  account.say(
    `the bind built the process's x86-64 page table in RAM (pgd ${hex(pgd)}); the intel driver's SVA domain walks it; accel0's entry for PASID ${b.pasid}: ${pasidEntryText(log.state.vtd.units.get(0), b.rid, b.pasid)}`,
  );
  const buf = dataOf<{ addr: bigint }>(
    must(
      log.dispatch({ type: "mm.mmap", data: { pid: b.pid, length: SVA_LENGTH, prot: 3, shared: false } }),
      "mmap",
    ),
    "mm.mapped",
  ).addr;
  for (const page of [0n, 0x1000n])
    must(
      log.dispatch({ type: "mm.write", data: { pid: b.pid, va: buf + page, bytes: new Uint8Array([0x2a]) } }),
      "touch",
    );
  const untouched = buf + SVA_UNTOUCHED;
  account.say(
    `the process mmaps 32 KiB at ${hex(buf)} and touches its first two pages; PTE of ${hex(buf)}: ${pteText(log, b.pid, buf)} (P, R/W, U/S, A, D, XD); PTE of ${hex(untouched)}: ${pteText(log, b.pid, untouched)}`,
  );

  const dma = (va: bigint) =>
    must(
      log.dispatch({
        type: "vtd.dma",
        data: {
          unit: 0,
          rid: b.rid,
          pasid: b.pasid,
          iova: va,
          length: PAYLOAD.length,
          write: true,
          bytes: new TextEncoder().encode(PAYLOAD),
        },
      }),
      "accel0 SVA DMA",
    );
  const landed = (events: ReturnType<typeof dma>) => {
    const w = events.find((e) => e.type === "mm.phys.written");
    return w === undefined ? faultText(events) : `PA ${hex((w.data as { pa: bigint }).pa)}`;
  };
  account.say(
    `accel0 DMA write with PASID ${b.pasid} at VA ${hex(buf + 0x10n)} (a touched page) → ${landed(dma(buf + 0x10n))}`,
  );
  const miss = dma(untouched);
  const queued = log.state.ioasid.iopf.length;
  account.say(
    `accel0 DMA write with PASID ${b.pasid} at VA ${hex(untouched)} (never touched) → ${faultText(miss)}; the intel driver takes it off the queue and reports it to the SVA domain: ${queued} group(s) in the SVA fault queue`,
  );

  const handled = must(log.dispatch({ type: "sva.iopf.handle", data: {} }), "iopf work");
  const done = dataOf<{ grpid: number; code: number }>(handled, "sva.iopf.handled");
  account.say(
    `sva.iopf.handle: the iopf workqueue runs iommu_sva_handle_mm(); handle_mm_fault() faults the page in, PTE ${pteText(log, b.pid, untouched)}; ${groupResponseText(log.state.vtd.units.get(0), b.rid, done.grpid)}`,
  );
  const retry = landed(dma(untouched));
  const back = readUser(log.state.mm, b.pid, untouched, PAYLOAD.length);
  const text = isErrno(back) ? back.name : new TextDecoder().decode(back);
  account.say(`accel0 retries the write → ${retry}; the process reads "${text}" at ${hex(untouched)}`);
  return text;
}
