/**
 * Platform devices on the VT-d and SMMUv3 models through iommufd: bind,
 * attach to an IOAS (auto domain) or a HWPT, DMA through the hardware
 * walk, unmap with the driver's invalidation, detach, close.
 * Golden values: VT-d spec 4.1 Appendix A fault reasons (0x79 SSS.2
 * second-stage entry not present, 0x59 SPT.2 PASID entry not present),
 * Arm IHI 0070 §7.3 event numbers (F_TRANSLATION 0x10), Linux's reserved
 * windows (IOAPIC_RANGE 0xFEE00000–0xFEEFFFFF; MSI_IOVA_BASE 0x8000000 +
 * 1 MiB) and struct sizes (include/uapi/linux/iommufd.h).
 */
import { stateHash, sweepFailNth } from "@iommu-sim/eventlog";
import { dmaRead as smmuDmaRead } from "@iommu-sim/hw-smmu";
import { DEFAULT_CAP, DEFAULT_ECAP, dmaRead as vtdDmaRead } from "@iommu-sim/hw-vtd";
import { checkInvariants, readUser } from "@iommu-sim/iopt";
import {
  IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
  IOMMU_HWPT_ALLOC_NEST_PARENT,
  IOMMU_IOCTL,
  isErrno,
} from "@iommu-sim/uapi";
import { describe, expect, it } from "vitest";
import {
  createEmptySystemLog,
  createSystem,
  createSystemLog,
  type Platform,
  parsePlatform,
  rid,
} from "../src/index";
import { Fixture, view } from "./fixture";
import { bytes } from "./harness";

const PAGE = 4096n;
const NIC = rid(3, 0, 0); // nic0 behind vtd0: no PRI, so faults are recorded
const GPU = rid(0, 1, 0); // gpu0 behind smmu0
const IOVA = 0x10_0000n;
const ALLOC_PASID = 1 << 3; // IOMMU_HWPT_ALLOC_PASID

type Ev = { type: string; data: Record<string, unknown> };

/** Fixture(0) + a byte pattern in the buffer and helpers for the device commands. */
class HwFixture extends Fixture {
  pattern = Uint8Array.from({ length: 4 * 4096 }, (_, i) => (i * 7 + 3) & 0xff);

  constructor() {
    super(0);
    this.ok({ type: "mm.write", data: { pid: 100, va: this.buffer, bytes: this.pattern } });
  }

  get ctx(): number {
    return this.fd.ctx;
  }

  ok(c: { type: string; data: unknown }): Ev[] {
    const r = this.log.dispatch(c);
    if (isErrno(r)) throw new Error(`${c.type}: ${r}`);
    return r as unknown as Ev[];
  }

  try(c: { type: string; data: unknown }): string | Ev[] {
    const r = this.log.dispatch(c);
    return isErrno(r) ? r.name : (r as unknown as Ev[]);
  }

  bind(device: string): number {
    const e = this.ok({ type: "iommufd.device.bind", data: { ctx: this.ctx, device } });
    return e[0]!.data.id as number;
  }

  attach(devId: number, ptId: number): string | Ev[] {
    return this.try({ type: "iommufd.device.attach", data: { ctx: this.ctx, devId, ptId } });
  }

  hwptOf(devId: number): number | undefined {
    return this.log.state.iommufd.contexts[this.ctx]!.objects[devId]!.refs[0];
  }

  ioasKobj(): number {
    return this.log.state.iommufd.contexts[this.ctx]!.objects[this.ioas]!.kobj!;
  }

  /** IOMMU_HWPT_ALLOC → [rc, out_hwpt_id]. */
  hwptAlloc(devId: number, flags: number, ioas = this.ioas): [number, number] {
    const arg = bytes(48, [
      [0, 4, 48],
      [4, 4, flags],
      [8, 4, devId],
      [12, 4, ioas],
    ]);
    return [this.fd.ioctl(IOMMU_IOCTL.IOMMU_HWPT_ALLOC, arg), view(arg).getUint32(16, true)];
  }
}

