/**
 * Step 4: the SMMUv3 GPU (gpu0, StreamID 0x8) does what steps 2 and 3 did
 * on VT-d. It cannot join step 1's x86 guest: the SMMU's software MSI
 * window (IOVA 0x8000000 + 1 MiB, Linux MSI_IOVA_BASE) is guest RAM there,
 * and attaching a device whose reserved region is mapped in the IOAS is
 * EADDRINUSE (io_pagetable.c iopt_table_enforce_dev_resv_regions()). So an
 * arm64 VMM (QEMU virt: RAM from GPA 1 GiB, clear of the window) takes it,
 * with QEMU's iommufd backend (hw/vfio/iommufd.c): /dev/iommu, an IOAS
 * mapping guest RAM (IOMMU_IOAS_MAP), gpu0's cdev bound to it, a stage-2
 * NEST_PARENT HWPT and a fault queue. The guest writes its own CD table
 * and a 4-level VMSAv8-64 stage-1 table into its RAM and gives the VMM its
 * STE words 0–1 (V, Config = stage 1, S1ContextPtr = the CD table's IPA,
 * EATS = translate), which the VMM installs as a nested HWPT
 * (IOMMU_HWPT_DATA_ARM_SMMUV3, `struct iommu_hwpt_arm_smmuv3`; Linux
 * arm-smmu-v3-iommufd.c) reporting to the fault queue
 * (IOMMU_HWPT_FAULT_ID_VALID). gpu0's DMA goes through both stages (Arm IHI
 * 0070 §3.3.2: the CD fetch and every stage-1 table read translated by
 * stage 2). Its write to a page the guest has not mapped is, with ATS +
 * PRI, a page request in the SMMU's PRI queue (§8) that reaches the VMM's
 * fault fd; the VMM has the guest map the page, answers SUCCESS
 * (CMD_PRI_RESP) and the retry lands.
 *
 * Deviation (iommufd's, see its smmu-nested.ts): Linux ≥ 6.13 allocates a
 * nested SMMUv3 HWPT on a vIOMMU object; vIOMMUs are not modelled, so the
 * NEST_PARENT HWPT is the parent.
 */

import type { LogRecord } from "@iommu-sim/eventlog";
import {
  decodeEvent,
  EATS,
  encodeCd,
  encodeSte,
  IOMMU_READ,
  IOMMU_WRITE,
  LINUX_MAIR,
  leafAttrs,
  STE_CFG,
} from "@iommu-sim/hw-smmu";
import { POLLIN } from "@iommu-sim/iommufd";
import {
  IOMMU_HWPT_ALLOC_NEST_PARENT,
  IOMMU_HWPT_DATA_ARM_SMMUV3,
  IOMMU_HWPT_FAULT_ID_VALID,
  IOMMU_IOCTL,
  IOMMUFD_PAGE_RESP_SUCCESS,
  iommuFaultAlloc,
  iommuHwptAlloc,
  iommuHwptArmSmmuv3,
  iommuHwptPageResponse,
  iommuHwptPgfault,
  isErrno,
  VFIO_IOCTL,
  vfioDeviceAttachIommufdPt,
  vfioDeviceBindIommufd,
} from "@iommu-sim/uapi";
import { type Account, hex, rcText, size } from "./account";
import { device, must, pciName, type SystemLog } from "./fds";
import { priRespText } from "./smmu-text";
import type { Guest } from "./step1-vfio-guest";
import { cstr, guestText, guestWrite, ioasRam, launchVmm, le32, u64s, type Vmm } from "./vmm";

/** The arm64 VMM's process id. */
export const ARM_VMM_PID = 3000;
/** Its guest RAM: 256 MiB at GPA 1 GiB (QEMU hw/arm/virt.c VIRT_MEM). */
export const ARM_RAM_GPA = 0x4000_0000n;
export const ARM_RAM_SIZE = 0x1000_0000n;
/** The guest's CD table (one CD, linear) and its stage-1 tables L0–L3 on the following pages (IPA). */
export const GUEST_CD_GPA = 0x4800_0000n;
const TABLE_GPA = (level: number) => GUEST_CD_GPA + 0x1000n * BigInt(level + 1);
/** The IOVA the guest's GPU driver uses (L0 0, L1 2, L2 0, L3 0, and 1 for the page it faults on). */
export const GPU_IOVA = 0x8000_0000n;
/** The guest page it maps there, and the page it maps after the fault. */
export const GPU_DATA_GPA = 0x4100_0000n;
export const GPU_DATA2_GPA = 0x4100_1000n;
/** The guest ASID of its CD. */
const GUEST_ASID = 1;

