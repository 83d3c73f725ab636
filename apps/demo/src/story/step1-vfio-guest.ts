/**
 * Step 1: a VMM assigns the NIC through the VFIO container and maps a
 * QEMU-style 4 GiB guest; the NIC DMAs guest memory through VT-d.
 *
 * The VMM's sequence is QEMU's hw/vfio/container.c on the legacy
 * container API: open /dev/vfio/vfio, VFIO_GET_API_VERSION,
 * VFIO_CHECK_EXTENSION(TYPE1v2), open the NIC's group /dev/vfio/2,
 * VFIO_GROUP_SET_CONTAINER, VFIO_SET_IOMMU(TYPE1v2), VFIO_IOMMU_GET_INFO,
 * VFIO_IOMMU_MAP_DMA per RAM block — guest RAM is one 4 GiB host mapping,
 * its first 3 GiB at IOVA (= guest-physical address) 0, below the 32-bit
 * PCI hole, the last GiB at 4 GiB (hw/i386/pc.c's below/above-4G split) —
 * then VFIO_GROUP_GET_DEVICE_FD. The container is iommufd's
 * (drivers/iommu/iommufd/vfio_compat.c): SET_CONTAINER creates the
 * context's compat IOAS, and the device is bound and attached to it at
 * GET_DEVICE_FD — so the usable IOVA ranges QEMU reads right after
 * SET_IOMMU do not yet exclude the device's reserved MSI window; they do
 * once the device is open.
 */
import { dmaRead, translate } from "@iommu-sim/hw-vtd";
import {
  decodeVfioCapChain,
  IOMMU_IOCTL,
  IOMMU_VFIO_IOAS_GET,
  iommuVfioIoas,
  isErrno,
  VFIO_EXTENSION,
  VFIO_IOCTL,
  VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE,
  VFIO_TYPE1v2_IOMMU,
  vfioIommuType1Info,
} from "@iommu-sim/uapi";
import { type Account, hex, rcText, size } from "./account";
import { device, must, type Process, pciName, type SystemLog } from "./fds";
import { cstr, gpaToVa, guestText, guestWrite, launchVmm, le32, mapDmaRam, type Vmm } from "./vmm";
import { faultText, iotlbPageText, pasidEntryText } from "./vtd-text";

const GiB = 1n << 30n;
/** The VMM's process id. */
export const VMM_PID = 1000;
/** Guest RAM below the PCI hole: [0, 3 GiB) (QEMU pc: lowmem 3 GiB for a 4 GiB guest). */
export const LOW_RAM = 3n * GiB;
/** Guest RAM above 4 GiB: the 4th GiB of the host mapping, at GPA [4 GiB, 5 GiB). */
export const HIGH_RAM = GiB;
/** Where the guest's NIC driver put a receive buffer (GPA, above 4 GiB). */
export const RX_BUFFER_GPA = 4n * GiB + 0x1234_5000n;
/** Where the guest's NIC driver put a transmit descriptor (GPA, below the hole). */
export const TX_DESC_GPA = 0x10_0000n;

/** The x86 guest of steps 1 and 2. */
export interface Guest extends Vmm {
  /** The VMM's /dev/vfio/vfio fd and its iommufd context. */
  readonly container: number;
  readonly ctx: number;
  /** The container's compat IOAS (its id in the context). */
  readonly ioas: number;
}

