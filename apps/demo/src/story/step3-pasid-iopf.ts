/**
 * Step 3: a process allocates PASIDs through /dev/ioasid within its quota,
 * binds the accelerator with SVA, and the accelerator's DMA with that
 * PASID faults on an unmapped page; the fault goes through the page
 * request queue to the fault queue, is resolved and retried.
 *
 * PASIDs come from /dev/ioasid (the 2021 RFC, seeds/000) charged to the
 * process's misc-cgroup quota; the SVA bond's PASID (Linux
 * iommu_sva_bind_device(), one PASID per mm) is charged there too. The bind
 * programs VT-d as Linux's intel driver does (svm.c intel_svm_set_dev_pasid(),
 * pasid.c intel_pasid_setup_first_level()): an SVA domain over the
 * process's x86-64 page table in RAM, and accel0's PASID-table entry at the
 * mm's PASID with PGTT = first-stage only and FLPTR = the mm's pgd. The
 * process then maps a buffer and touches some of its pages; accel0's DMA
 * with the SVA PASID walks the CPU page table, a page the process never
 * touched is not present, so the unit writes a page request (VT-d 4.1
 * §7.5) that the driver reports to the SVA domain's fault queue
 * (io-pgfault.c iommu_report_device_fault()); the iopf workqueue
 * (`sva.iopf.handle`: iommu_sva_handle_mm() → handle_mm_fault()) faults the
 * page in and answers with a page group response (Success), and the
 * retried write lands in the process's own memory.
 *
 * The same process then shows the user-space IOPF path of iommufd for an
 * IO address space of its own at its first /dev/ioasid PASID: it opens
 * /dev/iommu and accel0's cdev (VFIO_DEVICE_BIND_IOMMUFD), allocates a
 * fault queue (IOMMU_FAULT_QUEUE_ALLOC) and a HWPT on its IOAS that reports
 * to it (IOMMU_HWPT_FAULT_ID_VALID | IOMMU_HWPT_ALLOC_PASID), attaches
 * accel0 at that PASID (VFIO_DEVICE_ATTACH_IOMMUFD_PT with
 * VFIO_DEVICE_ATTACH_PASID), and handles the fault itself
 * (drivers/iommu/iommufd/eventq.c): poll, read(2) of `struct
 * iommu_hwpt_pgfault`, map the page, write(2) of `struct
 * iommu_hwpt_page_response`.
 */
import { ioasidIoctl } from "@iommu-sim/ioasid";
import { POLLIN } from "@iommu-sim/iommufd";
import {
  IOASID_IOCTL,
  IOMMU_HWPT_ALLOC_PASID,
  IOMMU_HWPT_FAULT_ID_VALID,
  IOMMU_IOAS_MAP_FIXED_IOVA,
  IOMMU_IOAS_MAP_READABLE,
  IOMMU_IOAS_MAP_WRITEABLE,
  IOMMU_IOCTL,
  IOMMUFD_PAGE_RESP_SUCCESS,
  ioasidAllocRequest,
  iommuFaultAlloc,
  iommuHwptAlloc,
  iommuHwptPageResponse,
  iommuHwptPgfault,
  iommuIoasAlloc,
  iommuIoasMap,
  isErrno,
  VFIO_DEVICE_ATTACH_PASID,
  VFIO_IOCTL,
  vfioDeviceAttachIommufdPt,
  vfioDeviceBindIommufd,
} from "@iommu-sim/uapi";
import { type Account, hex, rcText } from "./account";
import { dataOf, device, must, Process, type SystemLog } from "./fds";
import { ACCEL_CDEV } from "./step2-nested-vtd";
import { svaFault } from "./step3-sva";
import { faultText, groupResponseText, pasidEntryText } from "./vtd-text";

/** The accelerator user's process id. */
export const APP_PID = 2000;
/** Its misc cgroup (`ioasid` resource) and the PASIDs it may hold. */
export const APP_CGROUP = 1;
export const APP_PASID_MAX = 3;
/** The IOVA the process maps its work buffer at, and the buffer's length (8 pages of 4 KiB). */
export const WORK_IOVA = 0x10_0000n;
export const WORK_LENGTH = 0x8000n;
/** The page the accelerator touches before the process mapped it. */
export const MISSING_IOVA = WORK_IOVA + 0x6000n;

/** What step 3 saw. */
export interface PasidFault {
  /** PASIDs from IOASID_REQUEST_ALLOC, in order. */
  readonly pasids: readonly number[];
  /** The SVA bond's PASID. */
  readonly svaPasid: number;
  /** IOASID_REQUEST_ALLOC's return over the quota (−EINVAL). */
  readonly overQuota: number;
  /** What the process read back from the page the accelerator's retried SVA write landed in. */
  readonly svaReadBack: string;
}