describe("a VT-d platform device (nic0 on vtd0)", () => {
  it("DMA reads the mapped process buffer, its writes land in the process, unmap leaves no stale IOTLB entry", () => {
    const f = new HwFixture();
    const dev = f.bind("nic0");
    const attached = f.attach(dev, f.ioas) as Ev[];
    expect(attached.map((e) => e.type)).toContain("vtd.device.attached");
    expect(f.map(4n * PAGE, IOVA)[0]).toBe(0);

    // The read fills the context, PASID and IOTLB caches, then returns the bytes.
    const read = f.ok({
      type: "vtd.dma",
      data: { unit: 0, rid: NIC, iova: IOVA + 8n, length: 8, write: false },
    });
    expect(read.map((e) => e.type)).toContain("vtd.iotlb.filled");
    expect(vtdDmaRead(f.log.state, 0, { rid: NIC, iova: IOVA + 8n, length: 8, write: false })).toEqual(
      f.pattern.slice(8, 16),
    );

    const data = Uint8Array.of(0xde, 0xad, 0xbe, 0xef);
    f.ok({
      type: "vtd.dma",
      data: { unit: 0, rid: NIC, iova: IOVA + 0x1004n, length: 4, write: true, bytes: data },
    });
    expect(readUser(f.log.state.mm, 100, f.buffer + 0x1004n, 4)).toEqual(data);

    expect(f.unmap(IOVA, 4n * PAGE)).toBe(0);
    const fault = vtdDmaRead(f.log.state, 0, { rid: NIC, iova: IOVA + 8n, length: 8, write: false });
    expect(fault).toMatchObject({ kind: "fault", reason: 0x79, addr: IOVA });
    const after = f.ok({
      type: "vtd.dma",
      data: { unit: 0, rid: NIC, iova: IOVA + 8n, length: 8, write: false },
    });
    expect(after.find((e) => e.type === "vtd.fault.recorded")?.data).toMatchObject({ reason: 0x79 });
    expect(checkInvariants(f.log.state)).toEqual([]);
  });

  it("reserves the interrupt window 0xFEE00000–0xFEEFFFFF in the IOAS, owned by the device", () => {
    const f = new HwFixture();
    const dev = f.bind("nic0");
    f.attach(dev, f.ioas);
    const kobj = f.log.state.iommufd.contexts[f.ctx]!.objects[dev]!.kobj!;
    const reserved = f.log.state.iopt.ioas.get(f.ioasKobj())!.reserved;
    expect(reserved).toContainEqual({ start: 0xfee0_0000n, last: 0xfeef_ffffn, owner: kobj });
    expect(f.map(PAGE, 0xfee0_0000n)[0]).toBe(-22); // EINVAL: iopt_check_iova() on a reserved range
    f.ok({ type: "iommufd.device.detach", data: { ctx: f.ctx, devId: dev } });
    expect(f.log.state.iopt.ioas.get(f.ioasKobj())!.reserved.some((r) => r.owner === kobj)).toBe(false);
  });

  it("refuses an attach when the IOAS maps the device's reserved window (EADDRINUSE), leaving no trace", () => {
    const f = new HwFixture();
    const dev = f.bind("nic0");
    expect(f.map(PAGE, 0xfee0_0000n)[0]).toBe(0);
    const before = stateHash(f.log.state);
    expect(f.attach(dev, f.ioas)).toBe("EADDRINUSE");
    expect(stateHash(f.log.state)).toBe(before);
  });
});

