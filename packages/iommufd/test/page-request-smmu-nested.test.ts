/**
 * Page-request routing with `iommu_ops.user_pasid_table` (Linux
 * io-pgfault.c find_fault_handler(): no attach handle at the request's
 * PASID → with user_pasid_table set, the handle at IOMMU_NO_PASID, i.e.
 * the RID's nested HWPT and its fault queue). ARM SMMUv3 sets it (the
 * guest owns the CD table behind a nested STE: arm-smmu-v3.c arm_smmu_ops);
 * Intel VT-d does not.
 *
 * gpu0 (StreamID 00:01.0 behind smmu0) is attached to a nested HWPT whose
 * guest STE points at a linear CD table of 8 CDs (S1CDMax = 3) in guest
 * memory, the CD at SSID 7 mapping guest IOVA 0x20_0000. The route a PRI request
 * at SSID 7 takes (`routeHwRequest`, what the SMMU's PRI queue consumer
 * calls) is checked here; the whole flow through `smmu.dma` needs the
 * guest's EATS to reach the physical STE (hw-smmu keeps it: see the
 * report), then it is the flow of page-request-smmu.test.ts.
 *
 * Golden values: Arm IHI 0070 §5.2 (STE: V 0, Config 3:1 = 0b101 stage 1,
 * S1Fmt 5:4 = 0 linear, S1ContextPtr 51:6, S1CDMax 63:59; EATS = bits
 * 29:28 of the second word), §5.4 (64-byte CDs indexed by SubstreamID).
 */
import { EMPTY_CD, encodeCd, LINUX_MAIR } from "@iommu-sim/hw-smmu";
import { IOMMU_IOCTL, isErrno } from "@iommu-sim/uapi";
import { describe, expect, it } from "vitest";
import { rid, routeHwRequest } from "../src/index";
import { view } from "./fixture";
import { bytes } from "./harness";
import { NestedFixture } from "./nested-support";

const PAGE = 4096n;
const GPU = rid(0, 1, 0);
const ACCEL = rid(0, 2, 0);
const G = 0x10_0000n; // guest-physical base: the buffer's IOVA in the IOAS
const SSID = 7;
const NEST_PARENT = 1;
const FAULT_ID_VALID = 1 << 2;
const DATA_ARM_SMMUV3 = 2;
const DATA_VTD_S1 = 1;
const ARM_TABLE = 0b11n;
const ARM_PAGE = 0b11n | (1n << 10n) | (3n << 8n) | (1n << 6n); // AF | SH inner | AP[1]
const CD_SIZE = 64;

type Ev = { type: string; data: Record<string, unknown> };

/** gpu0 bound, a NEST_PARENT HWPT on the IOAS mapping 16 buffer pages at G, a fault queue. */
class SmmuGuest extends NestedFixture {
  dev: number;
  parent: number;
  faultId: number;

  constructor() {
    super(0);
    this.dev = this.ok({ type: "iommufd.device.bind", data: { ctx: this.fd.ctx, device: "gpu0" } })[0]!.data
      .id as number;
    const [rc, parent] = this.hwptAlloc(this.dev, this.ioas, NEST_PARENT);
    expect(rc).toBe(0);
    this.parent = parent;
    expect(this.map(16n * PAGE, G)[0]).toBe(0);
    const fa = bytes(16, [[0, 4, 16]]);
    expect(this.fd.ioctl(IOMMU_IOCTL.IOMMU_FAULT_QUEUE_ALLOC, fa)).toBe(0);
    this.faultId = view(fa).getUint32(8, true);
  }

  ok(c: { type: string; data: unknown }): Ev[] {
    const r = this.log.dispatch(c);
    if (isErrno(r)) throw new Error(`${c.type}: ${r}`);
    return r as unknown as Ev[];
  }

  writeU64(page: number, offset: number, value: bigint): void {
    this.poke(this.buffer + BigInt(page) * PAGE + BigInt(offset), bytes(8, [[0, 8, value]]));
  }

  gpa(page: number): bigint {
    return G + BigInt(page) * PAGE;
  }