/** Run step 3 on `log`, telling it on `account`. */
export function pasidIopf(log: SystemLog, account: Account): PasidFault {
  account.step(
    3,
    "A process takes PASIDs from /dev/ioasid within its quota, binds the accelerator with SVA, and a DMA with its PASID page-faults",
  );
  const accel = device("accel0");
  must(log.dispatch({ type: "mm.spawn", data: { pid: APP_PID } }), "spawn");
  must(
    log.dispatch({
      type: "ioasid.cgroup.create",
      data: { cgroup: APP_CGROUP, parent: 0, max: APP_PASID_MAX },
    }),
    "cgroup",
  );
  must(
    log.dispatch({ type: "ioasid.cgroup.attach", data: { pid: APP_PID, cgroup: APP_CGROUP } }),
    "cgroup attach",
  );
  const opened = must(log.dispatch({ type: "ioasid.open", data: { pid: APP_PID } }), "open /dev/ioasid");
  const fd = dataOf<{ fd: number }>(opened, "ioasid.opened").fd;
  const alloc = () =>
    ioasidIoctl(
      log as never,
      APP_PID,
      fd,
      IOASID_IOCTL.IOASID_REQUEST_ALLOC,
      ioasidAllocRequest.encode({ argsz: ioasidAllocRequest.size, range: { min: 1, max: (1 << 20) - 1 } }),
    );
  const pasids = [alloc(), alloc()];
  account.say(
    `process ${APP_PID} in a misc cgroup with ioasid.max ${APP_PASID_MAX}: open /dev/ioasid, IOASID_REQUEST_ALLOC ×2 → PASID ${pasids.join(", PASID ")}`,
  );
  const bound = must(
    log.dispatch({ type: "sva.bind", data: { pid: APP_PID, rid: accel.rid, flags: 0 } }),
    "SVA bind",
  );
  const svaPasid = dataOf<{ pasid: number }>(bound, "sva.bound").pasid;
  const overQuota = alloc();
  account.say(
    `SVA bind of accel0 (RID ${hex(accel.rid)}) to the process's address space → PASID ${svaPasid} (the mm's PASID, charged to the same quota); one more IOASID_REQUEST_ALLOC → ${rcText(overQuota)} (quota ${APP_PASID_MAX} of ${APP_PASID_MAX} used)`,
  );

  const svaReadBack = svaFault(log, account, { pid: APP_PID, rid: accel.rid, pasid: svaPasid });

  const pasid = pasids[0]!;
  const app = new Process(log, APP_PID);
  const iommu = app.open("/dev/iommu");
  if (isErrno(iommu)) throw new Error(`demo: open /dev/iommu: ${iommu}`);
  const ioas = app.call(iommu, IOMMU_IOCTL.IOMMU_IOAS_ALLOC, iommuIoasAlloc, {}).out.out_ioas_id;
  const buf = dataOf<{ addr: bigint }>(
    must(
      log.dispatch({ type: "mm.mmap", data: { pid: APP_PID, length: WORK_LENGTH, prot: 3, shared: true } }),
      "mmap",
    ),
    "mm.mapped",
  ).addr;
  const mapPages = (offset: bigint, length: bigint) =>
    app.call(iommu, IOMMU_IOCTL.IOMMU_IOAS_MAP, iommuIoasMap, {
      flags: IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE,
      ioas_id: ioas,
      user_va: buf + offset,
      length,
      iova: WORK_IOVA + offset,
    }).rc;
  const mapped = mapPages(0n, 0x4000n);
  const queue = app.call(iommu, IOMMU_IOCTL.IOMMU_FAULT_QUEUE_ALLOC, iommuFaultAlloc, {});
  const faultFd = queue.out.out_fault_fd;
  account.say(
    `for an IO address space of its own at PASID ${pasid} (its first /dev/ioasid PASID), handled in user space, the process opens /dev/iommu (fd ${iommu}): IOAS ${ioas}; IOMMU_IOAS_MAP of the first 16 KiB of a 32 KiB buffer at IOVA ${hex(WORK_IOVA)} → ${rcText(mapped)}; IOMMU_FAULT_QUEUE_ALLOC → ${rcText(queue.rc)}: fault object ${queue.out.out_fault_id}, fd ${faultFd}`,
  );

  const devFd = app.open(ACCEL_CDEV);
  if (isErrno(devFd)) throw new Error(`demo: open ${ACCEL_CDEV}: ${devFd}`);
  const bind = app.call(devFd, VFIO_IOCTL.VFIO_DEVICE_BIND_IOMMUFD, vfioDeviceBindIommufd, {
    iommufd: iommu,
  });
  const devId = bind.out.out_devid;
  const hwpt = app.call(iommu, IOMMU_IOCTL.IOMMU_HWPT_ALLOC, iommuHwptAlloc, {
    flags: IOMMU_HWPT_FAULT_ID_VALID | IOMMU_HWPT_ALLOC_PASID,
    dev_id: devId,
    pt_id: ioas,
    fault_id: queue.out.out_fault_id,
  });
  const attach = app.call(devFd, VFIO_IOCTL.VFIO_DEVICE_ATTACH_IOMMUFD_PT, vfioDeviceAttachIommufdPt, {
    flags: VFIO_DEVICE_ATTACH_PASID,
    pt_id: hwpt.out.out_hwpt_id,
    pasid,
  });
  const entry = pasidEntryText(log.state.vtd.units.get(0), accel.rid, pasid);
  account.say(
    `open ${ACCEL_CDEV} (fd ${devFd}): VFIO_DEVICE_BIND_IOMMUFD → ${rcText(bind.rc)}, device ${devId}; IOMMU_HWPT_ALLOC(FAULT_ID_VALID | PASID, fault object ${queue.out.out_fault_id}) on the IOAS → ${rcText(hwpt.rc)}: HWPT ${hwpt.out.out_hwpt_id}; VFIO_DEVICE_ATTACH_IOMMUFD_PT(PASID ${pasid}) → ${rcText(attach.rc)}: the PASID-table entry of PASID ${pasid}: ${entry}`,
  );

  const dma = (iova: bigint) =>
    must(
      log.dispatch({
        type: "vtd.dma",
        data: {
          unit: 0,
          rid: accel.rid,
          pasid,
          iova,
          length: 8,
          write: true,
          bytes: new TextEncoder().encode("result!!"),
        },
      }),
      "accel0 DMA",
    );
  const hit = dma(WORK_IOVA);
  account.say(
    `accel0 DMA write with PASID ${pasid} at IOVA ${hex(WORK_IOVA)} → PA ${hex(dataOf<{ pa: bigint }>(hit, "mm.phys.written").pa)}`,
  );
  const miss = dma(MISSING_IOVA);
  const faultKobj = log.state.iommufd.contexts[app.ctxOf(iommu)]?.objects[queue.out.out_fault_id]?.kobj ?? -1;
  const pending = log.state.iommufd.faults?.[faultKobj]?.deliver.length ?? 0;
  account.say(
    `accel0 DMA write with PASID ${pasid} at IOVA ${hex(MISSING_IOVA)} (not mapped yet) → ${faultText(miss)}; the VT-d driver takes it off the queue and reports it to the HWPT's fault object: ${pending} group(s) pending there`,
  );

  // The process's fault handler: poll, read the group, map the page, answer, and the device retries.
  const pollin = (app.poll(faultFd) & POLLIN) !== 0;
  const read = app.read(faultFd, iommuHwptPgfault.size * 4);
  if (isErrno(read) || read.length === 0) {
    account.say(
      `poll(fd ${faultFd}) → ${pollin ? "POLLIN" : "nothing to read"}; read → ${isErrno(read) ? read.name : "0 bytes"}`,
    );
    return { pasids, svaPasid, overQuota, svaReadBack };
  }
  const rec = iommuHwptPgfault.decode(read);
  account.say(
    `poll(fd ${faultFd}) → ${pollin ? "POLLIN" : "no POLLIN"}; read → ${read.length / iommuHwptPgfault.size} struct iommu_hwpt_pgfault: dev_id ${rec.dev_id}, PASID ${rec.pasid}, grpid ${rec.grpid}, perm ${rec.perm & 2 ? "write" : "read"}, addr ${hex(rec.addr)}, cookie ${rec.cookie}`,
  );
  const offset = rec.addr - WORK_IOVA;
  const fixed = mapPages(offset, WORK_LENGTH - offset);
  const wrote = app.write(
    faultFd,
    iommuHwptPageResponse.encode({ cookie: rec.cookie, code: IOMMUFD_PAGE_RESP_SUCCESS }),
  );
  account.say(
    `the process maps its buffer from the faulting page on at IOVA ${hex(rec.addr)} (IOMMU_IOAS_MAP → ${rcText(fixed)}) and writes struct iommu_hwpt_page_response {cookie ${rec.cookie}, SUCCESS} → ${isErrno(wrote) ? wrote.name : `${wrote} bytes`}: ${groupResponseText(log.state.vtd.units.get(0), accel.rid, rec.grpid)}`,
  );
  const retry = dma(MISSING_IOVA);
  const landed = retry.find((r) => r.type === "mm.phys.written");
  account.say(
    `accel0 retries the write at IOVA ${hex(MISSING_IOVA)} → ${landed === undefined ? faultText(retry) : `PA ${hex((landed.data as { pa: bigint }).pa)}`}`,
  );
  return { pasids, svaPasid, overQuota, svaReadBack };
}