describe("an SMMUv3 platform device (gpu0 on smmu0)", () => {
  it("DMA reads and writes through stage 1; unmap (TLBI + SYNC) leaves no stale TLB entry", () => {
    const f = new HwFixture();
    const dev = f.bind("gpu0");
    expect((f.attach(dev, f.ioas) as Ev[]).map((e) => e.type)).toContain("smmu.domain.attached");
    expect(f.map(4n * PAGE, IOVA)[0]).toBe(0);

    const read = f.ok({
      type: "smmu.dma",
      data: { instance: 0, sid: GPU, iova: IOVA + 8n, length: 8, write: false },
    });
    expect(read.map((e) => e.type)).toContain("smmu.tlb.filled");
    expect(smmuDmaRead(f.log.state, 0, { sid: GPU, iova: IOVA + 8n, length: 8 })).toEqual(
      f.pattern.slice(8, 16),
    );

    const data = Uint8Array.of(1, 2, 3, 4);
    f.ok({
      type: "smmu.dma",
      data: { instance: 0, sid: GPU, iova: IOVA + 0x2000n, length: 4, write: true, bytes: data },
    });
    expect(readUser(f.log.state.mm, 100, f.buffer + 0x2000n, 4)).toEqual(data);

    expect(f.unmap(IOVA, 4n * PAGE)).toBe(0);
    const r = smmuDmaRead(f.log.state, 0, { sid: GPU, iova: IOVA + 8n, length: 8 });
    expect(r instanceof Uint8Array).toBe(false);
    expect(r).toMatchObject({ ok: false, fault: { id: 0x10 } }); // F_TRANSLATION
  });

  it("reserves the software MSI window 0x8000000 + 1 MiB", () => {
    const f = new HwFixture();
    const dev = f.bind("gpu0");
    f.attach(dev, f.ioas);
    const reserved = f.log.state.iopt.ioas.get(f.ioasKobj())!.reserved;
    expect(reserved.some((r) => r.start === 0x800_0000n && r.last === 0x80f_ffffn)).toBe(true);
  });
});

describe("auto domains, detach and errors (Linux device.c)", () => {
  it("two devices share an auto domain only on the same unit", () => {
    const f = new HwFixture();
    const accel = f.bind("accel0");
    const nic = f.bind("nic0");
    const gpu = f.bind("gpu0");
    for (const d of [accel, nic, gpu]) expect(Array.isArray(f.attach(d, f.ioas))).toBe(true);
    expect(f.hwptOf(accel)).toBe(f.hwptOf(nic));
    expect(f.hwptOf(gpu)).not.toBe(f.hwptOf(nic));
    expect(f.log.state.vtd.units.get(0)!.domains.size).toBe(1);
    expect(f.log.state.iopt.ioas.get(f.ioasKobj())!.domains).toHaveLength(2);

    // The auto domain stays while a device uses it, and goes with the last one.
    const hwpt = f.hwptOf(nic)!;
    f.ok({ type: "iommufd.device.detach", data: { ctx: f.ctx, devId: nic } });
    expect(f.log.state.iommufd.contexts[f.ctx]!.objects[hwpt]).toBeDefined();
    f.ok({ type: "iommufd.device.detach", data: { ctx: f.ctx, devId: accel } });
    expect(f.log.state.iommufd.contexts[f.ctx]!.objects[hwpt]).toBeUndefined();
    expect(f.log.state.vtd.units.get(0)!.domains.size).toBe(0);
    expect(Object.values(f.log.state.iommufd.hwDomains).map((r) => r.driver)).toEqual(["smmu"]);
  });

  it("answers EBUSY, EINVAL, ENOENT, ENODEV as Linux", () => {
    const f = new HwFixture();
    const nic = f.bind("nic0");
    const gpu = f.bind("gpu0");
    expect(f.try({ type: "iommufd.device.bind", data: { ctx: f.ctx, device: "nic0" } })).toBe("EBUSY");
    expect(f.try({ type: "iommufd.device.bind", data: { ctx: f.ctx, device: "nope" } })).toBe("ENODEV");
    expect(f.attach(nic, 999)).toBe("ENOENT");
    expect(f.attach(999, f.ioas)).toBe("ENOENT");
    expect(f.attach(nic, nic)).toBe("EINVAL"); // a device is not a page table
    f.attach(nic, f.ioas);
    expect(f.attach(nic, f.ioas)).toBe("EBUSY");
    expect(f.attach(nic, f.hwptOf(nic)!)).toBe("EBUSY");
    expect(f.attach(gpu, f.hwptOf(nic)!)).toBe("EINVAL"); // a VT-d domain for an SMMU device
    // attached elsewhere: the device id is already in the attach handle (xa_insert → EBUSY); moving takes a replace
    expect(f.attach(nic, f.ioasAlloc())).toBe("EBUSY");
    expect(f.destroy(nic)).toBe(-16); // EBUSY: held by its driver
    // Another context may not own a device of an owned group, nor bind a bound device.
    const other = f.ok({ type: "iommufd.open", data: { pid: 100, vfio: false } })[0]!.data.ctx;
    expect(f.try({ type: "iommufd.device.bind", data: { ctx: other, device: "nic0" } })).toBe("EBUSY");
  });

  it("a device without attachment detaches quietly; unbind removes the object", () => {
    const f = new HwFixture();
    const nic = f.bind("nic0");
    expect(f.ok({ type: "iommufd.device.detach", data: { ctx: f.ctx, devId: nic } })).toEqual([]);
    f.attach(nic, f.ioas);
    f.ok({ type: "iommufd.device.unbind", data: { ctx: f.ctx, devId: nic } });
    expect(f.log.state.iommufd.contexts[f.ctx]!.objects[nic]).toBeUndefined();
    expect(f.log.state.vtd.units.get(0)!.devices.get(NIC)!.attached.size).toBe(0);
  });
});