/** Run step 1 on `log`, telling it on `account`. */
export function vfioGuest(log: SystemLog, account: Account): Guest {
  account.step(1, "A VMM assigns the NIC through the VFIO container (type1v2) and maps a 4 GiB guest");
  const nic = device("nic0");
  const vmm = launchVmm(log, VMM_PID, [
    { gpa: 0n, size: LOW_RAM },
    { gpa: 4n * GiB, size: HIGH_RAM },
  ]);
  const p = vmm.process;
  account.say(
    `VMM (pid ${VMM_PID}) mmaps 4 GiB of guest RAM at VA ${hex(vmm.ram[0]!.va)} (after touching ${size(vmm.pad)} of its own memory, so that the guest's frames start 2 MiB-aligned as hugepage-backed RAM would)`,
  );
  const container = opened(p.open("/dev/vfio/vfio"), "/dev/vfio/vfio");
  const ctx = p.ctxOf(container);
  const api = p.ioctl(container, VFIO_IOCTL.VFIO_GET_API_VERSION);
  const v2 = p.ioctlInt(container, VFIO_IOCTL.VFIO_CHECK_EXTENSION, VFIO_EXTENSION.VFIO_TYPE1v2_IOMMU);
  const groupPath = `/dev/vfio/${nic.group}`;
  const group = opened(p.open(groupPath), groupPath);
  const set = p.ioctl(group, VFIO_IOCTL.VFIO_GROUP_SET_CONTAINER, le32(container));
  const ioas = p.call(container, IOMMU_IOCTL.IOMMU_VFIO_IOAS, iommuVfioIoas, { op: IOMMU_VFIO_IOAS_GET }).out
    .ioas_id;
  account.say(
    `open /dev/vfio/vfio (fd ${container}, iommufd context ${ctx}): VFIO_GET_API_VERSION → ${rcText(api)}, CHECK_EXTENSION(TYPE1v2) → ${rcText(v2)}; open ${groupPath} (nic0's IOMMU group, fd ${group}): VFIO_GROUP_SET_CONTAINER → ${rcText(set)} — the container's compat IOAS ${ioas}`,
  );
  const setIommu = p.ioctlInt(container, VFIO_IOCTL.VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU);
  // QEMU asks right after SET_IOMMU; whether nic0's reserved regions show yet depends on when the group path attaches it.
  const early = iovaRangesText(p, container);
  account.say(
    `VFIO_SET_IOMMU(TYPE1v2) → ${rcText(setIommu)}; ${early}${early.endsWith(WHOLE_SPACE) ? " — nic0 is not attached yet, so its reserved MSI window is not excluded" : " — the hole is the interrupt window VT-d reserves for nic0"}`,
  );

  // Guest RAM around the PCI hole, as QEMU's memory listener maps it.
  const [low, high] = mapDmaRam(vmm, container);
  account.say(
    `VFIO_IOMMU_MAP_DMA VA ${hex(vmm.ram[0]!.va)} → IOVA [0, ${hex(LOW_RAM)}) (${size(LOW_RAM)} below the PCI hole): ${rcText(low!)}; VA ${hex(vmm.ram[1]!.va)} → IOVA [${hex(4n * GiB)}, ${hex(4n * GiB + HIGH_RAM)}) (${size(HIGH_RAM)} above 4 GiB): ${rcText(high!)}`,
  );
  const devFd = p.ioctl(group, VFIO_IOCTL.VFIO_GROUP_GET_DEVICE_FD, cstr(pciName(nic.rid)));
  const entry = pasidEntryText(log.state.vtd.units.get(0), nic.rid, 0);
  const late = iovaRangesText(p, container);
  account.say(
    `VFIO_GROUP_GET_DEVICE_FD("${pciName(nic.rid)}") → fd ${rcText(devFd)}: nic0 (RID ${hex(nic.rid)}) is bound to the context and attached to the compat IOAS: a VT-d domain filled with the guest RAM, its RID_PASID entry ${entry}${late === early ? "" : `; now ${late}`}`,
  );

  const guest = { ...vmm, container, ctx, ioas };
  nicDma(guest, account);
  return guest;
}

/** `fd`, or a demo bug. */
function opened(fd: number | { toString(): string }, path: string): number {
  if (typeof fd !== "number") throw new Error(`demo: open ${path}: ${fd.toString()}`);
  return fd;
}

/** The IOVA_RANGE list of an IOAS with no reserved region and no domain: the whole 64-bit space. */
const WHOLE_SPACE = "[0x0, 0xffffffffffffffff]";

