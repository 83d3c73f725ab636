/**
 * Step 2: the guest of step 1 gets a nested VT-d first stage. The VMM
 * assigns accel0 to the guest through its cdev, /dev/vfio/devices/vfio0
 * (nesting needs the iommufd device API, which QEMU's iommufd backend
 * uses): VFIO_DEVICE_BIND_IOMMUFD to the container's own iommufd context
 * (/dev/vfio/vfio is an iommufd file), a NEST_PARENT HWPT over the compat
 * IOAS (the guest RAM as the second stage). The guest writes a 4-level
 * first-stage table (the x86-64 format, VT-d 4.1 §9.7) into its own RAM,
 * and the VMM hands its guest-physical address to IOMMU_HWPT_ALLOC with
 * IOMMU_HWPT_DATA_VTD_S1 (`struct iommu_hwpt_vtd_s1`) and attaches accel0
 * to it (VFIO_DEVICE_ATTACH_IOMMUFD_PT). accel0's DMA then goes through
 * both stages (§3.8 nested translation: every first-stage table read and
 * the result through the second stage). The guest remaps a page without
 * invalidating — the IOTLB keeps the stale translation — then invalidates
 * it, as a vIOMMU forwards the guest's invalidation, with
 * IOMMU_HWPT_INVALIDATE (`struct iommu_hwpt_vtd_s1_invalidate`, Linux
 * drivers/iommu/intel/nested.c intel_nested_cache_invalidate_user()), and
 * the fresh translation appears. accel0 then leaves the guest (its device
 * fd closed: unbound) for step 3's process.
 */
import { FL, flEntry, translate } from "@iommu-sim/hw-vtd";
import {
  IOMMU_HWPT_ALLOC_NEST_PARENT,
  IOMMU_HWPT_DATA_VTD_S1,
  IOMMU_HWPT_INVALIDATE_DATA_VTD_S1,
  IOMMU_IOCTL,
  iommuHwptAlloc,
  iommuHwptInvalidate,
  iommuHwptVtdS1,
  iommuHwptVtdS1Invalidate,
  isErrno,
  VFIO_IOCTL,
  vfioDeviceAttachIommufdPt,
  vfioDeviceBindIommufd,
} from "@iommu-sim/uapi";
import { type Account, hex, rcText } from "./account";
import { device, must } from "./fds";
import type { Guest } from "./step1-vfio-guest";
import { u64s, guestWrite as write } from "./vmm";
import { iotlbPageText, pasidEntryText } from "./vtd-text";

/** Where the guest keeps its first-stage tables: PML4, PDPT, PD, PT on consecutive pages (GPA). */
export const GUEST_PML4_GPA = 0x7000_0000n;
/** The guest IOVA accel0 is programmed with (PML4 index 0xfe, PDPT 0x48, PD 0x1a2, PT 0x167). */
export const GUEST_IOVA = 0x7f12_3456_7000n;
/** The guest's data pages: first mapped at IOVA, then the one it remaps to. */
export const GUEST_DATA_GPA = 0x2000_0000n;
export const GUEST_DATA2_GPA = 0x2000_1000n;
/** accel0's cdev: /dev/vfio/devices/vfio<N>, N its index in the platform's device list. */
export const ACCEL_CDEV = "/dev/vfio/devices/vfio0";

const DIR = FL.P | FL.RW | FL.US;
const u64 = (v: bigint) => u64s([v]);

/** The table indexes of a 4-level x86-64 walk of `iova`. */
const indexes = (iova: bigint) => [39n, 30n, 21n, 12n].map((s) => (iova >> s) & 511n);