describe("replace (iommufd_device_replace, VFIO's attach of an attached device)", () => {
  it("moves a VT-d device to another IOAS: the old translation goes at once, the old auto domain is freed", () => {
    const f = new HwFixture();
    const nic = f.bind("nic0");
    f.attach(nic, f.ioas);
    expect(f.map(PAGE, IOVA)[0]).toBe(0);
    f.ok({ type: "vtd.dma", data: { unit: 0, rid: NIC, iova: IOVA, length: 4, write: false } }); // IOTLB filled
    const oldHwpt = f.hwptOf(nic)!;
    const oldIoas = f.ioasKobj();
    const devKobj = f.log.state.iommufd.contexts[f.ctx]!.objects[nic]!.kobj!;

    const second = f.ioasAlloc();
    f.ioas = second;
    expect(f.map(PAGE, 2n * IOVA, true, f.buffer + 0x1000n)[0]).toBe(0);
    const replace = { type: "iommufd.device.replace", data: { ctx: f.ctx, devId: nic, ptId: second } };
    expect(sweepFailNth(createSystem(), f.log.state, replace as never).steps).toBeGreaterThan(0);
    f.ok(replace);

    expect(f.hwptOf(nic)).not.toBe(oldHwpt);
    expect(f.log.state.iommufd.contexts[f.ctx]!.objects[oldHwpt]).toBeUndefined();
    expect(vtdDmaRead(f.log.state, 0, { rid: NIC, iova: IOVA, length: 4, write: false })).toMatchObject({
      kind: "fault",
      reason: 0x79,
    });
    expect(vtdDmaRead(f.log.state, 0, { rid: NIC, iova: 2n * IOVA, length: 4, write: false })).toEqual(
      f.pattern.slice(0x1000, 0x1004),
    );
    expect(f.log.state.iopt.ioas.get(oldIoas)!.reserved.some((r) => r.owner === devKobj)).toBe(false);
    expect(f.log.state.iopt.ioas.get(f.ioasKobj())!.reserved.some((r) => r.owner === devKobj)).toBe(true);
    expect(f.log.state.vtd.units.get(0)!.domains.size).toBe(1);
  });

  it("replacing with the current HWPT changes nothing; a device not attached cannot be replaced (EINVAL)", () => {
    const f = new HwFixture();
    const gpu = f.bind("gpu0");
    const replace = (ptId: number) =>
      f.try({ type: "iommufd.device.replace", data: { ctx: f.ctx, devId: gpu, ptId } });
    expect(replace(f.ioas)).toBe("EINVAL");
    f.attach(gpu, f.ioas);
    expect(replace(f.ioas)).toEqual([]);
    expect(replace(f.hwptOf(gpu)!)).toEqual([]);
  });
});

