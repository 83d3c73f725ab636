/**
 * What QEMU's hw/vfio does for a 4 GiB x86 guest with a NIC assigned
 * through the legacy group/container API, on a kernel whose /dev/vfio/vfio
 * is iommufd (CONFIG_IOMMUFD_VFIO_CONTAINER) — then the NIC's DMA through
 * VT-d second-stage tables into the VMM's memory.
 *
 * QEMU's order (hw/vfio/container.c vfio_connect_container, then
 * vfio_get_device): open /dev/vfio/vfio, API version and extensions; open
 * /dev/vfio/$GROUP, GET_STATUS (VIABLE), SET_CONTAINER, SET_IOMMU(TYPE1v2),
 * GET_INFO (argsz probe, then the capability chain), the memory listener
 * maps guest RAM, then GET_DEVICE_FD. SET_CONTAINER binds the group's
 * device and attaches it to the compat IOAS (the semantics, as the
 * legacy type1 container: see the README's "Deviation from Linux"), so
 * GET_INFO already reports the VT-d domain's reserved regions and aperture
 * and MAP_DMA pins as it maps. pc (i440fx) with -m 4G puts 3 GiB below
 * the PCI hole and 1 GiB at 4 GiB (hw/i386/pc_piix.c: lowmem 0xc0000000
 * when ram ≥ 0xe0000000 with gigabyte alignment); the listener skips the
 * VGA window 0xa0000–0xbffff and maps the ROM shadow 0xc0000–0xfffff read
 * only. Guest RAM is one private anonymous 4 GiB mapping of the VMM
 * (qemu_ram_mmap); only the pages DMA touches get frames.
 *
 * Faults are VT-d scalable-mode fault reasons (VT-d spec rev 4.1 §7.1.3):
 * 0x79 SSS.2 second-stage entry not present, 0x85 SGN.6 write without
 * write permission, 0x87 SGN.8 request to the interrupt range 0xFEEx_xxxx.
 */
import { type DmaFault, dmaRead, translate, type VtdRoot } from "@iommu-sim/hw-vtd";
import { userVaToPa } from "@iommu-sim/iopt";
import {
  decodeVfioCapChain,
  IOMMU_IOCTL,
  isErrno,
  VFIO_DMA_UNMAP_FLAG_ALL,
  VFIO_EXTENSION,
  VFIO_IOCTL,
  VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE,
  VFIO_TYPE1v2_IOMMU,
} from "@iommu-sim/uapi";
import { describe, expect, it } from "vitest";
import { bytes, view } from "./harness";
import { GiB, Machine, PID } from "./vfio-harness";

const NIC_RID = 0x300; // 03:00.0, nic0 of the default platform, VT-d unit 0, group 2
const LOWMEM = 0xc000_0000n;
const READ = 1;
const WRITE = 2;

/** Guest RAM pieces as QEMU's listener maps them: [gpa, size, offset in the RAM mapping, flags]. */
const PIECES: [bigint, bigint, bigint, number][] = [
  [0n, 0xa_0000n, 0n, READ | WRITE],
  [0xc_0000n, 0x4_0000n, 0xc_0000n, READ], // ROM shadow: read only
  [0x10_0000n, LOWMEM - 0x10_0000n, 0x10_0000n, READ | WRITE],
  [4n * GiB, GiB, LOWMEM, READ | WRITE],
];

/** GET_INFO's IOVA ranges, by QEMU's two-step read. */
function iovaRanges(m: Machine, container: number): [bigint, bigint][] {
  const probe = bytes(24, [[0, 4, 24]]);
  expect(m.ioctl(container, VFIO_IOCTL.VFIO_IOMMU_GET_INFO, probe)).toBe(0);
  const argsz = view(probe).getUint32(0, true);
  const info = bytes(argsz, [[0, 4, argsz]]);
  expect(m.ioctl(container, VFIO_IOCTL.VFIO_IOMMU_GET_INFO, info)).toBe(0);
  // iova_pgsizes (offset 8): the VT-d second-stage domain's pgsize_bitmap, 4K | 2M | 1G with the
  // default CAP.SLLPS = 0b11 (intel-iommu domain_super_pgsize_bitmap()) — what QEMU sizes its maps by
  expect(view(info).getBigUint64(8, true)).toBe(0x4020_1000n);
  const caps = decodeVfioCapChain(info, view(info).getUint32(16, true));
  if (isErrno(caps)) throw new Error(`${caps}`);
  const cap = caps.find((c) => c.id === VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE)!;
  const v = view(info);
  const n = v.getUint32(cap.offset + 8, true);
  const out: [bigint, bigint][] = [];
  for (let i = 0; i < n; i++) {
    const at = cap.offset + 16 + i * 16;
    out.push([v.getBigUint64(at, true), v.getBigUint64(at + 8, true)]);
  }
  return out;
}