  /** The CD at SSID `ssid` of the linear CD table at page 0; stage-1 tables in pages 1–4 map 0x20_0000 → page 8. */
  guestTables(ssid: number): void {
    const cd = encodeCd({
      ...EMPTY_CD,
      t0sz: 16,
      tg0: 0,
      ir0: 1,
      or0: 1,
      sh0: 3,
      epd1: true,
      v: true,
      ips: 5,
      aa64: true,
      r: true,
      a: true,
      aset: true,
      asid: 9,
      ttb0: Number(this.gpa(1)),
      mair: LINUX_MAIR,
    });
    cd.forEach((w, i) => {
      this.writeU64(0, ssid * CD_SIZE + 8 * i, w);
    });
    this.writeU64(1, 0, this.gpa(2) | ARM_TABLE);
    this.writeU64(2, 0, this.gpa(3) | ARM_TABLE);
    this.writeU64(3, 8, this.gpa(4) | ARM_TABLE);
    this.writeU64(4, 0, this.gpa(8) | ARM_PAGE);
  }

  /** A nested HWPT over the parent: guest STE {V, Config stage 1, S1ContextPtr G, S1CDMax 3, EATS 1}, faults to the queue. */
  nested(): number {
    const ste = bytes(16, [
      [0, 8, 1n | (0b101n << 1n) | G | (3n << 59n)],
      [8, 8, 1n << 28n], // EATS = 0b01: the guest lets the device use ATS (and PRI)
    ]);
    const [rc, id] = this.hwptAlloc(
      this.dev,
      this.parent,
      FAULT_ID_VALID,
      DATA_ARM_SMMUV3,
      ste,
      16,
      this.faultId,
    );
    expect(rc).toBe(0);
    return id;
  }
}

describe("user_pasid_table: a page request at an unattached PASID goes to the RID's nested HWPT", () => {
  it("SMMUv3 (gpu0): SSID 7 without an attachment → the nested HWPT's fault queue; not through a paging RID", () => {
    const g = new SmmuGuest();
    g.guestTables(SSID);
    const nested = g.nested();
    const fault = g.log.state.iommufd.contexts[g.fd.ctx]!.objects[g.faultId]!.kobj!;
    const route = (ssid: number) => routeHwRequest(g.log.state.iommufd, "smmu", 0, GPU, ssid);
    expect(route(SSID)).toEqual({ bound: true }); // not attached yet: the driver answers it
    g.ok({ type: "iommufd.device.attach", data: { ctx: g.fd.ctx, devId: g.dev, ptId: nested } });
    expect(route(SSID)).toEqual({ bound: true, target: { fault, ctx: g.fd.ctx, devId: g.dev } });
    expect(route(0)).toEqual({ bound: true, target: { fault, ctx: g.fd.ctx, devId: g.dev } });
    // The RID on the (paging) parent instead: a PASID without attachment has no handler.
    g.ok({ type: "iommufd.device.replace", data: { ctx: g.fd.ctx, devId: g.dev, ptId: g.parent } });
    expect(route(SSID)).toEqual({ bound: true });
  });

  it("VT-d (accel0) has no user_pasid_table: PASID 7 without an attachment is not routed to the RID's nested HWPT", () => {
    const g = new NestedFixture(0);
    const bound = g.log.dispatch({ type: "iommufd.device.bind", data: { ctx: g.fd.ctx, device: "accel0" } });
    if (isErrno(bound)) throw new Error(`${bound}`);
    const dev = (bound[0]!.data as { id: number }).id;
    const [rc, parent] = g.hwptAlloc(dev, g.ioas, NEST_PARENT);
    expect(rc).toBe(0);
    const fa = bytes(16, [[0, 4, 16]]);
    expect(g.fd.ioctl(IOMMU_IOCTL.IOMMU_FAULT_QUEUE_ALLOC, fa)).toBe(0);
    const faultId = view(fa).getUint32(8, true);
    // struct iommu_hwpt_vtd_s1 {flags 0, pgtbl_addr G, addr_width 48}
    const s1 = bytes(24, [
      [8, 8, G],
      [16, 4, 48],
    ]);
    const [rc2, nested] = g.hwptAlloc(dev, parent, FAULT_ID_VALID, DATA_VTD_S1, s1, 24, faultId);
    expect(rc2).toBe(0);
    expect(
      isErrno(
        g.log.dispatch({ type: "iommufd.device.attach", data: { ctx: g.fd.ctx, devId: dev, ptId: nested } }),
      ),
    ).toBe(false);
    const fault = g.log.state.iommufd.contexts[g.fd.ctx]!.objects[faultId]!.kobj!;
    const route = (pasid: number) => routeHwRequest(g.log.state.iommufd, "vtd", 0, ACCEL, pasid);
    expect(route(0)).toEqual({ bound: true, target: { fault, ctx: g.fd.ctx, devId: dev } });
    expect(route(SSID)).toEqual({ bound: true });
  });
});
