/** The system PASID, Jason Gunthorpe's options 1 and 2 (seeds/001). */
import { describe, expect, it } from "vitest";
import { dmaDomainTags } from "../src/index";
import { DEV, fails, run, slice, system } from "./fixture";

describe("option 1: a PASID equivalent to the RID", () => {
  it("is available for any PASID-capable device, trusted or not, and charges no process", () => {
    const log = system();
    expect(run(log, { type: "systemPasid.enable", data: { rid: DEV.thunderbolt } })).toEqual([
      { type: "pasid.allocated", data: { pasid: 1, use: "system", rid: DEV.thunderbolt } },
      { type: "systemPasid.enabled", data: { rid: DEV.thunderbolt, pasid: 1 } },
    ]);
    run(log, { type: "systemPasid.enable", data: { rid: DEV.nic } });
    expect(slice(log).systemPasids).toEqual({ [DEV.thunderbolt]: 1, [DEV.nic]: 2 });
    expect(slice(log).cgroups[0]!.usage).toBe(0);
  });

  it("makes every invalidation of the DMA domain flush both the RID and the PASID", () => {
    const log = system();
    expect(dmaDomainTags(slice(log), DEV.dsa)).toEqual([{ rid: DEV.dsa }]);
    run(log, { type: "systemPasid.enable", data: { rid: DEV.dsa } });
    expect(dmaDomainTags(slice(log), DEV.dsa)).toEqual([{ rid: DEV.dsa }, { rid: DEV.dsa, pasid: 1 }]);
  });

  it("refuses unknown or PASID-less devices (ENODEV) and a second enable (EBUSY); disable frees", () => {
    const log = system();
    fails(log, { type: "systemPasid.enable", data: { rid: 0xffff } }, "ENODEV");
    fails(log, { type: "systemPasid.enable", data: { rid: DEV.noPasid } }, "ENODEV");
    run(log, { type: "systemPasid.enable", data: { rid: DEV.nic } });
    fails(log, { type: "systemPasid.enable", data: { rid: DEV.nic } }, "EBUSY");
    expect(run(log, { type: "systemPasid.disable", data: { rid: DEV.nic } })).toEqual([
      { type: "systemPasid.disabled", data: { rid: DEV.nic, pasid: 1 } },
      { type: "pasid.freed", data: { pasid: 1, use: "system", rid: DEV.nic } },
    ]);
    fails(log, { type: "systemPasid.disable", data: { rid: DEV.nic } }, "ENOENT");
    expect(slice(log).space.size).toBe(1);
  });
});

describe("option 2: the kernel direct-map PASID", () => {
  it("is refused with EPERM until the administrator allows it", () => {
    const log = system();
    const e = fails(log, { type: "systemPasid.directMap.enable", data: { rid: DEV.dsa } }, "EPERM");
    expect(e.reason).toMatch(/administrator/);
  });

  it("is only for trusted on-socket devices: untrusted/external or off-socket → EPERM", () => {
    const log = system();
    run(log, { type: "systemPasid.policy", data: { allowDirectMap: true } });
    expect(
      fails(log, { type: "systemPasid.directMap.enable", data: { rid: DEV.thunderbolt } }, "EPERM").reason,
    ).toMatch(/untrusted/);
    expect(
      fails(log, { type: "systemPasid.directMap.enable", data: { rid: DEV.nic } }, "EPERM").reason,
    ).toMatch(/on-socket/);
    fails(log, { type: "systemPasid.directMap.enable", data: { rid: DEV.noPasid } }, "ENODEV");
  });

  it("gives allowed devices one shared PASID, freed when the last detaches", () => {
    const log = system();
    expect(run(log, { type: "systemPasid.policy", data: { allowDirectMap: true } })).toEqual([
      { type: "systemPasid.policySet", data: { allowDirectMap: true } },
    ]);
    expect(run(log, { type: "systemPasid.directMap.enable", data: { rid: DEV.dsa } })).toEqual([
      { type: "pasid.allocated", data: { pasid: 1, use: "directMap" } },
      { type: "systemPasid.directMapEnabled", data: { rid: DEV.dsa, pasid: 1 } },
    ]);
    fails(log, { type: "systemPasid.directMap.enable", data: { rid: DEV.dsa } }, "EBUSY");
    expect(run(log, { type: "systemPasid.directMap.disable", data: { rid: DEV.dsa } })).toEqual([
      { type: "systemPasid.directMapDisabled", data: { rid: DEV.dsa, pasid: 1 } },
      { type: "pasid.freed", data: { pasid: 1, use: "directMap" } },
    ]);
    fails(log, { type: "systemPasid.directMap.disable", data: { rid: DEV.dsa } }, "ENOENT");
    expect(slice(log).directMap).toBeUndefined();
  });

  it("is a separate API from SVA bind: SVA with any flag stays EINVAL even when option 2 is allowed", () => {
    const log = system();
    run(log, { type: "systemPasid.policy", data: { allowDirectMap: true } });
    fails(log, { type: "sva.bind", data: { pid: 1, rid: DEV.dsa, flags: 1 } }, "EINVAL");
  });
});