describe("PASID attach (VFIO_DEVICE_ATTACH_PASID, iommufd_device_attach with a PASID)", () => {
  /**
   * A second IOAS mapping buffer page 2 at 2·IOVA, and `dev` bound with its RID attached to a
   * HWPT on the first. Both HWPTs are allocated with IOMMU_HWPT_ALLOC_PASID, as a program using
   * PASIDs must (auto domains are not PASID-compatible): [fixture, dev, RID HWPT, PASID HWPT].
   */
  function twoSpaces(device: string): [HwFixture, number, number, number] {
    const f = new HwFixture();
    const dev = f.bind(device);
    const [rc, ridHwpt] = f.hwptAlloc(dev, ALLOC_PASID);
    expect(rc).toBe(0);
    expect(Array.isArray(f.attach(dev, ridHwpt))).toBe(true);
    expect(f.map(PAGE, IOVA)[0]).toBe(0);
    f.ioas = f.ioasAlloc();
    expect(f.map(PAGE, 2n * IOVA, true, f.buffer + 0x2000n)[0]).toBe(0);
    const [rc2, pasidHwpt] = f.hwptAlloc(dev, ALLOC_PASID);
    expect(rc2).toBe(0);
    return [f, dev, ridHwpt, pasidHwpt];
  }

  it("auto domains are not PASID-compatible (iommufd_hwpt_pasid_compat): a PASID needs an ALLOC_PASID HWPT beside one", () => {
    const f = new HwFixture();
    const nic = f.bind("nic0");
    const at = (ptId: number, pasid?: number) =>
      f.try({
        type: "iommufd.device.attach",
        data: { ctx: f.ctx, devId: nic, ptId, ...(pasid === undefined ? {} : { pasid }) },
      });
    // A PASID attached to an IOAS gets a new auto domain (flags 0): refused, and nothing is left.
    const before = stateHash(f.log.state);
    expect(at(f.ioas, 1)).toBe("EINVAL");
    expect(stateHash(f.log.state)).toBe(before);
    // The RID on an auto domain: a PASID on a PASID-compatible HWPT is refused beside it.
    expect(Array.isArray(at(f.ioas))).toBe(true);
    const [, withPasid] = f.hwptAlloc(nic, ALLOC_PASID);
    expect(at(withPasid, 1)).toBe("EINVAL");
  });

  it("VT-d: PASID 5 translates through its own IOAS, the RID through the first; detach → fault 0x59", () => {
    const [f, nic, , second] = twoSpaces("nic0");
    const attach = {
      type: "iommufd.device.attach",
      data: { ctx: f.ctx, devId: nic, ptId: second, pasid: 5 },
    };
    // The PASID table page of PASIDs 0–63 exists since the RID attach and the domain since
    // IOMMU_HWPT_ALLOC; reserving the device's windows in the second IOAS can still fail.
    expect(sweepFailNth(createSystem(), f.log.state, attach as never).sites).toContain("iopt.reserve_iova");
    f.ok(attach);
    const read = (pasid: number | undefined, iova: bigint) =>
      vtdDmaRead(f.log.state, 0, {
        rid: NIC,
        ...(pasid === undefined ? {} : { pasid }),
        iova,
        length: 4,
        write: false,
      });
    expect(read(5, 2n * IOVA)).toEqual(f.pattern.slice(0x2000, 0x2004));
    expect(read(undefined, IOVA)).toEqual(f.pattern.slice(0, 4));
    expect(read(5, IOVA)).toMatchObject({ kind: "fault", reason: 0x79 }); // not in PASID 5's space
    f.ok({
      type: "vtd.dma",
      data: { unit: 0, rid: NIC, pasid: 5, iova: 2n * IOVA, length: 4, write: false },
    });
    f.ok({ type: "iommufd.device.detach", data: { ctx: f.ctx, devId: nic, pasid: 5 } });
    expect(read(5, 2n * IOVA)).toMatchObject({ kind: "fault", reason: 0x59 });
    expect(read(undefined, IOVA)).toEqual(f.pattern.slice(0, 4));
    // The device left the second IOAS: its interrupt window went with it; only the domain's
    // beyond-aperture range stays (owned by the HWPT's domain) until the HWPT is destroyed.
    const kobj = f.log.state.iommufd.contexts[f.ctx]!.objects[second]!.kobj!;
    expect(f.log.state.iopt.ioas.get(f.ioasKobj())!.reserved.map((r) => r.owner)).toEqual([kobj]);
    expect(f.destroy(second)).toBe(0);
    expect(f.log.state.vtd.units.get(0)!.domains.size).toBe(1);
    expect(f.log.state.iopt.ioas.get(f.ioasKobj())!.reserved).toEqual([]);
  });

  it("SMMUv3: SubstreamID 3 translates through its own IOAS (a CD of the stream's CD table)", () => {
    const [f, gpu, , second] = twoSpaces("gpu0");
    f.ok({ type: "iommufd.device.attach", data: { ctx: f.ctx, devId: gpu, ptId: second, pasid: 3 } });
    expect(smmuDmaRead(f.log.state, 0, { sid: GPU, ssid: 3, iova: 2n * IOVA, length: 4 })).toEqual(
      f.pattern.slice(0x2000, 0x2004),
    );
    expect(smmuDmaRead(f.log.state, 0, { sid: GPU, iova: IOVA, length: 4 })).toEqual(f.pattern.slice(0, 4));
    f.ok({ type: "iommufd.device.detach", data: { ctx: f.ctx, devId: gpu, pasid: 3 } });
    expect(smmuDmaRead(f.log.state, 0, { sid: GPU, ssid: 3, iova: 2n * IOVA, length: 4 })).toMatchObject({
      ok: false,
    });
  });

  it("needs PASID-compatible HWPTs (iommufd_hwpt_pasid_compat) and a PASID within the device's width", () => {
    const f = new HwFixture();
    const nic = f.bind("nic0");
    const [, plain] = f.hwptAlloc(nic, 0); // no IOMMU_HWPT_ALLOC_PASID
    const [, withPasid] = f.hwptAlloc(nic, ALLOC_PASID);
    const at = (ptId: number, pasid?: number) =>
      f.try({
        type: "iommufd.device.attach",
        data: { ctx: f.ctx, devId: nic, ptId, ...(pasid === undefined ? {} : { pasid }) },
      });
    expect(at(plain, 1)).toBe("EINVAL");
    expect(at(withPasid, 1 << 20)).toBe("EINVAL"); // beyond 20 bits
    expect(Array.isArray(at(withPasid, 1))).toBe(true);
    expect(at(withPasid, 1)).toBe("EBUSY");
    expect(at(plain)).toBe("EINVAL"); // the RID's HWPT must allow PASID while PASIDs are attached
    expect(Array.isArray(at(withPasid))).toBe(true);
    // Close: every attachment detached, both HWPTs destroyed, no domain left.
    expect(Array.isArray(f.fd.close())).toBe(true);
    expect(f.log.state.vtd.units.get(0)!.domains.size).toBe(0);
    expect(f.log.state.vtd.units.get(0)!.devices.get(NIC)!.attached.size).toBe(0);
  });
});

