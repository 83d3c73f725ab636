/**
 * The vSMMU conversions of Linux arm-smmu-v3-iommufd.c: guest invalidation
 * commands (arm_vsmmu_convert_user_cmd) and vEVENT records
 * (arm_vmaster_report_event). Expected words written by hand.
 */
import { isErrno } from "@iommu-sim/uapi";
import { describe, expect, it } from "vitest";
import { cmd, convertUserCmd, convertUserCmds, veventBytes } from "../src/index";

const vsids = (v: number) => (v === 3 ? 0x1234 : undefined);

describe("guest invalidation commands", () => {
  it("forces the vSMMU's VMID on TLBI_NH_*, and turns TLBI_NSNH_ALL into TLBI_NH_ALL", () => {
    // The guest's VMID field (7) is replaced by the host's (0x22) at bits 47:32.
    expect(convertUserCmd(0x22, vsids, cmd.tlbiNhVa(7, 5, 0x1000n))).toEqual([
      0x0005_0022_0000_0012n,
      0x1001n,
    ]);
    expect(convertUserCmd(0x22, vsids, cmd.tlbiNhAsid(0, 5))).toEqual([0x0005_0022_0000_0011n, 0n]);
    expect(convertUserCmd(0x22, vsids, cmd.tlbiNsnhAll())).toEqual([0x0000_0022_0000_0010n, 0n]);
  });

  it("maps virtual StreamIDs of ATC_INV / CFGI_CD / CFGI_CD_ALL to physical ones; unknown → EIO", () => {
    expect(convertUserCmd(1, vsids, cmd.cfgiCd(3, 9))).toEqual([0x0000_1234_0000_9005n, 1n]);
    expect(convertUserCmd(1, vsids, cmd.atcInv(3, undefined, 0x2000n, 1))).toEqual([
      0x0000_1234_0000_0040n,
      0x2001n,
    ]);
    expect(convertUserCmd(1, vsids, cmd.cfgiCdAll(4))).toMatchObject({ name: "EIO" });
  });

  it("refuses every other command with EIO, and reports how many entries were handled", () => {
    for (const c of [
      cmd.cfgiSte(3),
      cmd.tlbiS2Ipa(1, 0n),
      cmd.tlbiS12Vmall(1),
      cmd.sync(),
      cmd.priResp(3, 1, 0, 2),
    ])
      expect(isErrno(convertUserCmd(1, vsids, c))).toBe(true);
    const r = convertUserCmds(1, vsids, [
      cmd.tlbiNhAsid(0, 1),
      cmd.cfgiCd(3, 0),
      cmd.cfgiSte(3),
      cmd.tlbiNhAsid(0, 2),
    ]);
    expect(r.done).toBe(2);
    expect(r.error).toMatchObject({ name: "EIO" });
  });
});

describe("vEVENTs", () => {
  it("replace the StreamID of word 0 with the virtual one, little endian, 32 bytes", () => {
    const b = veventBytes([0x0000_1234_0000_3810n, 0x0000_0208_0000_0000n, 0x123_4000n, 0n], 3);
    const v = new DataView(b.buffer);
    expect(b.length).toBe(32);
    expect([0, 8, 16, 24].map((o) => v.getBigUint64(o, true))).toEqual([
      0x0000_0003_0000_3810n,
      0x0000_0208_0000_0000n,
      0x123_4000n,
      0n,
    ]);
  });
});
