/**
 * The command queue (CERROR_ILL halts it; the driver skips the bad command
 * as Linux arm_smmu_cmdq_skip_err does; CMD_SYNC's MSI write), the event
 * queue (consumption, overflow), and the PRI queue with CMD_PRI_RESP
 * (Arm IHI 0070 §4, §7.1, §7.4, §8).
 */
import { describe, expect, it } from "vitest";
import { cmd, EATS, encodeCd, encodeSte, PRI_RESP, STE_CFG, translate } from "../src/index";
import { alloc, evtq, inst0, type Log, ok, put64, withSmmu } from "./fixture";

const w = (c: readonly [bigint, bigint]) => [c[0], c[1]];

describe("command queue", () => {
  it("halts at a malformed command with CERROR_ILL, holds later submissions, resumes after the driver skips it", () => {
    const log = withSmmu();
    const bad: [bigint, bigint] = [0x7fn, 0n];
    const ev = ok(log, {
      type: "smmu.cmdq.submit",
      data: { instance: 0, cmds: [w(cmd.cfgiSte(1)), bad, w(cmd.cfgiSte(2))] },
    });
    expect(ev.map((e) => e.type)).toEqual(["smmu.cmd.consumed", "smmu.cmdq.errored"]);
    expect(ev[1]!.data).toEqual({ instance: 0, cerror: 1, pending: [bad, w(cmd.cfgiSte(2))] });
    expect(inst0(log).cmdq).toMatchObject({ cons: 1, error: 1 });
    ok(log, { type: "smmu.cmdq.submit", data: { instance: 0, cmds: [w(cmd.sync())] } });
    expect(inst0(log).cmdq.pending.length).toBe(3);
    const resumed = ok(log, { type: "smmu.cmdq.skipError", data: { instance: 0 } });
    expect(resumed.map((e) => e.type)).toEqual([
      "smmu.cmdq.errorSkipped",
      "smmu.cmd.consumed",
      "smmu.cmd.consumed",
    ]);
    expect(inst0(log).cmdq).toEqual({ cons: 4, error: 0, pending: [] });
    expect(log.dispatch({ type: "smmu.cmdq.skipError", data: { instance: 0 } })).toMatchObject({
      name: "EINVAL",
    });
  });

  it("CMD_SYNC with CS = SIG_IRQ writes MSIData to MSIAddr (little endian)", () => {
    const log = withSmmu();
    ok(log, {
      type: "smmu.cmdq.submit",
      data: { instance: 0, cmds: [w(cmd.sync(1, 0x11223344, 0x8_0000n))] },
    });
    expect([...log.state.mm.ram.read(0x8_0000, 4)]).toEqual([0x44, 0x33, 0x22, 0x11]);
  });
});

describe("event queue", () => {
  it("loses records to a full queue, toggling OVFLG once per overflow condition until acknowledged", () => {
    const idr = [0x0944_d341b, 16 | (20 << 6) | (8 << 11) | (1 << 16) | (8 << 21), 0, 1 << 10, 0, 0x75];
    const log = withSmmu({ idr: idr.map((x) => x >>> 0) }); // EVENTQS = 1: two entries
    const fault = (sid: number) =>
      ok(log, { type: "smmu.dma", data: { instance: 0, sid, iova: 0n, length: 1, write: false } });
    for (const sid of [1, 2, 3, 4]) fault(sid);
    expect(evtq(log).map((r) => r[0])).toEqual([0x1_0000_0004n, 0x2_0000_0004n]);
    expect(inst0(log).evtq).toMatchObject({ overflow: true, overflowAck: false }); // toggled once, by SID 3
    ok(log, { type: "smmu.evtq.consume", data: { instance: 0, count: 2, ackOverflow: true } });
    expect(inst0(log).evtq).toMatchObject({
      records: [],
      prod: 2,
      cons: 2,
      overflow: true,
      overflowAck: true,
    });
    fault(5);
    expect(evtq(log).map((r) => r[0])).toEqual([0x5_0000_0004n]);
    expect(log.dispatch({ type: "smmu.evtq.consume", data: { instance: 0, count: 2 } })).toMatchObject({
      name: "EINVAL",
    });
  });
});