describe("QEMU-style 4 GiB guest with nic0 assigned through its VFIO group", () => {
  it("maps guest RAM around the PCI hole; the NIC's DMA lands in the VMM's memory, faults in the hole, and after UNMAP_ALL", () => {
    // libvirt raises RLIMIT_MEMLOCK to the guest's RAM + 1 GiB for an assigned device.
    const m = new Machine(undefined, 5n * GiB);
    const hw = () => m.state as unknown as VtdRoot; // the composed root has the vtd slice
    const container = m.openIommufd(true); // /dev/vfio/vfio
    expect(m.ioctl(container, VFIO_IOCTL.VFIO_GET_API_VERSION)).toBe(0);
    const ext = (e: number) => m.ioctlInt(container, VFIO_IOCTL.VFIO_CHECK_EXTENSION, e);
    expect(ext(VFIO_EXTENSION.VFIO_TYPE1v2_IOMMU)).toBe(1);
    expect(ext(VFIO_EXTENSION.VFIO_TYPE1_IOMMU)).toBe(1);

    expect(m.open("/dev/vfio/2")).toBe(2);
    expect(m.status(2)).toEqual([0, 1]); // VIABLE
    expect(m.setContainer(2, container)).toBe(0);
    expect(m.status(2)).toEqual([0, 3]); // VIABLE | CONTAINER_SET
    expect(m.ioctlInt(container, VFIO_IOCTL.VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU)).toBe(0);
    // nic0 is attached already: the x86 MSI window 0xFEE00000–0xFEEFFFFF is reserved (the VT-d
    // interrupt address range; Linux intel_iommu_get_resv_regions, IOAPIC_RANGE_START/END) and the VT-d domain's aperture bounds the space —
    // 57-bit AGAW by default (5-level second stage). IOVA_RANGE answers the holes around both.
    expect(iovaRanges(m, container)).toEqual([
      [0n, 0xfedf_ffffn],
      [0xfef0_0000n, (1n << 57n) - 1n],
    ]);

    const ram = m.log.dispatch({
      type: "mm.mmap",
      data: { pid: PID, length: 4n * GiB, prot: 3, shared: false },
    });
    if (isErrno(ram)) throw new Error(`${ram}`);
    const hva = (ram[0]!.data as { addr: bigint }).addr;
    for (const [gpa, size, off, flags] of PIECES) {
      const map = bytes(32, [
        [0, 4, 32],
        [4, 4, flags],
        [8, 8, hva + off],
        [16, 8, gpa],
        [24, 8, size],
      ]);
      expect(m.ioctl(container, VFIO_IOCTL.VFIO_IOMMU_MAP_DMA, map)).toBe(0);
    }

    // vfio_get_device(): the device fd, on the binding SET_CONTAINER made.
    const fd = m.deviceFd(2, "0000:03:00.0");
    expect(fd).toBeGreaterThan(0);
    const info = bytes(20, [[0, 4, 20]]);
    expect(m.device(fd, VFIO_IOCTL.VFIO_DEVICE_GET_INFO, info)).toBe(0);
    expect([
      view(info).getUint32(4, true),
      view(info).getUint32(8, true),
      view(info).getUint32(12, true),
    ]).toEqual([2, 9, 5]);
    // Mapping guest RAM around the hole left the reserved regions as they were.
    expect(iovaRanges(m, container)).toEqual([
      [0n, 0xfedf_ffffn],
      [0xfef0_0000n, (1n << 57n) - 1n],
    ]);

    // The NIC writes: the bytes land in the VMM's RAM mapping at hva + (offset of the gpa's piece).
    const dma = (gpa: bigint, payload: Uint8Array) =>
      m.log.dispatch({
        type: "vtd.dma",
        data: { unit: 0, rid: NIC_RID, iova: gpa, length: payload.length, write: true, bytes: payload },
      });
    const vmm = (va: bigint, n: number) => m.env.user.read(va, n);
    const targets: [bigint, bigint][] = [
      [0x1000n, hva + 0x1000n], // below 1 MiB
      [0x7fff_f000n, hva + 0x7fff_f000n], // 2 GiB − 4 KiB
      [LOWMEM - 0x10n, hva + LOWMEM - 0x10n], // the last bytes below the hole
      [0x1_2345_6780n, hva + LOWMEM + 0x2345_6780n], // above 4 GiB
    ];
    for (const [i, [gpa, va]] of targets.entries()) {
      const payload = Uint8Array.from({ length: 16 }, (_, k) => 0x10 * (i + 1) + k);
      const r = dma(gpa, payload);
      expect(isErrno(r) ? r : r.map((e) => e.type)).toContain("mm.phys.written");
      expect(vmm(va, 16)).toEqual(payload);
      // The second stage maps the gpa to the very frame behind the VMM's page.
      const t = translate(hw(), 0, { rid: NIC_RID, iova: gpa, length: 16, write: true });
      const pa = userVaToPa(m.state.mm, PID, va);
      expect(t).toEqual({ kind: "ok", runs: [{ pa: BigInt(pa as number), length: 16 }] });
    }
    // The NIC reads what the guest (the VMM) wrote.
    expect(m.env.user.write(hva + 0xb000_0000n, Uint8Array.of(0xde, 0xad, 0xbe, 0xef))).toBeUndefined();
    expect(dmaRead(hw(), 0, { rid: NIC_RID, iova: 0xb000_0000n, length: 4, write: false })).toEqual(
      Uint8Array.of(0xde, 0xad, 0xbe, 0xef),
    );

    const faultOf = (gpa: bigint, write: boolean) => {
      const t = translate(hw(), 0, { rid: NIC_RID, iova: gpa, length: 4, write });
      return (t as DmaFault).reason;
    };
    expect(faultOf(0xd000_0000n, true)).toBe(0x79); // the PCI hole: not mapped
    expect(faultOf(0xa_0000n, false)).toBe(0x79); // the VGA window
    expect(faultOf(0xd_0000n, true)).toBe(0x85); // the ROM shadow is read only…
    expect(dmaRead(hw(), 0, { rid: NIC_RID, iova: 0xd_0000n, length: 4, write: false })).toEqual(
      new Uint8Array(4), // …and readable (never written: zero)
    );
    expect(faultOf(1n << 57n, false)).toBe(0x83); // beyond the address width
    // A fault is also what the hardware records for the request.
    const hole = dma(0xd000_0000n, new Uint8Array(4));
    expect(isErrno(hole) ? hole : hole.map((e) => e.type)).toContain("vtd.fault.recorded");

    // Shutdown: UNMAP_ALL. Every page the NIC used faults again (the IOTLB was invalidated).
    const unmap = bytes(24, [
      [0, 4, 24],
      [4, 4, VFIO_DMA_UNMAP_FLAG_ALL],
    ]);
    expect(m.ioctl(container, VFIO_IOCTL.VFIO_IOMMU_UNMAP_DMA, unmap)).toBe(0);
    expect(view(unmap).getBigUint64(16, true)).toBe(4n * GiB - 0x2_0000n); // all but the VGA window
    for (const [gpa] of targets) expect(faultOf(gpa, true)).toBe(0x79);
    expect(faultOf(0xb000_0000n, false)).toBe(0x79);
    // The bytes the NIC wrote stay in the VMM's memory.
    expect(vmm(hva + 0x1000n, 1)).toEqual(Uint8Array.of(0x10));
  }, 120_000); // not a timing assertion: unmapping 4 GiB of VT-d 4 KiB PTEs takes seconds on a loaded 2-core box
});