/** A VMSAv8-64 table descriptor (bits 1:0 = 0b11) and a stage-1 page descriptor with Linux's attributes (R/W, EL0). */
const tableDesc = (ipa: bigint) => ipa | 3n;
const pageDesc = (ipa: bigint) => ipa | 3n | BigInt(leafAttrs(1, IOMMU_READ | IOMMU_WRITE));

/** gpu0's group and cdev (/dev/vfio/devices/vfio<N>, N its index in the platform's device list). */
const GPU_CDEV = "/dev/vfio/devices/vfio2";

/** gpu0 tries the x86 guest through its group: the attach at GET_DEVICE_FD is refused; the group is closed again. */
function refusedByX86Guest(x86: Guest, account: Account): void {
  const gpu = device("gpu0");
  const p = x86.process;
  const path = `/dev/vfio/${gpu.group}`;
  const group = p.open(path);
  if (isErrno(group)) throw new Error(`demo: open ${path}: ${group}`);
  const set = p.ioctl(group, VFIO_IOCTL.VFIO_GROUP_SET_CONTAINER, le32(x86.container));
  const dev = p.ioctl(group, VFIO_IOCTL.VFIO_GROUP_GET_DEVICE_FD, cstr(pciName(gpu.rid)));
  p.close(group);
  account.say(
    `gpu0 (StreamID ${hex(gpu.rid)}) cannot join the x86 guest: ${path} VFIO_GROUP_SET_CONTAINER → ${rcText(set)}, VFIO_GROUP_GET_DEVICE_FD("${pciName(gpu.rid)}") → ${rcText(dev)} — the SMMU's software MSI window [0x8000000, 0x80fffff] is guest RAM there, mapped in the compat IOAS, so attaching gpu0 is refused; the group is closed again`,
  );
}

/** What the arm64 VMM holds for gpu0. */
interface GpuFds {
  readonly vmm: Vmm;
  readonly iommu: number;
  readonly ioas: number;
  readonly devFd: number;
  readonly devId: number;
  /** The NEST_PARENT (stage-2) HWPT. */
  readonly parent: number;
  readonly queue: { readonly out_fault_id: number; readonly out_fault_fd: number };
}

/** Run step 4, telling it on `account`. */
export function nestedSmmu(log: SystemLog, x86: Guest, account: Account): void {
  account.step(4, "The SMMUv3 GPU does the same: stage 1 + stage 2 nesting and a PRI fault");
  refusedByX86Guest(x86, account);
  const g = armGuest(log, account);
  guestStage1(g.vmm);
  nestedAttach(g, account);
  const first = gpuWrite(log, GPU_IOVA, "frame 0", false);
  const pa = first.find((r) => r.type === "mm.phys.written");
  account.say(
    `gpu0 DMA write at IOVA ${hex(GPU_IOVA)} → IPA ${hex(GPU_DATA_GPA)} → PA ${pa === undefined ? "?" : hex((pa.data as { pa: bigint }).pa)}: the VMM reads "${guestText(g.vmm, GPU_DATA_GPA, 7)}" at that guest page`,
  );
  nestedPri(g, account);
}

/** The arm64 VMM with the iommufd backend: guest RAM in an IOAS, gpu0's cdev bound, a stage-2 parent, a fault queue. */
function armGuest(log: SystemLog, account: Account): GpuFds {
  const vmm = launchVmm(log, ARM_VMM_PID, [{ gpa: ARM_RAM_GPA, size: ARM_RAM_SIZE }]);
  const p = vmm.process;
  const iommu = p.open("/dev/iommu");
  if (isErrno(iommu)) throw new Error(`demo: open /dev/iommu: ${iommu}`);
  const { ioas, rcs } = ioasRam(vmm, iommu);
  const devFd = p.open(GPU_CDEV);
  if (isErrno(devFd)) throw new Error(`demo: open ${GPU_CDEV}: ${devFd}`);
  const bind = p.call(devFd, VFIO_IOCTL.VFIO_DEVICE_BIND_IOMMUFD, vfioDeviceBindIommufd, { iommufd: iommu });
  const devId = bind.out.out_devid;
  const parent = p.call(iommu, IOMMU_IOCTL.IOMMU_HWPT_ALLOC, iommuHwptAlloc, {
    flags: IOMMU_HWPT_ALLOC_NEST_PARENT,
    dev_id: devId,
    pt_id: ioas,
  });
  const queue = p.call(iommu, IOMMU_IOCTL.IOMMU_FAULT_QUEUE_ALLOC, iommuFaultAlloc, {});
  account.say(
    `an arm64 VMM (pid ${ARM_VMM_PID}, QEMU virt layout, iommufd backend) opens /dev/iommu (fd ${iommu}): IOAS ${ioas}, IOMMU_IOAS_MAP of ${size(ARM_RAM_SIZE)} of guest RAM at IOVA ${hex(ARM_RAM_GPA)} → ${rcText(rcs[0]!)}; ${GPU_CDEV} (fd ${devFd}): VFIO_DEVICE_BIND_IOMMUFD → ${rcText(bind.rc)}, device ${devId}; IOMMU_HWPT_ALLOC(NEST_PARENT) → ${rcText(parent.rc)}: HWPT ${parent.out.out_hwpt_id} (stage 2); IOMMU_FAULT_QUEUE_ALLOC → fault object ${queue.out.out_fault_id}, fd ${queue.out.out_fault_fd}`,
  );
  return { vmm, iommu, ioas, devFd, devId, parent: parent.out.out_hwpt_id, queue: queue.out };
}