describe("PRI: page requests and CMD_PRI_RESP", () => {
  const SID = 0x100;
  /** A PASID-capable stage-1 stream with ATS (EATS = 1): CD table of 4 CDs, CD 1 with empty tables. */
  function setup(log: Log, eats: number) {
    const [l0, l1, l2, l3, cdt] = [alloc(log), alloc(log), alloc(log), alloc(log), alloc(log)];
    put64(log, l0, BigInt(l1) | 3n);
    put64(log, l1, BigInt(l2) | 3n);
    put64(log, l2, BigInt(l3) | 3n);
    const ste = encodeSte({
      v: true,
      config: STE_CFG.S1_TRANS,
      s1ContextPtr: cdt,
      s1cdmax: 2,
      s1dss: 2,
      eats,
    });
    ok(log, { type: "smmu.ste.write", data: { instance: 0, sid: SID, ste } });
    const cd = encodeCd({ t0sz: 16, v: true, ips: 5, aa64: true, r: true, asid: 4, ttb0: l0 });
    ok(log, { type: "smmu.cd.write", data: { instance: 0, sid: SID, ssid: 1, cd } });
    return l3;
  }

  it("a miss becomes a page request; the driver maps the page and answers Success; the retry succeeds", () => {
    const log = withSmmu();
    const l3 = setup(log, EATS.TRANS);
    const req = {
      instance: 0,
      sid: SID,
      ssid: 1,
      iova: 0x7123n,
      length: 2,
      write: true,
      bytes: new Uint8Array([5, 6]),
      pri: true,
    };
    const ev = ok(log, { type: "smmu.dma", data: req });
    // SID 0x100 | SSID 1 << 32 | WRITE 1<<61 | LAST 1<<62 | SSV 1<<63; PRG index 0 | page 0x7000
    expect(ev.at(-1)).toEqual({
      type: "smmu.pri.queued",
      data: { instance: 0, record: [0xe000_0001_0000_0100n, 0x7000n] },
    });
    expect(evtq(log)).toEqual([]);
    expect(inst0(log).prgs).toEqual([{ sid: SID, ssid: 1, grpid: 0 }]);
    // The fault handler (iommufd's IOPF path) consumes the request, maps the page, responds.
    ok(log, { type: "smmu.priq.consume", data: { instance: 0, count: 1 } });
    put64(log, l3 + 7 * 8, 0x6600_0000n | 0x743n);
    ok(log, {
      type: "smmu.cmdq.submit",
      data: { instance: 0, cmds: [w(cmd.priResp(SID, 1, 0, PRI_RESP.SUCC)), w(cmd.sync())] },
    });
    expect(inst0(log).priResponses).toEqual([{ sid: SID, ssid: 1, grpid: 0, resp: PRI_RESP.SUCC }]);
    expect(inst0(log).prgs).toEqual([]);
    ok(log, { type: "smmu.dma", data: req });
    expect([...log.state.mm.ram.read(0x6600_0123, 2)]).toEqual([5, 6]);
    // The next request uses the next PRG index.
    ok(log, { type: "smmu.dma", data: { ...req, iova: 0x9000n } });
    expect(inst0(log).priq.records[0]![1]).toBe(0x9001n);
  });

  it("a full PRI queue overflows: requests are discarded and auto-answered (Success, no PASID without PPS/PPAR) until acknowledged", () => {
    const idr = [0x0944_d341b, 16 | (20 << 6) | (0 << 11) | (8 << 16) | (8 << 21), 0, 1 << 10, 0, 0x75];
    const log = withSmmu({ idr: idr.map((x) => x >>> 0) }); // PRIQS = 0: one entry
    setup(log, EATS.TRANS);
    const miss = (iova: bigint) =>
      ok(log, {
        type: "smmu.dma",
        data: { instance: 0, sid: SID, ssid: 1, iova, length: 1, write: false, pri: true },
      });
    expect(miss(0x1000n).at(-1)!.type).toBe("smmu.pri.queued");
    expect(
      miss(0x2000n)
        .slice(-2)
        .map((e) => e.type),
    ).toEqual(["smmu.priq.overflowed", "smmu.pri.autoResponded"]);
    ok(log, { type: "smmu.priq.consume", data: { instance: 0, count: 1 } }); // space, but the overflow is still active
    expect(miss(0x3000n).map((e) => e.type)).toEqual(["smmu.pri.autoResponded"]);
    expect(inst0(log).priResponses).toEqual([
      { sid: SID, grpid: 1, resp: PRI_RESP.SUCC, auto: true },
      { sid: SID, grpid: 2, resp: PRI_RESP.SUCC, auto: true },
    ]);
    ok(log, { type: "smmu.priq.consume", data: { instance: 0, count: 0, ackOverflow: true } });
    expect(miss(0x4000n).at(-1)!.type).toBe("smmu.pri.queued");
  });

  it("without ATS in the STE (EATS = 0) the Translation Request gets UR and F_BAD_ATS_TREQ is recorded", () => {
    const log = withSmmu();
    setup(log, EATS.ABT);
    ok(log, {
      type: "smmu.dma",
      data: { instance: 0, sid: SID, ssid: 1, iova: 0x7000n, length: 1, write: false, pri: true },
    });
    expect(inst0(log).priq.records).toEqual([]);
    // F_BAD_ATS_TREQ (0x05) | SSV | SSID 1 << 12 | SID 0x100 << 32; RnW 1 << 35; InputAddr
    expect(evtq(log)).toEqual([[0x0000_0100_0000_1805n, 0x0000_0008_0000_0000n, 0x7000n, 0n]]);
  });

  it("the driver consumes page requests in order and a PRI_RESP for an unknown group is still delivered", () => {
    const log = withSmmu();
    setup(log, EATS.TRANS);
    ok(log, {
      type: "smmu.cmdq.submit",
      data: { instance: 0, cmds: [w(cmd.priResp(SID, undefined, 9, PRI_RESP.FAIL))] },
    });
    expect(inst0(log).priResponses).toEqual([{ sid: SID, grpid: 9, resp: PRI_RESP.FAIL }]);
    expect(
      translate(log.state, 0, { sid: SID, ssid: 1, iova: 0x7000n, length: 1, write: false }),
    ).toMatchObject({ ok: false });
  });
});