/** VFIO_IOMMU_GET_INFO as QEMU asks it (the size first, then the chain): the usable IOVA ranges. */
function iovaRangesText(p: Process, container: number): string {
  const probe = vfioIommuType1Info.encode({ argsz: vfioIommuType1Info.size });
  p.ioctl(container, VFIO_IOCTL.VFIO_IOMMU_GET_INFO, probe);
  const argsz = vfioIommuType1Info.decode(probe).argsz;
  const info = new Uint8Array(argsz);
  vfioIommuType1Info.encodeInto({ argsz }, info);
  const rc = p.ioctl(container, VFIO_IOCTL.VFIO_IOMMU_GET_INFO, info);
  const caps = decodeVfioCapChain(info, vfioIommuType1Info.decode(info).cap_offset);
  const ranges = isErrno(caps) ? undefined : caps.find((c) => c.id === VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE);
  if (ranges === undefined) return `VFIO_IOMMU_GET_INFO → ${rcText(rc)}, no IOVA ranges`;
  const v = new DataView(ranges.body.buffer, ranges.body.byteOffset, ranges.body.byteLength);
  const n = v.getUint32(0, true);
  const list = Array.from(
    { length: n },
    (_, i) => `[${hex(v.getBigUint64(8 + 16 * i, true))}, ${hex(v.getBigUint64(16 + 16 * i, true))}]`,
  );
  return `VFIO_IOMMU_GET_INFO → ${rcText(rc)}: usable IOVA ${list.join(" ")}`;
}

/** The NIC reads a descriptor below the hole, writes a packet above 4 GiB, and hits the hole. */
function nicDma(guest: Guest, account: Account): void {
  const { log } = guest;
  const nic = device("nic0");
  // The guest driver writes a transmit descriptor into its RAM (the VMM's memory).
  const desc = new TextEncoder().encode("TX: 64 bytes @ 0x1_1234_5000");
  guestWrite(guest, TX_DESC_GPA, desc);

  const readReq = { unit: 0, rid: nic.rid, iova: TX_DESC_GPA, length: desc.length, write: false };
  const rd = must(log.dispatch({ type: "vtd.dma", data: readReq }), "NIC read");
  const t = translate(log.state, 0, readReq);
  const got = dmaRead(log.state, 0, readReq);
  account.say(
    `NIC DMA read of ${desc.length} bytes at IOVA ${hex(TX_DESC_GPA)} → ${!isErrno(t) && t.kind === "ok" ? `PA ${hex(t.runs[0]!.pa)}` : "fault"} (${iotlbPageText(rd)}): "${got instanceof Uint8Array ? new TextDecoder().decode(got) : "?"}"`,
  );

  const packet = new TextEncoder().encode("hello from the wire");
  const wr = must(
    log.dispatch({
      type: "vtd.dma",
      data: { unit: 0, rid: nic.rid, iova: RX_BUFFER_GPA, length: packet.length, write: true, bytes: packet },
    }),
    "NIC write",
  );
  const pa = (wr.find((r) => r.type === "mm.phys.written")?.data as { pa: bigint } | undefined)?.pa;
  account.say(
    `NIC DMA write of ${packet.length} bytes at IOVA ${hex(RX_BUFFER_GPA)} (above 4 GiB) → PA ${pa === undefined ? "?" : hex(pa)}; the VMM reads at VA ${hex(gpaToVa(guest, RX_BUFFER_GPA))}: "${guestText(guest, RX_BUFFER_GPA, packet.length)}"`,
  );

  const hole = 0xc000_0000n;
  const bad = must(
    log.dispatch({
      type: "vtd.dma",
      data: { unit: 0, rid: nic.rid, iova: hole, length: 4, write: true, bytes: Uint8Array.of(1, 2, 3, 4) },
    }),
    "NIC write to the hole",
  );
  account.say(
    `NIC DMA write at IOVA ${hex(hole)} (the PCI hole, not mapped) → ${faultText(bad)}, no byte written`,
  );
}