/** Index of `iova` in a table whose entries span 2^`shift` bytes (4 KiB granule: 9 bits per level). */
const idx = (iova: bigint, shift: bigint) => (iova >> shift) & 511n;

/** The guest's stage 1 in its RAM: CD 0 (48-bit, 4 KiB granule, TTB0 = L0) and L0 → L1 → L2 → L3 → its data page. */
function guestStage1(vmm: Vmm): void {
  const cd = encodeCd({
    t0sz: 16,
    tg0: 0,
    epd1: true,
    v: true,
    ips: 5,
    aa64: true,
    r: true,
    a: true,
    aset: true,
    asid: GUEST_ASID,
    ttb0: Number(TABLE_GPA(0)),
    mair: LINUX_MAIR,
  });
  guestWrite(vmm, GUEST_CD_GPA, u64s(cd));
  guestWrite(vmm, TABLE_GPA(0) + idx(GPU_IOVA, 39n) * 8n, u64s([tableDesc(TABLE_GPA(1))]));
  guestWrite(vmm, TABLE_GPA(1) + idx(GPU_IOVA, 30n) * 8n, u64s([tableDesc(TABLE_GPA(2))]));
  guestWrite(vmm, TABLE_GPA(2) + idx(GPU_IOVA, 21n) * 8n, u64s([tableDesc(TABLE_GPA(3))]));
  guestWrite(vmm, TABLE_GPA(3) + idx(GPU_IOVA, 12n) * 8n, u64s([pageDesc(GPU_DATA_GPA)]));
}

/** The guest's STE as a nested HWPT reporting to the fault queue, and gpu0 attached to it. */
function nestedAttach(g: GpuFds, account: Account): void {
  const p = g.vmm.process;
  const ste = encodeSte({
    v: true,
    config: STE_CFG.S1_TRANS,
    s1fmt: 0,
    s1ContextPtr: Number(GUEST_CD_GPA),
    s1cdmax: 0,
    eats: EATS.TRANS,
  });
  const data = iommuHwptArmSmmuv3.encode({ ste: [ste[0]!, ste[1]!] });
  const nested = p.call(g.iommu, IOMMU_IOCTL.IOMMU_HWPT_ALLOC, iommuHwptAlloc, {
    flags: IOMMU_HWPT_FAULT_ID_VALID,
    dev_id: g.devId,
    pt_id: g.parent,
    data_type: IOMMU_HWPT_DATA_ARM_SMMUV3,
    data_len: data.length,
    data_uptr: p.userBytes(data),
    fault_id: g.queue.out_fault_id,
  });
  const attach = p.call(g.devFd, VFIO_IOCTL.VFIO_DEVICE_ATTACH_IOMMUFD_PT, vfioDeviceAttachIommufdPt, {
    pt_id: nested.out.out_hwpt_id,
  });
  account.say(
    `the guest writes CD 0 (ASID ${GUEST_ASID}, TTB0 ${hex(TABLE_GPA(0))}) at IPA ${hex(GUEST_CD_GPA)} and a 4-level stage 1 mapping IOVA ${hex(GPU_IOVA)} → IPA ${hex(GPU_DATA_GPA)}; IOMMU_HWPT_ALLOC(IOMMU_HWPT_DATA_ARM_SMMUV3: STE Config stage 1, S1ContextPtr ${hex(GUEST_CD_GPA)}, EATS translate, FAULT_ID_VALID) → ${rcText(nested.rc)}: nested HWPT ${nested.out.out_hwpt_id}; VFIO_DEVICE_ATTACH_IOMMUFD_PT → ${rcText(attach.rc)}: gpu0's STE is now stage 1 + stage 2`,
  );
}

