/**
 * `pnpm demo`'s account (src/demo.ts, the same function main.ts prints):
 * the key facts of each step, with golden values from Linux and the specs
 * — not a snapshot of every line.
 *
 * Sources: VFIO_API_VERSION 0 and VFIO_CHECK_EXTENSION → 1 for TYPE1v2
 * (include/uapi/linux/vfio.h, vfio_compat.c); the VT-d interrupt window
 * 0xFEE00000–0xFEEFFFFF reserved in every IOAS a VT-d device is attached
 * to (Linux intel-iommu IOAPIC_RANGE_START/END); VT-d 4.1 Appendix A fault
 * reason 0x79 (SSS.2, second-stage entry not present); PASID 0 taken by
 * VT-d's RID_PASID, so /dev/ioasid's lowest-first allocation starts at 1;
 * the RFC's EINVAL for any IOASID_REQUEST_ALLOC failure; EPERM for the
 * direct-map system PASID on an untrusted device (seeds/001).
 */
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { type DemoRun, runDemo } from "../src/demo";
import { CONTINUATION, WIDTH } from "../src/story/account";

let run: DemoRun;
let text: string;
/** The account's lines of step `n` (from its heading to the next one). */
const stepLines = (n: number): string => {
  const lines = run.story.account.lines;
  const start = lines.findIndex((l) => l.startsWith(`   ${n}. `));
  const end = lines.findIndex((l, i) => i > start && /^ {3}\d\. /.test(l));
  return lines.slice(start, end === -1 ? undefined : end).join("\n");
};

beforeAll(async () => {
  const printed: string[] = [];
  const file = join(mkdtempSync(join(tmpdir(), "demo-test-")), "story.jsonl");
  run = await runDemo((l) => printed.push(l), file);
  text = printed.join("\n");
}, 120_000);

