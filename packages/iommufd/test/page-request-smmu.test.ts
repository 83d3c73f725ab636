/**
 * A PRI-capable SMMUv3 device's page request, end to end through iommufd:
 * gpu0 (StreamID 00:01.0 behind smmu0) does an ATS/PRI DMA write with
 * SubstreamID 3 to an unmapped page of an IOPF-capable stage-1 HWPT → a PRI
 * queue record → the driver consumes it → iommufd's fault queue → read(2)
 * → IOMMU_IOAS_MAP → write(2) SUCCESS → CMD_PRI_RESP consumed by the SMMU →
 * the device retries and its write lands.
 *
 * Golden values: Arm IHI 0070 §8.1 (PRI queue record: SID 31:0, SSID
 * 51:32, PnU 58, InD 59, R 60, W 61, Last 62, SSV 63; PRG index 72:64,
 * address 127:76) and §4.6 CMD_PRI_RESP (opcode 0x41, SSV bit 11,
 * SubstreamID 31:12, StreamID 63:32, PRGI 72:64, Resp 77:76 with Success
 * = 2, Invalid Request = 0); include/uapi/linux/iommufd.h record layout.
 */
import { readUser } from "@iommu-sim/iopt";
import { IOMMU_IOCTL, isErrno } from "@iommu-sim/uapi";
import { describe, expect, it } from "vitest";
import { type IommufdFile, iommufdFileRead, iommufdFileWrite, rid } from "../src/index";
import { Fixture, view } from "./fixture";
import { bytes } from "./harness";

const GPU = rid(0, 1, 0); // 0x0008
const IOVA = 0x80_0000n;
const SSID = 3;
const FAULT_ID_VALID = 1 << 2;
const ALLOC_PASID = 1 << 3;

type Ev = { type: string; data: Record<string, unknown> };

class PriFixture extends Fixture {
  dev = 0;
  iopfHwpt = 0;
  file!: IommufdFile;
  data = Uint8Array.from({ length: 64 }, (_, i) => (i * 29 + 1) & 0xff);

  constructor() {
    super(0);
  }

  ok(c: { type: string; data: unknown }): Ev[] {
    const r = this.log.dispatch(c);
    if (isErrno(r)) throw new Error(`${c.type}: ${r}`);
    return r as unknown as Ev[];
  }

  setUp(): this {
    this.dev = this.ok({ type: "iommufd.device.bind", data: { ctx: this.fd.ctx, device: "gpu0" } })[0]!.data
      .id as number;
    const fa = bytes(16, [[0, 4, 16]]);
    expect(this.fd.ioctl(IOMMU_IOCTL.IOMMU_FAULT_QUEUE_ALLOC, fa)).toBe(0);
    this.file = { kind: "fault", ctx: this.fd.ctx, id: view(fa).getUint32(12, true) };
    const ha = bytes(48, [
      [0, 4, 48],
      [4, 4, FAULT_ID_VALID | ALLOC_PASID],
      [8, 4, this.dev],
      [12, 4, this.ioas],
      [40, 4, view(fa).getUint32(8, true)],
    ]);
    expect(this.fd.ioctl(IOMMU_IOCTL.IOMMU_HWPT_ALLOC, ha)).toBe(0);
    this.iopfHwpt = view(ha).getUint32(16, true);
    this.ok({
      type: "iommufd.device.attach",
      data: { ctx: this.fd.ctx, devId: this.dev, ptId: this.iopfHwpt, pasid: SSID },
    });
    return this;
  }

  write(): Ev[] {
    return this.ok({
      type: "smmu.dma",
      data: {
        instance: 0,
        sid: GPU,
        ssid: SSID,
        iova: IOVA + 0x100n,
        length: this.data.length,
        write: true,
        bytes: this.data,
        ats: true,
        pri: true,
      },
    });
  }

  inst() {
    return this.log.state.smmu.instances.get(0)!;
  }
}

describe("SMMUv3 page requests through iommufd (gpu0, SubstreamID 3)", () => {
  it("fault → PRI queue → fault fd → map → SUCCESS → CMD_PRI_RESP → the retried DMA lands", () => {
    const f = new PriFixture().setUp();

    const first = f.write();
    const queued = first.filter((e) => e.type === "smmu.pri.queued");
    expect(queued.length).toBe(1);
    const [w0, w1] = queued[0]!.data.record as bigint[];
    // SID | SSID << 32 | W (61) | Last (62) | SSV (63); PRGI 0 | page address
    expect(w0).toBe(BigInt(GPU) | (BigInt(SSID) << 32n) | (1n << 61n) | (1n << 62n) | (1n << 63n));
    expect(w1).toBe(IOVA);
    expect(first.some((e) => e.type === "mm.phys.written")).toBe(false);
    // The driver consumed the record; the group is outstanding in the SMMU.
    expect(f.inst().priq.records.length).toBe(0);
    expect(f.inst().priq.cons).toBe(1);
    expect(f.inst().prgs).toEqual([{ sid: GPU, ssid: SSID, grpid: 0 }]);

    const r = iommufdFileRead(f.fd.env(), f.file, 40);
    if (isErrno(r)) throw new Error(`${r}`);
    const v = new DataView(r.buffer, r.byteOffset, 40);
    expect([0, 4, 8, 12, 16, 20, 32, 36].map((o) => v.getUint32(o, true))).toEqual([
      1 | 2, // PASID_VALID | LAST_PAGE
      f.dev,
      SSID,
      0, // grpid
      2, // PERM_WRITE
      0,
      0, // length
      1, // cookie
    ]);
    expect(v.getBigUint64(24, true)).toBe(IOVA);

    expect(f.map(4096n, IOVA)[0]).toBe(0);
    const before = f.log.seq;
    expect(iommufdFileWrite(f.fd.env(), f.file, bytes(8, [[0, 4, 1]]))).toBe(8);
    const consumed = f.log.records
      .filter((x) => x.seq > before && x.type === "smmu.cmd.consumed")
      .map((x) => (x.data as { cmd: bigint[] }).cmd);
    expect(consumed).toEqual([
      [0x41n | (1n << 11n) | (BigInt(SSID) << 12n) | (BigInt(GPU) << 32n), 2n << 12n], // Resp = Success
    ]);
    expect(f.inst().prgs).toEqual([]);
    expect(f.inst().priResponses).toEqual([{ sid: GPU, ssid: SSID, grpid: 0, resp: 2 }]);

    const retry = f.write();
    expect(retry.some((e) => e.type === "smmu.pri.queued")).toBe(false);
    expect(readUser(f.log.state.mm, 100, f.buffer + 0x100n, f.data.length)).toEqual(f.data);
  });

  it("an INVALID response is CMD_PRI_RESP with Resp = Invalid Request (0)", () => {
    const f = new PriFixture().setUp();
    f.write();
    iommufdFileRead(f.fd.env(), f.file, 40);
    expect(
      iommufdFileWrite(
        f.fd.env(),
        f.file,
        bytes(8, [
          [0, 4, 1],
          [4, 4, 1],
        ]),
      ),
    ).toBe(8);
    expect(f.inst().priResponses).toEqual([{ sid: GPU, ssid: SSID, grpid: 0, resp: 0 }]);
  });

  it("closing the context with the group unread answers it Invalid Request", () => {
    const f = new PriFixture().setUp();
    f.write();
    expect(isErrno(f.fd.close())).toBe(false);
    expect(f.inst().priResponses).toEqual([{ sid: GPU, ssid: SSID, grpid: 0, resp: 0 }]);
    expect(f.inst().prgs).toEqual([]);
  });
});