describe("QEMU's iommufd backend (-object iommufd, -device vfio-pci,iommufd=…): the cdev path", () => {
  it("open /dev/iommu and /dev/vfio/devices/vfio1, BIND, IOAS_ALLOC, ATTACH, map guest RAM; DMA; DETACH faults", () => {
    // hw/vfio/iommufd.c iommufd_cdev_attach(): bind, then attach to an IOAS of the VM's; RAM mapped by
    // the listener with IOMMU_IOAS_MAP (FIXED_IOVA). A 64 MiB guest keeps it small.
    const m = new Machine(undefined, GiB);
    const iommufd = m.openIommufd(false);
    const file = m.open("/dev/vfio/devices/vfio1");
    if (isErrno(file)) throw new Error(`${file}`);
    expect(m.bind(file, iommufd)).toEqual([0, 1]);
    const ioas = m.ioasAlloc(iommufd);
    expect(m.attach(file, ioas)).toEqual([0, 3]); // the auto domain's HWPT id comes back in pt_id
    const ram = m.mmap(64n << 20n);
    const map = bytes(40, [
      [0, 4, 40],
      [4, 4, 7],
      [8, 4, ioas],
      [16, 8, ram],
      [24, 8, 64n << 20n],
      [32, 8, 0n],
    ]);
    expect(m.ioctl(iommufd, IOMMU_IOCTL.IOMMU_IOAS_MAP, map)).toBe(0);
    const payload = Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8);
    const r = m.log.dispatch({
      type: "vtd.dma",
      data: { unit: 0, rid: NIC_RID, iova: 0x20_1000n, length: 8, write: true, bytes: payload },
    });
    expect(isErrno(r)).toBe(false);
    expect(m.env.user.read(ram + 0x20_1000n, 8)).toEqual(payload);
    // DETACH_IOMMUFD_PT: the RID's scalable-mode PASID entry (RID_PASID) is cleared — 0x59 SPT.2
    // "PASID-table entry not present" — and the auto domain goes with its last device.
    expect(m.detach(file)).toBe(0);
    const t = translate(m.state as unknown as VtdRoot, 0, {
      rid: NIC_RID,
      iova: 0x20_1000n,
      length: 8,
      write: true,
    });
    expect((t as DmaFault).reason).toBe(0x59);
    expect(m.objects(iommufd)).toEqual({ 1: "device:nic0", 2: "ioas" });
  });
});