describe("pnpm demo tells the story", () => {
  it("prints every line it says, wrapped at clauses to 120 columns, steps 1 to 6 in order", () => {
    // A continuation line stands for the "; " it replaced.
    expect(text.replaceAll(CONTINUATION, "; ")).toContain(run.story.account.lines.join("\n"));
    const clauses = text.split("\n").filter((l) => l.length > WIDTH);
    for (const l of clauses) expect(l.trim()).not.toContain("; ");
    const headings = run.story.account.lines.filter((l) => /^ {3}\d\. /.test(l)).map((l) => l.trim()[0]);
    expect(headings).toEqual(["1", "2", "3", "4", "5", "6"]);
  });

  it("step 1: the VFIO container on iommufd, the 4 GiB guest mapped around the PCI hole, the NIC's DMA", () => {
    const s = stepLines(1);
    expect(s).toMatch(/VFIO_GET_API_VERSION → 0, CHECK_EXTENSION\(TYPE1v2\) → 1/);
    // VFIO_GROUP_SET_CONTAINER makes the compat IOAS; once nic0 is attached, GET_INFO answers the IOVA
    // ranges around the VT-d interrupt window (checked below), whenever the group path attaches it.
    expect(s).toMatch(/VFIO_GROUP_SET_CONTAINER → 0/);
    expect(s).toMatch(/VFIO_SET_IOMMU\(TYPE1v2\) → 0; VFIO_IOMMU_GET_INFO → 0: usable IOVA/);
    // PGTT 2 = second-stage only (VT-d 4.1 §9.6), for requests without PASID.
    expect(s).toMatch(
      /VFIO_GROUP_GET_DEVICE_FD\("0000:03:00\.0"\) → fd \d+: .*its RID_PASID entry PGTT 2 \(second-stage\), DID \d+/,
    );
    // The usable IOVA ranges are the two holes around VT-d's interrupt window.
    expect(s).toMatch(/usable IOVA \[0x0, 0xfedfffff\] \[0xfef00000, 0x[0-9a-f]+\]/);
    expect(s).toMatch(/IOVA \[0, 0xc0000000\) \(3 GiB below the PCI hole\): 0/);
    expect(s).toMatch(/IOVA \[0x100000000, 0x140000000\) \(1 GiB above 4 GiB\): 0/);
    // What the guest wrote is what the NIC reads; what the NIC writes above 4 GiB the VMM reads.
    expect(s).toMatch(
      /NIC DMA read of 28 bytes at IOVA 0x100000 → PA 0x[0-9a-f]+ \(2 MiB second-stage IOTLB entry, DID \d+\): "TX: 64 bytes @ 0x1_1234_5000"/,
    );
    expect(s).toMatch(/NIC DMA write of 19 bytes at IOVA 0x112345000 .*: "hello from the wire"/);
    expect(s).toMatch(/IOVA 0xc0000000 \(the PCI hole, not mapped\) → primary fault 0x79 \(SSS\.2/);
  });

  it("step 2: the guest's first stage nested over the VMM's second stage; stale until IOMMU_HWPT_INVALIDATE", () => {
    const s = stepLines(2);
    expect(s).toMatch(/IOMMU_HWPT_ALLOC\(NEST_PARENT\) on the compat IOAS → 0/);
    expect(s).toMatch(/IOMMU_HWPT_ALLOC\(IOMMU_HWPT_DATA_VTD_S1, pgtbl_addr 0x70000000\) on HWPT \d+ → 0/);
    // PGTT 3 = nested (VT-d 4.1 §9.6).
    expect(s).toMatch(/VFIO_DEVICE_BIND_IOMMUFD to the container's fd → 0/);
    expect(s).toMatch(
      /VFIO_DEVICE_ATTACH_IOMMUFD_PT → 0 \(accel0's RID_PASID entry: PGTT 3 \(nested\), DID \d+\)/,
    );
    const reads = s.split("\n").filter((l) => l.includes("accel0 DMA read at IOVA 0x7f1234567000"));
    expect(reads).toHaveLength(3);
    expect(reads[0]).toMatch(/4 KiB nested IOTLB entry.*"first page!"/);
    // The guest's PTE change alone leaves the IOTLB's entry: the old page, read without a walk.
    expect(reads[1]).toMatch(/\(IOTLB hit\): "first page!" — stale/);
    expect(reads[2]).toMatch(
      /nested IOTLB entry.*"second page" — fresh, after IOMMU_HWPT_INVALIDATE .* → 0, entry_num 1/,
    );
  });

  it("step 3: PASIDs within the quota, the SVA PASID charged to it, a page fault through the fault queue", () => {
    const s = stepLines(3);
    expect(s).toMatch(/IOASID_REQUEST_ALLOC ×2 → PASID 1, PASID 2/);
    expect(s).toMatch(
      /SVA bind of accel0 \(RID 0x10\) .* → PASID 3 .* one more IOASID_REQUEST_ALLOC → EINVAL/,
    );
    expect(run.story.pasidFault).toMatchObject({
      pasids: [1, 2],
      svaPasid: 3,
      overQuota: -22,
      svaReadBack: "result!!",
    });
    // The SVA PASID's entry: PGTT 1 = first-stage only (VT-d 4.1 §9.6), FLPTR = the mm's pgd,
    // FLPM 0 = 4-level, SRE 0 = user requests only (Linux intel_pasid_setup_first_level()).
    const pgd = /page table in RAM \(pgd (0x[0-9a-f]+)\)/.exec(s)?.[1];
    expect(pgd).toBeDefined();
    expect(s).toContain(`entry for PASID 3: PGTT 1 (first-stage), DID`);
    expect(s).toContain(`FLPTR ${pgd}, FLPM 0 (4-level), SRE 0`);
    // A touched page's x86-64 PTE: XD | frame | D A U/S R/W P (Intel SDM Vol. 3A Table 4-19).
    expect(s).toMatch(/PTE of 0x[0-9a-f]+: 0x8000000[0-9a-f]{6}067 \(P, R\/W, U\/S, A, D, XD\)/);
    // 0x71 = SFS.2, first-stage entry not present (VT-d 4.1 Appendix A): a page request, not a fault record.
    expect(s).toMatch(
      /\(never touched\)\s+→ page request \(group 0, PASID 3\) for 0x[0-9a-f]+000 .*fault 0x71/,
    );
    expect(s).toMatch(/1 group\(s\) in the SVA fault queue/);
    expect(s).toMatch(
      /faults the page in, PTE 0x8000000[0-9a-f]{6}067;?\s+page group response to 0x10 group 0: Success/,
    );
    expect(s).toMatch(/accel0 retries the write → PA 0x[0-9a-f]+; the process reads "result!!"/);
    // PGTT 2 = second-stage only (VT-d 4.1 §9.6): the process's IOAS at its PASID.
    expect(s).toMatch(
      /VFIO_DEVICE_ATTACH_IOMMUFD_PT\(PASID 1\) → 0: the PASID-table entry of PASID 1: PGTT 2 \(second-stage\), DID \d+/,
    );
    expect(s).toMatch(/at IOVA 0x106000 \(not mapped yet\) → page request \(group 0, PASID 1\) for 0x106000/);
    // struct iommu_hwpt_pgfault: PASID 1, group 0, a write (IOMMU_PGFAULT_PERM_WRITE), the page's address.
    expect(s).toMatch(
      /poll\(fd \d+\) → POLLIN; read → 1 struct iommu_hwpt_pgfault: dev_id \d+, PASID 1, grpid 0, perm write, addr 0x106000/,
    );
    expect(s).toMatch(/SUCCESS\} → 8 bytes: page group response to 0x10 group 0: Success/);
    expect(s).toMatch(/accel0 retries the write at IOVA 0x106000 → PA 0x[0-9a-f]+$/m);
  });

  it("step 4: the SMMU's MSI window keeps the GPU out of the x86 guest; stage 1 + stage 2 and a PRI fault in the arm64 guest", () => {
    const s = stepLines(4);
    // MSI_IOVA_BASE 0x8000000, MSI_IOVA_LENGTH 1 MiB (Linux arm-smmu-v3.h) inside guest RAM [0, 3 GiB).
    // iopt_table_enforce_dev_resv_regions(): EADDRINUSE, at whichever group ioctl attaches gpu0.
    expect(s).toMatch(/(SET_CONTAINER|GET_DEVICE_FD\("0000:00:01\.0"\)) → EADDRINUSE/);
    expect(s).toMatch(/the SMMU's software MSI window \[0x8000000, 0x80fffff\] is guest RAM there/);
    expect(s).toMatch(/IOMMU_IOAS_MAP of 256 MiB of guest RAM at IOVA 0x40000000 → 0/);
    expect(s).toMatch(
      /IOMMU_HWPT_ALLOC\(IOMMU_HWPT_DATA_ARM_SMMUV3: .*\) → 0: nested HWPT \d+; VFIO_DEVICE_ATTACH_IOMMUFD_PT → 0: gpu0's STE is now stage 1 \+ stage 2/,
    );
    expect(s).toMatch(
      /gpu0 DMA write at IOVA 0x80000000 → IPA 0x41000000 → PA 0x[0-9a-f]+: the VMM reads "frame 0"/,
    );
    // gpu0's ATS Translation Request faults; the page request (IHI 0070 §8) reaches the VMM's fault fd; the guest
    // maps the page; CMD_PRI_RESP answers Success (2, IHI 0070 §4.7.1); the retry lands on the new guest page.
    expect(s).toMatch(/sends a page request in the PRI queue/);
    expect(s).toMatch(/read → dev_id \d+, grpid 0, addr 0x80001000, cookie 1/);
    expect(s).toMatch(/CMD_PRI_RESP: Success to StreamID 0x8 group 0\)/);
    expect(s).toMatch(
      /gpu0 retries at IOVA 0x80001000 → PA 0x[0-9a-f]+; the VMM reads "frame 1" at IPA 0x41001000/,
    );
  });

  it("step 5: the untrusted NIC is refused the direct-map PASID, the trusted accelerator gets it", () => {
    const s = stepLines(5);
    expect(s).toMatch(/nic0 \(RID 0x300, untrusted.*\) asks for it → EPERM/);
    expect(run.story.untrusted.nic).toBe("EPERM");
    expect(s).toMatch(/accel0 \(RID 0x10, trusted, on the socket\) asks → PASID \d+/);
  });

  it("step 6: the log is written, replayed from the file, and the state hashes are equal", () => {
    const s = stepLines(6);
    expect(existsSync(run.replay.file)).toBe(true);
    expect(run.replay.replayed).toBe(run.story.log.seq);
    expect(run.replay.again).toBe(run.replay.live);
    expect(run.ok).toBe(true);
    expect(s).toMatch(/→ equal$/m);
  });
});
