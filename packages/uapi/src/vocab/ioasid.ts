/**
 * Commands and events of the `ioasid` subsystem (packages/ioasid): the
 * PASID space, /dev/ioasid (the 2021 RFC, seeds/000), the IOASID cgroup
 * quota, SVA binding (iommu_sva_bind_device(), seeds/001) and the system
 * PASID (Jason Gunthorpe's options 1 and 2 in the same thread).
 * Owned by packages/ioasid; see docs/CONVENTIONS.md ("Messages").
 *
 * Identifiers: `pid` a process id, `mm` a process address space (the RFC's
 * IOASID set token, `current->mm`; fork creates a new one), `fd` an open file
 * of /dev/ioasid, `cgroup` an IOASID quota group (0 = the root group), `rid`
 * a PCI requester id (bus << 8 | dev << 3 | fn), `pasid` a PASID (= SSID).
 */
import { type TSchema, Type } from "@sinclair/typebox";
import { command, event, type MessageDef, type MessagesOf } from "./message";
import { UInt } from "./schema";

const Pid = () => Type.Integer({ minimum: 1, maximum: 2 ** 31 - 1, description: "process id" });
const Mm = () =>
  Type.Integer({
    minimum: 1,
    maximum: 2 ** 31 - 1,
    description: "address space (mm) id, the IOASID set token",
  });
const Fd = () => Type.Integer({ minimum: 1, maximum: 2 ** 31 - 1, description: "/dev/ioasid open file id" });
const Cgroup = () => UInt(31, "IOASID quota group id; 0 = root");
const Rid = () => UInt(16, "PCI requester id: bus << 8 | dev << 3 | fn");
const Pasid = () => UInt(31, "PASID (SSID)");
const Bond = () => Type.Integer({ minimum: 1, maximum: 2 ** 31 - 1, description: "SVA bond handle" });
/** A quota: a count of PASIDs; absent = "max" (no limit), as misc.max. */
const Max = () => Type.Optional(UInt(31, 'limit in PASIDs; absent = "max"'));
const obj = <P extends Record<string, TSchema>>(p: P) => Type.Object(p, { additionalProperties: false });

/** Who a PASID was allocated for. */
const PasidUse = () =>
  Type.Union(
    [Type.Literal("ioasid"), Type.Literal("sva"), Type.Literal("system"), Type.Literal("directMap")],
    {
      description:
        "ioasid: IOASID_REQUEST_ALLOC; sva: an mm's SVA PASID; system: a PASID equivalent to a RID; directMap: the kernel direct-map PASID",
    },
  );