/** Run step 2 on the guest, telling it on `account`. */
export function nestedVtd(guest: Guest, account: Account): void {
  account.step(2, "The guest gets a nested VT-d first stage; the accelerator DMAs through both stages");
  const { log, process: p, container } = guest;
  const accel = device("accel0");
  const guestWrite = (gpa: bigint, bytes: Uint8Array) => write(guest, gpa, bytes);

  const devFd = p.open(ACCEL_CDEV);
  if (isErrno(devFd)) throw new Error(`demo: open ${ACCEL_CDEV}: ${devFd}`);
  const bind = p.call(devFd, VFIO_IOCTL.VFIO_DEVICE_BIND_IOMMUFD, vfioDeviceBindIommufd, {
    iommufd: container,
  });
  const devId = bind.out.out_devid;
  const parent = p.call(container, IOMMU_IOCTL.IOMMU_HWPT_ALLOC, iommuHwptAlloc, {
    flags: IOMMU_HWPT_ALLOC_NEST_PARENT,
    dev_id: devId,
    pt_id: guest.ioas,
  });
  account.say(
    `open ${ACCEL_CDEV} (accel0, RID ${hex(accel.rid)}; fd ${devFd}): VFIO_DEVICE_BIND_IOMMUFD to the container's fd → ${rcText(bind.rc)}, device ${devId}; IOMMU_HWPT_ALLOC(NEST_PARENT) on the compat IOAS → ${rcText(parent.rc)}: HWPT ${parent.out.out_hwpt_id}, the guest RAM as the second stage`,
  );

  // The guest's first-stage table: PML4 → PDPT → PD → PT on consecutive pages, GUEST_IOVA → its data page.
  const [i4, i3, i2, i1] = indexes(GUEST_IOVA);
  const page = (n: bigint) => GUEST_PML4_GPA + n * 0x1000n;
  guestWrite(page(0n) + i4! * 8n, u64(flEntry(Number(page(1n) >> 12n), DIR)));
  guestWrite(page(1n) + i3! * 8n, u64(flEntry(Number(page(2n) >> 12n), DIR)));
  guestWrite(page(2n) + i2! * 8n, u64(flEntry(Number(page(3n) >> 12n), DIR)));
  const pte = page(3n) + i1! * 8n;
  guestWrite(pte, u64(flEntry(Number(GUEST_DATA_GPA >> 12n), DIR)));
  guestWrite(GUEST_DATA_GPA, new TextEncoder().encode("first page!"));
  guestWrite(GUEST_DATA2_GPA, new TextEncoder().encode("second page"));

  const s1 = iommuHwptVtdS1.encode({ flags: 0n, pgtbl_addr: GUEST_PML4_GPA, addr_width: 48 });
  const nested = p.call(container, IOMMU_IOCTL.IOMMU_HWPT_ALLOC, iommuHwptAlloc, {
    dev_id: devId,
    pt_id: parent.out.out_hwpt_id,
    data_type: IOMMU_HWPT_DATA_VTD_S1,
    data_len: s1.length,
    data_uptr: p.userBytes(s1),
  });
  const attach = p.call(devFd, VFIO_IOCTL.VFIO_DEVICE_ATTACH_IOMMUFD_PT, vfioDeviceAttachIommufdPt, {
    pt_id: nested.out.out_hwpt_id,
  });
  const ridPasidEntry = pasidEntryText(log.state.vtd.units.get(0), accel.rid, 0);
  account.say(
    `the guest writes a 4-level first-stage table at GPA ${hex(GUEST_PML4_GPA)} mapping IOVA ${hex(GUEST_IOVA)} → GPA ${hex(GUEST_DATA_GPA)}; IOMMU_HWPT_ALLOC(IOMMU_HWPT_DATA_VTD_S1, pgtbl_addr ${hex(GUEST_PML4_GPA)}) on HWPT ${parent.out.out_hwpt_id} → ${rcText(nested.rc)}: nested HWPT ${nested.out.out_hwpt_id}; VFIO_DEVICE_ATTACH_IOMMUFD_PT → ${rcText(attach.rc)} (accel0's RID_PASID entry: ${ridPasidEntry})`,
  );

  const read = (what: string) => {
    const req = { unit: 0, rid: accel.rid, iova: GUEST_IOVA, length: 11, write: false };
    const ev = must(log.dispatch({ type: "vtd.dma", data: req }), "accel0 read");
    const t = translate(log.state, 0, req);
    const pa = !isErrno(t) && t.kind === "ok" ? t.runs[0]!.pa : undefined;
    const bytes = pa === undefined ? undefined : log.state.mm.ram.read(Number(pa), 11);
    account.say(
      `accel0 DMA read at IOVA ${hex(GUEST_IOVA)} → PA ${pa === undefined ? "fault" : hex(pa)} (${iotlbPageText(ev)}): "${bytes === undefined ? "" : new TextDecoder().decode(bytes)}" — ${what}`,
    );
  };
  read(`through both stages: the guest's table → GPA ${hex(GUEST_DATA_GPA)}, the VMM's second stage → PA`);

  guestWrite(pte, u64(flEntry(Number(GUEST_DATA2_GPA >> 12n), DIR)));
  read(`stale: the guest pointed its PTE at GPA ${hex(GUEST_DATA2_GPA)} without invalidating`);

  const entry = iommuHwptVtdS1Invalidate.encode({ addr: GUEST_IOVA, npages: 1n, flags: 0 });
  const inv = p.call(container, IOMMU_IOCTL.IOMMU_HWPT_INVALIDATE, iommuHwptInvalidate, {
    hwpt_id: nested.out.out_hwpt_id,
    data_uptr: p.userBytes(entry),
    data_type: IOMMU_HWPT_INVALIDATE_DATA_VTD_S1,
    entry_len: entry.length,
    entry_num: 1,
  });
  read(
    `fresh, after IOMMU_HWPT_INVALIDATE (1 iommu_hwpt_vtd_s1_invalidate: addr ${hex(GUEST_IOVA)}, 1 page) → ${rcText(inv.rc)}, entry_num ${inv.out.entry_num}`,
  );

  p.close(devFd);
  account.say(
    `close(fd ${devFd}): accel0 leaves the guest — unbound, its PASID-table entry cleared — for step 3's process`,
  );
}
