/**
 * The simulated machine: RAM, IOMMU units and PCI devices. This is what
 * `iommu-sim --platform FILE` reads (JSON) and what the demo builds.
 *
 * A device is a PCI function (requester id `rid` = bus << 8 | dev << 3 | fn)
 * behind one IOMMU unit, in one IOMMU group, optionally with the PASID,
 * PRI and ATS capabilities. `trusted: false` marks a device Linux treats as
 * untrusted (pci_dev->untrusted, e.g. behind an external-facing port); such
 * a device never gets the direct-map system PASID.
 *
 * Register values are hex strings in JSON (u64: "0x…").
 */
import { type Static, Type } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";

const Hex64 = Type.String({ pattern: "^0x[0-9a-f]{1,16}$", description: "u64, lowercase hex" });
const Name = Type.String({ pattern: "^[a-z][a-z0-9_-]{0,31}$" });

/**
 * The size of a unit's IO page-table memory (root/context/PASID tables,
 * stream/CD tables and IO page tables), bytes: a multiple of 4096 from
 * 4 KiB (VT-d: 72 KiB, its root table and page request queue) to 1 GiB (the
 * default; each unit's region is 1 GiB apart). Maps that need more table
 * pages than are left fail with ENOMEM.
 */
const TableBytes = Type.String({
  pattern: "^0x[0-9a-f]{1,16}$",
  description: "IO page-table memory, bytes (lowercase hex, a multiple of 4096, at most 1 GiB)",
});

/** An Intel VT-d unit (optional CAP/ECAP override the model's defaults). */
export const VtdUnitSchema = Type.Object(
  {
    name: Name,
    kind: Type.Literal("vtd"),
    cap: Type.Optional(Hex64),
    ecap: Type.Optional(Hex64),
    tableBytes: Type.Optional(TableBytes),
  },
  { additionalProperties: false },
);
/** An ARM SMMUv3 instance (optional IDR0–IDR5 override the model's defaults). */
export const SmmuUnitSchema = Type.Object(
  {
    name: Name,
    kind: Type.Literal("smmu"),
    idr: Type.Optional(
      Type.Array(Type.Integer({ minimum: 0, maximum: 0xffff_ffff }), { minItems: 6, maxItems: 6 }),
    ),
    tableBytes: Type.Optional(TableBytes),
  },
  { additionalProperties: false },
);
/** The iommufd selftest mock IOMMU (drivers/iommu/iommufd/selftest.c). */
export const MockUnitSchema = Type.Object(
  { name: Name, kind: Type.Literal("mock") },
  { additionalProperties: false },
);

/** A PCI function. */
export const DeviceSchema = Type.Object(
  {
    name: Name,
    iommu: Name,
    rid: Type.Integer({ minimum: 0, maximum: 0xffff, description: "bus << 8 | dev << 3 | fn" }),
    group: Type.Integer({ minimum: 0, maximum: 2 ** 31 - 1, description: "IOMMU group number" }),
    pasidBits: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 20, description: "PASID capability width" }),
    ),
    pri: Type.Optional(Type.Boolean({ description: "PCIe Page Request Interface" })),
    ats: Type.Optional(Type.Boolean({ description: "PCIe Address Translation Services" })),
    trusted: Type.Boolean({ description: "false = untrusted (behind an external-facing port)" }),
  },
  { additionalProperties: false },
);

/** The whole machine. */
export const PlatformSchema = Type.Object(
  {
    memoryBytes: Hex64,
    iommus: Type.Array(Type.Union([VtdUnitSchema, SmmuUnitSchema, MockUnitSchema]), { minItems: 1 }),
    devices: Type.Array(DeviceSchema),
  },
  { additionalProperties: false },
);

/** A validated platform description. */
export type Platform = Static<typeof PlatformSchema>;
/** A device of a platform. */
export type PlatformDevice = Static<typeof DeviceSchema>;

const check = TypeCompiler.Compile(PlatformSchema);

/** The largest IO page-table memory of a unit, bytes (1 GiB: units' regions are 1 GiB apart). */
export const MAX_TABLE_BYTES = 0x4000_0000n;
/**
 * The smallest of a VT-d unit, bytes: its root table and its 16-frame page
 * request queue (hw-vtd's `vtd.unit.add` refuses less), 18 frames.
 */
export const MIN_VTD_TABLE_BYTES = 0x12000n;

/** Why a platform description was refused: the JSON path (`devices.1.rid`) and the reason. */
export interface PlatformIssue {
  readonly field: string;
  readonly reason: string;
}