/** `ioasid` commands. */
export const ioasidCommandDefs = [
  command(
    "ioasid.open",
    obj({ pid: Pid() }),
    'open("/dev/ioasid") by pid (ioasid_fops_open(); one per mm, else EBUSY)',
  ),
  command(
    "ioasid.close",
    obj({ pid: Pid(), fd: Fd() }),
    "close(fd) by pid; the last close releases the IOASID set (ioasid_fops_release())",
  ),
  command(
    "ioasid.fd.share",
    obj({ fd: Fd(), fromPid: Pid(), toPid: Pid() }),
    "pass an fd to another process (SCM_RIGHTS); the receiver may not allocate or free",
  ),
  command(
    "ioasid.alloc",
    obj({ pid: Pid(), fd: Fd(), min: UInt(32), max: UInt(32) }),
    "IOASID_REQUEST_ALLOC: the lowest free PASID in [min, max], charged to the caller's quota group",
  ),
  command(
    "ioasid.free",
    obj({ pid: Pid(), fd: Fd(), pasid: UInt(32) }),
    "IOASID_REQUEST_FREE: free a PASID of the caller's own set",
  ),
  command(
    "ioasid.process.fork",
    obj({ parent: Pid(), child: Pid() }),
    "fork(): the child gets a new mm, inherits the parent's quota group and fds",
  ),
  command(
    "ioasid.process.exit",
    obj({ pid: Pid() }),
    "process exit: close its fds, unbind its mm's SVA bonds, free its IOASID set",
  ),
  command(
    "ioasid.cgroup.create",
    obj({ cgroup: Cgroup(), parent: Cgroup(), max: Max() }),
    "mkdir of an IOASID (misc) cgroup under parent, with misc.max",
  ),
  command("ioasid.cgroup.setMax", obj({ cgroup: Cgroup(), max: Max() }), "write misc.max of a group"),
  command(
    "ioasid.cgroup.attach",
    obj({ pid: Pid(), cgroup: Cgroup() }),
    "move pid into a group (cgroup.procs)",
  ),
  command(
    "sva.bind",
    obj({ pid: Pid(), rid: Rid(), flags: UInt(32) }),
    "iommu_sva_bind_device(dev, flags) from pid: bind pid's mm to the device (flags must be 0)",
  ),
  command(
    "sva.unbind",
    obj({ bond: Bond() }),
    "iommu_sva_unbind_device(handle): drop one reference of a bond",
  ),
  command(
    "sva.iopf.handle",
    obj({
      group: Type.Optional(
        Type.Integer({
          minimum: 1,
          maximum: 2 ** 31 - 1,
          description: "SVA fault group id; absent = the oldest complete one",
        }),
      ),
    }),
    "the iopf workqueue runs one SVA fault group (io-pgfault.c iopf_handler() → iommu-sva.c iommu_sva_iopf_handler() → iommu_sva_handle_mm() → handle_mm_fault()) and sends the page response",
  ),
  command(
    "systemPasid.enable",
    obj({ rid: Rid() }),
    "option 1: give the device a PASID equivalent to its RID (DMA-API mappings visible through both)",
  ),
  command("systemPasid.disable", obj({ rid: Rid() }), "option 1: drop the device's RID-equivalent PASID"),
  command(
    "systemPasid.directMap.enable",
    obj({ rid: Rid() }),
    "option 2: attach the device to the kernel direct-map PASID (trusted on-socket device, admin-allowed only)",
  ),
  command(
    "systemPasid.directMap.disable",
    obj({ rid: Rid() }),
    "option 2: detach the device from the direct-map PASID",
  ),
  command(
    "systemPasid.policy",
    obj({ allowDirectMap: Type.Boolean() }),
    "the administrator toggle: whether option 2 (direct-map PASID) may be used at all",
  ),
] as const satisfies readonly MessageDef[];

