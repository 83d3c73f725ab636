/**
 * A PRI-capable VT-d device's page request, end to end through iommufd:
 * accel0 (RID 00:02.0 behind vtd0) does a DMA write with PASID 5 to three
 * unmapped pages of an IOPF-capable HWPT → one page request group of three
 * descriptors in the PRQ → the intel driver consumes them → iommufd's fault
 * queue → read(2) of three `iommu_hwpt_pgfault` records → the "handler"
 * maps the pages (IOMMU_IOAS_MAP) → write(2) of a SUCCESS response → the
 * page group response descriptor through the invalidation queue → the
 * device retries and its write lands.
 *
 * Golden values: VT-d spec rev 4.1 §7.5.1 (page request descriptor: type 1,
 * PASID present bit 8, RID 31:16, PASID 51:32; qw1 W bit 1, LPIG bit 2, PRG
 * index 11:3, address 63:12) and §6.5.2.11 (page group response
 * descriptor: type 9, PASID present bit 4, response code 15:12, RID 31:16,
 * PASID 51:32; qw1 LPIG bit 2, PRG index 11:3); include/uapi/linux/iommufd.h
 * (IOMMU_PGFAULT_FLAGS_PASID_VALID 1, LAST_PAGE 2, PERM_WRITE 2);
 * include/linux/iommu.h IOMMU_FAULT_PAGE_RESPONSE_NEEDS_PASID (bit 2), which
 * prq.c sets with a PASID and iommufd copies into the record's flags;
 * io-pgfault.c iopf_group_alloc() (partial pages move to the front of the
 * group, so the records are: later partial page first, then earlier, then
 * the last page).
 */
import { encodeLog, type LogRecord, readLog, stateHash, textSource, Vocabulary } from "@iommu-sim/eventlog";
import { readUser } from "@iommu-sim/iopt";
import { IOMMU_IOCTL, isErrno, VOCABULARY } from "@iommu-sim/uapi";
import { describe, expect, it } from "vitest";
import {
  createEmptySystemLog,
  type IommufdFile,
  iommufdFilePoll,
  iommufdFileRead,
  iommufdFileWrite,
  rid,
} from "../src/index";
import { Fixture, view } from "./fixture";
import { bytes } from "./harness";

const PAGE = 4096n;
const ACCEL = rid(0, 2, 0); // 0x0010
const NIC = rid(3, 0, 0); // no PRI
const IOVA = 0x40_0000n;
const PASID = 5;
const FAULT_ID_VALID = 1 << 2;
const ALLOC_PASID = 1 << 3;
const PRQ_BASE = 0x10_0000_1000; // vtd0's table memory + 4 KiB (hw-vtd: the PRQ follows the root table)

type Ev = { type: string; data: Record<string, unknown> };

class PrqFixture extends Fixture {
  dev = 0;
  faultId = 0;
  iopfHwpt = 0;
  file!: IommufdFile;
  data = Uint8Array.from({ length: 3 * 4096 }, (_, i) => (i * 13 + 5) & 0xff);

  constructor() {
    super(0);
  }

  ok(c: { type: string; data: unknown }): Ev[] {
    const r = this.log.dispatch(c);
    if (isErrno(r)) throw new Error(`${c.type}: ${r}`);
    return r as unknown as Ev[];
  }

  /** Bind `device`, a fault queue, an IOPF + PASID HWPT on the IOAS, attach it at PASID 5. */
  setUp(device = "accel0"): this {
    this.dev = this.ok({ type: "iommufd.device.bind", data: { ctx: this.fd.ctx, device } })[0]!.data
      .id as number;
    const fa = bytes(16, [[0, 4, 16]]);
    expect(this.fd.ioctl(IOMMU_IOCTL.IOMMU_FAULT_QUEUE_ALLOC, fa)).toBe(0);
    this.faultId = view(fa).getUint32(8, true);
    this.file = { kind: "fault", ctx: this.fd.ctx, id: view(fa).getUint32(12, true) };
    const ha = bytes(48, [
      [0, 4, 48],
      [4, 4, FAULT_ID_VALID | ALLOC_PASID],
      [8, 4, this.dev],
      [12, 4, this.ioas],
      [40, 4, this.faultId],
    ]);
    expect(this.fd.ioctl(IOMMU_IOCTL.IOMMU_HWPT_ALLOC, ha)).toBe(0);
    this.iopfHwpt = view(ha).getUint32(16, true);
    return this;
  }

  attach(pasid = PASID): Ev[] | string {
    const r = this.log.dispatch({
      type: "iommufd.device.attach",
      data: { ctx: this.fd.ctx, devId: this.dev, ptId: this.iopfHwpt, pasid },
    });
    return isErrno(r) ? r.name : (r as unknown as Ev[]);
  }