/** gpu0 writes `text` at `iova`; with `pri` it uses ATS (a Translation Request first) and PRI (a page request when that faults). */
function gpuWrite(log: SystemLog, iova: bigint, text: string, pri: boolean): readonly LogRecord[] {
  return must(
    log.dispatch({
      type: "smmu.dma",
      data: {
        instance: 0,
        sid: device("gpu0").rid,
        iova,
        length: text.length,
        write: true,
        bytes: new TextEncoder().encode(text),
        ...(pri ? { ats: true, pri: true } : {}),
      },
    }),
    "gpu0 DMA",
  );
}

/**
 * gpu0's ATS + PRI write to a page the guest has not mapped: the page
 * request through the VMM's fault fd, the guest maps it, SUCCESS
 * (CMD_PRI_RESP), the retry. Says what came instead when no page request did.
 */
function nestedPri(g: GpuFds, account: Account): void {
  const { vmm } = g;
  const { log, process: p } = vmm;
  const missing = GPU_IOVA + 0x1000n;
  const miss = gpuWrite(log, missing, "frame 1", true);
  if (!miss.some((r) => r.type === "smmu.pri.queued")) {
    const ev = miss.find((r) => r.type === "smmu.event.queued");
    const id = ev === undefined ? undefined : decodeEvent((ev.data as { record: bigint[] }).record).id;
    account.say(
      `gpu0 DMA write with ATS + PRI at IOVA ${hex(missing)} (no stage-1 entry) → no page request: ${id === undefined ? "no event either" : `event ${hex(id)}`}`,
    );
    return;
  }
  account.say(
    `gpu0 DMA write with ATS + PRI at IOVA ${hex(missing)} (no stage-1 entry) → its Translation Request faults, so the device sends a page request in the PRI queue`,
  );
  const fd = g.queue.out_fault_fd;
  const pollin = (p.poll(fd) & POLLIN) !== 0;
  const read = p.read(fd, iommuHwptPgfault.size * 4);
  if (isErrno(read) || read.length === 0) {
    account.say(
      `poll(fd ${fd}) → ${pollin ? "POLLIN" : "nothing"}; read → ${isErrno(read) ? read.name : "0 bytes"}`,
    );
    return;
  }
  const rec = iommuHwptPgfault.decode(read);
  guestWrite(vmm, TABLE_GPA(3) + idx(missing, 12n) * 8n, u64s([pageDesc(GPU_DATA2_GPA)]));
  const wrote = p.write(
    fd,
    iommuHwptPageResponse.encode({ cookie: rec.cookie, code: IOMMUFD_PAGE_RESP_SUCCESS }),
  );
  account.say(
    `poll(fd ${fd}) → ${pollin ? "POLLIN" : "no POLLIN"}; read → dev_id ${rec.dev_id}, grpid ${rec.grpid}, addr ${hex(rec.addr)}, cookie ${rec.cookie}; the VMM injects it into the guest, the guest maps IPA ${hex(GPU_DATA2_GPA)} there, and the VMM writes {cookie ${rec.cookie}, SUCCESS} → ${isErrno(wrote) ? wrote.name : `${wrote} bytes`} (CMD_PRI_RESP${priResponse(log, device("gpu0").rid, rec.grpid)})`,
  );
  const landed = gpuWrite(log, missing, "frame 1", true).find((r) => r.type === "mm.phys.written");
  account.say(
    `gpu0 retries at IOVA ${hex(missing)} → ${landed === undefined ? "fault again" : `PA ${hex((landed.data as { pa: bigint }).pa)}; the VMM reads "${guestText(vmm, GPU_DATA2_GPA, 7)}" at IPA ${hex(GPU_DATA2_GPA)}`}`,
  );
}

/** The last CMD_PRI_RESP the SMMU delivered for StreamID `sid`'s group `grpid`, as text. */
function priResponse(log: SystemLog, sid: number, grpid: number): string {
  const r = log.state.smmu.instances.get(0)?.priResponses.findLast((x) => x.sid === sid && x.grpid === grpid);
  return r === undefined ? "" : `: ${priRespText(r.resp)} to StreamID ${hex(sid)} group ${grpid}`;
}