/**
 * Validate a parsed platform JSON: its shape, then the cross-references
 * (unique unit and device names, every device's unit exists, unique RIDs per
 * unit, RAM a non-zero multiple of 4 KiB, table memory a non-zero multiple
 * of 4 KiB of at most 1 GiB).
 * @returns the platform, or the first issue.
 */
export function parsePlatform(json: unknown): Platform | PlatformIssue {
  if (!check.Check(json)) {
    const e = check.Errors(json).First();
    return {
      field: (e?.path ?? "").replaceAll("/", ".").replace(/^\./, "") || "(root)",
      reason: e?.message ?? "invalid",
    };
  }
  const p = json as Platform;
  const mem = BigInt(p.memoryBytes);
  if (mem === 0n || mem % 4096n !== 0n)
    return { field: "memoryBytes", reason: "must be a non-zero multiple of 4096" };
  const units = new Set<string>();
  for (const [i, u] of p.iommus.entries()) {
    if (units.has(u.name)) return { field: `iommus.${i}.name`, reason: `duplicate IOMMU name '${u.name}'` };
    units.add(u.name);
    if (u.kind !== "mock" && u.tableBytes !== undefined) {
      const bytes = BigInt(u.tableBytes);
      const min = u.kind === "vtd" ? MIN_VTD_TABLE_BYTES : 0x1000n;
      if (bytes < min || bytes % 4096n !== 0n || bytes > MAX_TABLE_BYTES)
        return {
          field: `iommus.${i}.tableBytes`,
          reason: `must be a multiple of 4096 from 0x${min.toString(16)} to 0x40000000`,
        };
    }
  }
  const names = new Set<string>();
  const rids = new Set<string>();
  for (const [i, d] of p.devices.entries()) {
    if (names.has(d.name)) return { field: `devices.${i}.name`, reason: `duplicate device name '${d.name}'` };
    names.add(d.name);
    if (!units.has(d.iommu)) return { field: `devices.${i}.iommu`, reason: `no IOMMU named '${d.iommu}'` };
    const key = `${d.iommu}/${d.rid}`;
    if (rids.has(key))
      return { field: `devices.${i}.rid`, reason: `RID ${d.rid} used twice behind '${d.iommu}'` };
    rids.add(key);
    if (d.pri === true && d.pasidBits === undefined) {
      return { field: `devices.${i}.pri`, reason: "PRI with PASID needs the PASID capability (pasidBits)" };
    }
  }
  return p;
}

/** PCI requester id of bus:dev.fn. */
export function rid(bus: number, dev: number, fn: number): number {
  return (bus << 8) | (dev << 3) | fn;
}

/**
 * The default machine (the demo's): 8 GiB of RAM; a VT-d unit with a
 * PASID/PRI/ATS-capable accelerator and an untrusted PASID-capable NIC
 * behind an external port, each alone in its group; an SMMUv3 with a
 * PRI-capable device.
 */
export const DEFAULT_PLATFORM: Platform = Object.freeze({
  memoryBytes: "0x200000000",
  iommus: [
    { name: "vtd0", kind: "vtd" },
    { name: "smmu0", kind: "smmu" },
  ],
  devices: [
    {
      name: "accel0",
      iommu: "vtd0",
      rid: rid(0, 2, 0),
      group: 1,
      pasidBits: 20,
      pri: true,
      ats: true,
      trusted: true,
    },
    { name: "nic0", iommu: "vtd0", rid: rid(3, 0, 0), group: 2, pasidBits: 20, trusted: false },
    {
      name: "gpu0",
      iommu: "smmu0",
      rid: rid(0, 1, 0),
      group: 3,
      pasidBits: 20,
      pri: true,
      ats: true,
      trusted: true,
    },
  ],
}) as Platform;

/**
 * What the PASID layer (@iommu-sim/ioasid's `PasidDevice`) needs to know of
 * a platform device, by RID: PASID capability, group size (SVA needs the
 * device alone in its group), trust, and placement. A trusted device on bus
 * 0 counts as on-socket (a root-complex integrated endpoint such as an
 * accelerator); an untrusted one sits behind an external-facing port.
 */
export function pasidDevices(platform: Platform) {
  return (_root: unknown, rid: number) => {
    const d = platform.devices.find((x) => x.rid === rid);
    if (d === undefined) return undefined;
    return {
      pasidEnabled: d.pasidBits !== undefined,
      groupSize: platform.devices.filter((x) => x.group === d.group).length,
      trusted: d.trusted,
      external: !d.trusted,
      onSocket: d.trusted && rid >> 8 === 0,
    };
  };
}