/** `ioasid` events. */
export const ioasidEventDefs = [
  event(
    "ioasid.opened",
    obj({ pid: Pid(), fd: Fd(), mm: Mm() }),
    "/dev/ioasid opened: fd bound to mm's IOASID set",
  ),
  event("ioasid.fd.shared", obj({ fd: Fd(), pid: Pid() }), "pid now holds fd too (fork or SCM_RIGHTS)"),
  event("ioasid.fd.closed", obj({ fd: Fd(), pid: Pid() }), "pid dropped its hold on fd"),
  event("ioasid.released", obj({ fd: Fd(), mm: Mm() }), "the last hold on fd went: the file is released"),
  event(
    "ioasid.set.allocated",
    obj({ mm: Mm(), cgroup: Cgroup() }),
    "mm's IOASID set created (ioasid_set_alloc(mm, …, IOASID_SET_TYPE_MM)); its PASIDs charge cgroup",
  ),
  event("ioasid.set.freed", obj({ mm: Mm() }), "mm's IOASID set freed (ioasid_set_free())"),
  event(
    "pasid.allocated",
    obj({ pasid: Pasid(), use: PasidUse(), mm: Type.Optional(Mm()), rid: Type.Optional(Rid()) }),
    "a PASID left the free pool: for mm's set (ioasid, sva) or the kernel (system: rid's; directMap)",
  ),
  event(
    "pasid.freed",
    obj({ pasid: Pasid(), use: PasidUse(), mm: Type.Optional(Mm()), rid: Type.Optional(Rid()) }),
    "a PASID returned to the free pool",
  ),
  event(
    "ioasid.quota.charged",
    obj({ cgroup: Cgroup(), mm: Mm(), count: UInt(31) }),
    "count PASIDs charged to cgroup and each ancestor (misc_cg_try_charge())",
  ),
  event(
    "ioasid.quota.uncharged",
    obj({ cgroup: Cgroup(), mm: Mm(), count: UInt(31) }),
    "count PASIDs uncharged from cgroup and each ancestor (misc_cg_uncharge())",
  ),
  event(
    "ioasid.cgroup.created",
    obj({ cgroup: Cgroup(), parent: Cgroup(), max: Max() }),
    "a quota group was created",
  ),
  event("ioasid.cgroup.maxSet", obj({ cgroup: Cgroup(), max: Max() }), "a group's misc.max changed"),
  event("ioasid.cgroup.attached", obj({ pid: Pid(), cgroup: Cgroup() }), "pid moved into cgroup"),
  event(
    "ioasid.process.forked",
    obj({ parent: Pid(), child: Pid() }),
    "child holds every fd parent holds and joins parent's quota group",
  ),
  event("ioasid.process.exited", obj({ pid: Pid() }), "pid is gone (its group membership too)"),
  event(
    "sva.bound",
    obj({ bond: Bond(), rid: Rid(), mm: Mm(), pasid: Pasid() }),
    "new SVA bond: device rid walks mm's page tables for DMA tagged with pasid",
  ),
  event(
    "sva.referenced",
    obj({ bond: Bond(), refs: UInt(31) }),
    "another bind of the same device and mm: refs taken",
  ),
  event("sva.unreferenced", obj({ bond: Bond(), refs: UInt(31) }), "one unbind; refs remain"),
  event(
    "sva.unbound",
    obj({ bond: Bond(), rid: Rid(), mm: Mm(), pasid: Pasid() }),
    "the bond's last reference went: clear rid's pasid entry",
  ),
  event(
    "sva.iopf.handled",
    obj({
      group: Type.Integer({ minimum: 1, maximum: 2 ** 31 - 1, description: "SVA fault group id" }),
      rid: Rid(),
      pasid: Pasid(),
      grpid: UInt(16, "page request group index"),
      code: UInt(8, "enum iommu_page_response_code: 0 SUCCESS, 1 INVALID, 2 FAILURE"),
    }),
    "an SVA fault group was handled and answered with code; it leaves the SVA fault queue",
  ),
  event(
    "systemPasid.enabled",
    obj({ rid: Rid(), pasid: Pasid() }),
    "option 1: pasid of rid maps the RID's DMA domain; every invalidation of it flushes RID and PASID",
  ),
  event("systemPasid.disabled", obj({ rid: Rid(), pasid: Pasid() }), "option 1: rid's system PASID removed"),
  event(
    "systemPasid.directMapEnabled",
    obj({ rid: Rid(), pasid: Pasid() }),
    "option 2: rid's pasid points at the kernel direct map (all of RAM, identity)",
  ),
  event(
    "systemPasid.directMapDisabled",
    obj({ rid: Rid(), pasid: Pasid() }),
    "option 2: rid detached from the direct-map PASID",
  ),
  event("systemPasid.policySet", obj({ allowDirectMap: Type.Boolean() }), "the administrator toggle changed"),
] as const satisfies readonly MessageDef[];

/** Every `ioasid` message definition (commands, then events). */
export const ioasidMessages = [
  ...ioasidCommandDefs,
  ...ioasidEventDefs,
] as const satisfies readonly MessageDef[];

/** The commands of the `ioasid` subsystem (in-memory form). */
export type IoasidCommand = MessagesOf<typeof ioasidCommandDefs>;
/** The events of the `ioasid` subsystem (in-memory form). */
export type IoasidEvent = MessagesOf<typeof ioasidEventDefs>;