  write(): Ev[] {
    return this.ok({
      type: "vtd.dma",
      data: {
        unit: 0,
        rid: ACCEL,
        pasid: PASID,
        iova: IOVA,
        length: this.data.length,
        write: true,
        bytes: this.data,
      },
    });
  }

  unit() {
    return this.log.state.vtd.units.get(0)!;
  }
}

const u64 = (b: Uint8Array, off: number) => new DataView(b.buffer, b.byteOffset).getBigUint64(off, true);

describe("VT-d page requests through iommufd (accel0, PASID 5)", () => {
  it("fault → PRQ → fault fd → map → SUCCESS → page group response → the retried DMA lands", () => {
    const f = new PrqFixture().setUp();
    expect(f.attach()).not.toBeTypeOf("string");

    // 1. The write faults on all three pages: one group of three page requests, LPIG on the last.
    const first = f.write();
    const prq = first.filter((e) => e.type === "vtd.prq.queued").map((e) => e.data);
    expect(prq.map((d) => [d.addr, d.lpig, d.index, d.pasid, d.overflow])).toEqual([
      [IOVA, false, 0, PASID, false],
      [IOVA + PAGE, false, 0, PASID, false],
      [IOVA + 2n * PAGE, true, 0, PASID, false],
    ]);
    expect(first.some((e) => e.type === "mm.phys.written")).toBe(false);

    // 2. The descriptors as the hardware wrote them (§7.5.1), and the driver consumed them (PQH = PQT).
    const u = f.unit();
    const ring = u.tables.read(PRQ_BASE, 3 * 32);
    const qw0 = 0x1n | (1n << 8n) | (BigInt(ACCEL) << 16n) | (BigInt(PASID) << 32n);
    expect([u64(ring, 0), u64(ring, 8)]).toEqual([qw0, 0x2n | IOVA]);
    expect([u64(ring, 32), u64(ring, 40)]).toEqual([qw0, 0x2n | (IOVA + PAGE)]);
    expect([u64(ring, 64), u64(ring, 72)]).toEqual([qw0, 0x2n | 0x4n | (IOVA + 2n * PAGE)]);
    expect(u.prqTail).toBe(96);
    expect(u.prqHead).toBe(96);

    // 3. read(2): three records of one group, in Linux's order, every field checked.
    expect(iommufdFilePoll(f.fd.env(), f.file)).toBe(0x45);
    const short = iommufdFileRead(f.fd.env(), f.file, 80);
    expect(short).toEqual(new Uint8Array(0)); // the group needs 120 bytes
    const r = iommufdFileRead(f.fd.env(), f.file, 200);
    if (isErrno(r)) throw new Error(`${r}`);
    expect(r.length).toBe(120);
    const rec = (i: number) => {
      const v = new DataView(r.buffer, r.byteOffset + i * 40, 40);
      return [0, 4, 8, 12, 16, 20]
        .map((o) => v.getUint32(o, true))
        .concat([Number(v.getBigUint64(24, true)), v.getUint32(32, true), v.getUint32(36, true)]);
    };
    //            flags     dev_id  pasid  grpid perm rsvd addr                     length cookie
    expect(rec(0)).toEqual([1 | 4, f.dev, PASID, 0, 2, 0, Number(IOVA + PAGE), 0, 1]);
    expect(rec(1)).toEqual([1 | 4, f.dev, PASID, 0, 2, 0, Number(IOVA), 0, 1]);
    expect(rec(2)).toEqual([1 | 2 | 4, f.dev, PASID, 0, 2, 0, Number(IOVA + 2n * PAGE), 0, 1]);

    // 4. The handler maps the pages, then answers SUCCESS.
    expect(f.map(3n * PAGE, IOVA)[0]).toBe(0);
    const before = f.log.seq;
    expect(
      iommufdFileWrite(
        f.fd.env(),
        f.file,
        bytes(8, [
          [0, 4, 1],
          [4, 4, 0],
        ]),
      ),
    ).toBe(8);
    const executed = f.log.records.filter((x) => x.seq > before && x.type === "vtd.qi.executed");
    expect(executed.length).toBe(1);
    const desc = (executed[0]!.data as { descriptors: Uint8Array }).descriptors;
    expect(desc.length).toBe(32); // a 256-bit descriptor (scalable mode)
    expect(u64(desc, 0)).toBe(
      0x9n | (1n << 4n) | (0n << 12n) | (BigInt(ACCEL) << 16n) | (BigInt(PASID) << 32n),
    );
    expect(u64(desc, 8)).toBe(0x4n); // LPIG, index 0
    expect(f.unit().pageGroups.get(ACCEL * 512)).toEqual({ rid: ACCEL, pasid: PASID, index: 0, response: 0 });

    // 5. The device retries: the write lands in the process buffer.
    const retry = f.write();
    expect(retry.some((e) => e.type === "vtd.prq.queued")).toBe(false);
    expect(readUser(f.log.state.mm, 100, f.buffer, f.data.length)).toEqual(f.data);
  });

  it("a second group reuses PRG index 0 once answered; pending groups take the next index", () => {
    const f = new PrqFixture().setUp();
    f.attach();
    f.write();
    const again = f.write(); // index 0 still awaits its response
    expect(again.filter((e) => e.type === "vtd.prq.queued").map((e) => e.data.index)).toEqual([1, 1, 1]);
    const r = iommufdFileRead(f.fd.env(), f.file, 240) as Uint8Array;
    expect(r.length).toBe(240);
    expect(view(r.slice(120)).getUint32(12, true)).toBe(1); // grpid of the second group
    expect(view(r.slice(120)).getUint32(36, true)).toBe(2); // its cookie
  });

  it("the queue is bounded by the hardware: 512 outstanding groups per RID, then PRS.PRO drops requests", () => {
    const f = new PrqFixture().setUp();
    f.attach();
    const one = new Uint8Array(8);
    const dma = () =>
      f.ok({
        type: "vtd.dma",
        data: { unit: 0, rid: ACCEL, pasid: PASID, iova: IOVA, length: 8, write: true, bytes: one },
      });
    for (let i = 0; i < 512; i++) dma();
    const dropped = dma().filter((e) => e.type === "vtd.prq.queued");
    expect(dropped.map((e) => e.data.overflow)).toEqual([true]);
    expect(f.unit().pro).toBe(true);
    const q = Object.values(f.log.state.iommufd.faults!)[0]!;
    expect(q.deliver.length).toBe(512);
    expect(q.deliver.map((g) => g.grpid)).toEqual(Array.from({ length: 512 }, (_, i) => i));
    expect(q.partial).toEqual([]);
  });

  it("closing the context answers the pending group INVALID down to the hardware", () => {
    const f = new PrqFixture().setUp();
    f.attach();
    f.write();
    const before = f.log.seq;
    expect(isErrno(f.fd.close())).toBe(false);
    const executed = f.log.records.filter((x) => x.seq > before && x.type === "vtd.qi.executed");
    const descs = executed.map((x) => (x.data as { descriptors: Uint8Array }).descriptors);
    const responses = descs.filter((d) => (u64(d, 0) & 0xfn) === 0x9n);
    expect(responses.length).toBe(1);
    expect((u64(responses[0]!, 0) >> 12n) & 0xfn).toBe(1n); // Invalid Request
    expect(f.unit().pageGroups.get(ACCEL * 512)?.response).toBe(1);
  });

  it("a device without PRI cannot attach an IOPF-capable HWPT: ENODEV", () => {
    const f = new PrqFixture();
    const nic = f.ok({ type: "iommufd.device.bind", data: { ctx: f.fd.ctx, device: "nic0" } })[0]!.data.id;
    const fa = bytes(16, [[0, 4, 16]]);
    expect(f.fd.ioctl(IOMMU_IOCTL.IOMMU_FAULT_QUEUE_ALLOC, fa)).toBe(0);
    const ha = bytes(48, [
      [0, 4, 48],
      [4, 4, FAULT_ID_VALID],
      [8, 4, nic as number],
      [12, 4, f.ioas],
      [40, 4, view(fa).getUint32(8, true)],
    ]);
    expect(f.fd.ioctl(IOMMU_IOCTL.IOMMU_HWPT_ALLOC, ha)).toBe(0);
    const r = f.log.dispatch({
      type: "iommufd.device.attach",
      data: { ctx: f.fd.ctx, devId: nic as number, ptId: view(ha).getUint32(16, true) },
    });
    expect(isErrno(r) && r.name).toBe("ENODEV");
    expect(NIC).toBe(0x300);
  });

  it("a bound device without an IOPF HWPT at the PASID: the driver answers the group FAILURE at once", () => {
    const f = new PrqFixture().setUp();
    // PASID 5 attached to a PASID-compatible HWPT without a fault queue
    const ha = bytes(48, [
      [0, 4, 48],
      [4, 4, ALLOC_PASID],
      [8, 4, f.dev],
      [12, 4, f.ioas],
    ]);
    expect(f.fd.ioctl(IOMMU_IOCTL.IOMMU_HWPT_ALLOC, ha)).toBe(0);
    f.ok({
      type: "iommufd.device.attach",
      data: { ctx: f.fd.ctx, devId: f.dev, ptId: view(ha).getUint32(16, true), pasid: PASID },
    });
    f.write();
    const u = f.unit();
    expect(u.prqHead).toBe(u.prqTail);
    expect(u.pageGroups.get(ACCEL * 512)?.response).toBe(2); // IOMMU_PAGE_RESP_FAILURE as intel_page_response passes it
    expect(iommufdFilePoll(f.fd.env(), f.file)).toBe(0x4);
  });

  it("the whole flow survives the JSONL log (schemas validated) and replays to the same state", async () => {
    const f = new PrqFixture().setUp();
    f.attach();
    f.write();
    iommufdFileRead(f.fd.env(), f.file, 120);
    expect(f.map(3n * PAGE, IOVA)[0]).toBe(0);
    expect(iommufdFileWrite(f.fd.env(), f.file, bytes(8, [[0, 4, 1]]))).toBe(8);
    f.write();
    f.fd.close();
    const opened = await readLog(textSource(encodeLog(f.log.records)), {
      vocabulary: new Vocabulary(VOCABULARY),
      file: "prq.jsonl",
    });
    const records: LogRecord[] = [];
    for await (const b of opened.batches) records.push(...b);
    const copy = createEmptySystemLog();
    copy.append(records as Parameters<typeof copy.append>[0]);
    expect(stateHash(copy.state)).toBe(stateHash(f.log.state));
  });

  it("fail-nth over bind, fault alloc, HWPT alloc, attach, DMA, read, map, respond: each failure leaves the hash", () => {
    const steps: ((f: PrqFixture) => number)[] = [
      (f) => {
        const r = f.log.dispatch({ type: "iommufd.device.bind", data: { ctx: f.fd.ctx, device: "accel0" } });
        if (isErrno(r)) return r.ret;
        f.dev = (r[0]!.data as { id: number }).id;
        return 0;
      },
      (f) => {
        const fa = bytes(16, [[0, 4, 16]]);
        const rc = f.fd.ioctl(IOMMU_IOCTL.IOMMU_FAULT_QUEUE_ALLOC, fa);
        f.faultId = view(fa).getUint32(8, true);
        f.file = { kind: "fault", ctx: f.fd.ctx, id: f.faultId };
        return rc;
      },
      (f) => {
        const ha = bytes(48, [
          [0, 4, 48],
          [4, 4, FAULT_ID_VALID | ALLOC_PASID],
          [8, 4, f.dev],
          [12, 4, f.ioas],
          [40, 4, f.faultId],
        ]);
        const rc = f.fd.ioctl(IOMMU_IOCTL.IOMMU_HWPT_ALLOC, ha);
        f.iopfHwpt = view(ha).getUint32(16, true);
        return rc;
      },
      (f) => {
        const r = f.attach();
        return typeof r === "string" ? -1 : 0;
      },
      (f) => {
        f.write();
        return 0;
      },
      (f) => {
        const r = iommufdFileRead(f.fd.env(), f.file, 120);
        return isErrno(r) ? r.ret : r.length === 120 ? 0 : -1;
      },
      (f) => f.map(3n * PAGE, IOVA)[0],
      (f) => {
        const w = iommufdFileWrite(f.fd.env(), f.file, bytes(8, [[0, 4, 1]]));
        return isErrno(w) ? w.ret : w === 8 ? 0 : -1;
      },
      (f) => {
        f.write(); // the device retries
        return 0;
      },
    ];
    const sites = new Set<string>();
    for (let n = 1; n < 1000; n++) {
      const f = new PrqFixture();
      let remaining = n;
      let failed = false;
      for (const step of steps) {
        const before = stateHash(f.log.state);
        f.log.failNth(remaining);
        const report = f.log.lastSteps;
        const rc = step(f);
        const dispatched = f.log.lastSteps !== report;
        if (dispatched && f.log.lastSteps.fired) {
          expect(rc, `step ${n} must fail`).toBeLessThan(0);
          expect(stateHash(f.log.state), `step ${n} left a trace`).toBe(before);
          sites.add(f.log.lastSteps.sites[f.log.lastSteps.sites.length - 1]!);
          failed = true;
          break;
        }
        expect(rc).toBe(0);
        if (dispatched) remaining -= f.log.lastSteps.sites.length;
      }
      f.fd.close();
      expect(f.log.state.iommufd.faults ?? {}).toEqual({});
      if (!failed) {
        // the sequence ran clean: the device's write landed
        expect(readUser(f.log.state.mm, 100, f.buffer, 16)).toEqual(f.data.slice(0, 16));
        break;
      }
    }
    for (const site of [
      "iommufd.fault_alloc",
      "iommufd.fault_getfile",
      "vtd.pgd_alloc",
      "iommufd.fault_cookie_alloc",
    ])
      expect(sites).toContain(site);
  });
});