describe("IOMMU_HWPT_ALLOC and IOMMU_GET_HW_INFO on hardware devices", () => {
  it("allocates a VT-d NEST_PARENT paging HWPT a device can attach to; the SMMU refuses DIRTY_TRACKING", () => {
    const f = new HwFixture();
    const nic = f.bind("nic0");
    const gpu = f.bind("gpu0");
    const [rc, hwpt] = f.hwptAlloc(nic, IOMMU_HWPT_ALLOC_NEST_PARENT);
    expect(rc).toBe(0);
    const kobj = f.log.state.iommufd.contexts[f.ctx]!.objects[hwpt]!.kobj!;
    const ref = f.log.state.iommufd.hwDomains[kobj]!;
    expect(ref.driver).toBe("vtd");
    expect(f.log.state.vtd.units.get(0)!.domains.get(ref.domain)!.nestParent).toBe(true);
    expect(f.hwptAlloc(gpu, IOMMU_HWPT_ALLOC_DIRTY_TRACKING)[0]).toBe(-95);
    expect(f.hwptAlloc(gpu, 1 << 7)[0]).toBe(-95); // an unknown flag

    expect(Array.isArray(f.attach(nic, hwpt))).toBe(true);
    expect(f.map(PAGE, IOVA)[0]).toBe(0);
    expect(vtdDmaRead(f.log.state, 0, { rid: NIC, iova: IOVA, length: 4, write: false })).toEqual(
      f.pattern.slice(0, 4),
    );
    // Not an auto domain: it outlives the detach, and then userspace destroys it.
    f.ok({ type: "iommufd.device.detach", data: { ctx: f.ctx, devId: nic } });
    expect(f.destroy(hwpt)).toBe(0);
    expect(f.log.state.vtd.units.get(0)!.domains.size).toBe(0);
  });

  it("reports iommu_hw_info_vtd (24 bytes: cap_reg, ecap_reg) and iommu_hw_info_arm_smmuv3 (40 bytes)", () => {
    const f = new HwFixture();
    const nic = f.bind("nic0");
    const gpu = f.bind("gpu0");
    const info = (dev: number): [number, DataView, Uint8Array] => {
      const arg = bytes(40, [
        [0, 4, 40],
        [8, 4, dev],
        [12, 4, 64],
        [16, 8, f.buffer],
      ]);
      const rc = f.fd.ioctl(IOMMU_IOCTL.IOMMU_GET_HW_INFO, arg);
      return [rc, view(arg), readUser(f.log.state.mm, 100, f.buffer, 64) as Uint8Array];
    };
    const [rc, v, data] = info(nic);
    expect(rc).toBe(0);
    expect(v.getUint32(12, true)).toBe(24); // data_len
    expect(v.getUint32(24, true)).toBe(1); // IOMMU_HW_INFO_TYPE_INTEL_VTD
    expect(v.getUint8(28)).toBe(20); // out_max_pasid_log2: 20-bit PASID, ECAP.PSS = 19
    const d = new DataView(data.buffer);
    expect(d.getBigUint64(8, true)).toBe(DEFAULT_CAP);
    expect(d.getBigUint64(16, true)).toBe(DEFAULT_ECAP);
    expect(data.slice(24)).toEqual(new Uint8Array(40)); // the rest of the buffer zeroed

    const [rc2, v2] = info(gpu);
    expect(rc2).toBe(0);
    expect(v2.getUint32(12, true)).toBe(40);
    expect(v2.getUint32(24, true)).toBe(2); // IOMMU_HW_INFO_TYPE_ARM_SMMUV3
    expect(v2.getUint8(28)).toBe(20);
  });
});

describe("failures leave no trace; close cleans up", () => {
  it("fail-nth sweeps over bind, first attach (new domain), shared attach and HWPT alloc", () => {
    const f = new HwFixture();
    const system = createSystem();
    const bind = { type: "iommufd.device.bind", data: { ctx: f.ctx, device: "nic0" } };
    expect(sweepFailNth(system, f.log.state, bind as never).sites).toEqual(["iommufd.device_bind"]);
    const nic = f.bind("nic0");
    f.map(4n * PAGE, IOVA);
    const attach = { type: "iommufd.device.attach", data: { ctx: f.ctx, devId: nic, ptId: f.ioas } };
    const sweep = sweepFailNth(system, f.log.state, attach as never);
    expect(sweep.sites).toContain("vtd.pgd_alloc");
    expect(sweep.sites).toContain("vtd.pasid_table_alloc");
    expect(sweep.sites).toContain("iopt.reserve_iova");
    f.attach(nic, f.ioas);
    const accel = f.bind("accel0");
    const shared = { type: "iommufd.device.attach", data: { ctx: f.ctx, devId: accel, ptId: f.ioas } };
    expect(sweepFailNth(system, f.log.state, shared as never).steps).toBeGreaterThan(0);
    const gpu = f.bind("gpu0");
    const alloc = {
      type: "iommufd.hwpt.alloc",
      data: { ctx: f.ctx, devId: gpu, ptId: f.ioas, flags: 0, dataType: 0, dataLen: 0 },
    };
    expect(sweepFailNth(system, f.log.state, alloc as never).sites).toContain("smmu.pgd_alloc");
  });

  it("closing the context detaches, frees the domains and unpins; the device then faults", () => {
    const f = new HwFixture();
    for (const name of ["nic0", "gpu0"]) f.attach(f.bind(name), f.ioas);
    expect(f.map(4n * PAGE, IOVA)[0]).toBe(0);
    f.ok({ type: "vtd.dma", data: { unit: 0, rid: NIC, iova: IOVA, length: 4, write: false } });
    expect(Array.isArray(f.fd.close())).toBe(true);
    const s = f.log.state;
    expect(s.iommufd.hwDomains).toEqual({});
    expect(s.vtd.units.get(0)!.domains.size).toBe(0);
    expect(s.smmu.instances.get(0)!.domains.size).toBe(0);
    expect(s.iopt.pages.size).toBe(0);
    expect([...s.iopt.userLocked.values()].every((n) => n === 0)).toBe(true);
    expect(vtdDmaRead(s, 0, { rid: NIC, iova: IOVA, length: 4, write: false })).toMatchObject({
      kind: "fault",
      reason: 0x59,
    });
    // Binding works again in a new context.
    const g = f.ok({ type: "iommufd.open", data: { pid: 100, vfio: false } })[0]!.data.ctx;
    expect(Array.isArray(f.try({ type: "iommufd.device.bind", data: { ctx: g, device: "nic0" } }))).toBe(
      true,
    );
  });

  it("a replay of the log rebuilds the units and reaches the same state", () => {
    const f = new HwFixture();
    f.attach(f.bind("nic0"), f.ioas);
    f.map(4n * PAGE, IOVA);
    f.unmap(IOVA, PAGE);
    const fresh = createEmptySystemLog();
    fresh.append(f.log.records);
    expect(fresh.records.slice(0, 4).map((r) => r.type)).toEqual([
      "vtd.unit.add",
      "vtd.unit.added",
      "smmu.instance.add",
      "smmu.instance.added",
    ]);
    expect(stateHash(fresh.state)).toBe(stateHash(f.log.state));
  });
});

describe("a platform of two VT-d units with a shared IOMMU group", () => {
  const platform = parsePlatform({
    memoryBytes: "0x40000000",
    iommus: [
      { name: "vtd0", kind: "vtd" },
      { name: "vtd1", kind: "vtd" },
    ],
    devices: [
      { name: "fn0", iommu: "vtd0", rid: rid(1, 0, 0), group: 7, trusted: true },
      { name: "fn1", iommu: "vtd0", rid: rid(1, 0, 1), group: 7, trusted: true },
      { name: "nvme", iommu: "vtd1", rid: rid(2, 0, 0), group: 8, trusted: true },
    ],
  }) as Platform;

  it("adds one unit per DRHD, each with its own table memory", () => {
    const log = createSystemLog(undefined, undefined, platform);
    expect([...log.state.vtd.units.keys()]).toEqual([0, 1]);
    expect(log.state.vtd.units.get(1)!.config.tableBase).toBe(0x10_4000_0000);
  });

  it("devices on different units get different auto domains; a group has one owning context (EPERM)", () => {
    const log = createSystemLog(undefined, undefined, platform);
    const open = () =>
      (log.dispatch({ type: "iommufd.open", data: { pid: 1, vfio: false } }) as unknown as Ev[])[0]!.data.ctx;
    const ctx = open() as number;
    const ioas = (log.dispatch({ type: "iommufd.ioas.alloc", data: { ctx } }) as unknown as Ev[]).find(
      (e) => e.type === "iommufd.object.created",
    )!.data.id as number;
    const bind = (c: number, device: string) =>
      log.dispatch({ type: "iommufd.device.bind", data: { ctx: c, device } });
    const fn0 = (bind(ctx, "fn0") as unknown as Ev[])[0]!.data.id as number;
    const nvme = (bind(ctx, "nvme") as unknown as Ev[])[0]!.data.id as number;
    const other = open() as number;
    const refused = bind(other, "fn1");
    expect(isErrno(refused) && refused.name).toBe("EPERM");
    expect(Array.isArray(bind(ctx, "fn1"))).toBe(true); // the same owner may bind the group's other device
    for (const devId of [fn0, nvme])
      log.dispatch({ type: "iommufd.device.attach", data: { ctx, devId, ptId: ioas } });
    const objects = log.state.iommufd.contexts[ctx]!.objects;
    expect(objects[fn0]!.refs[0]).not.toBe(objects[nvme]!.refs[0]);
    expect(Object.values(log.state.iommufd.hwDomains).map((r) => `${r.driver}:${r.unit}`)).toEqual([
      "vtd:0",
      "vtd:1",
    ]);
  });
});
