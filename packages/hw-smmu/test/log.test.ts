/**
 * The log of a whole SMMU scenario: every record validates against
 * VOCABULARY (JSON Lines round trip), replay re-derives the same state
 * (tables, caches, queues) to the same hash, and snapshots stay immutable.
 */
import {
  encodeLog,
  type LogRecord,
  readLog,
  stateHash,
  sweepFailNth,
  textSource,
  Vocabulary,
} from "@iommu-sim/eventlog";
import { VOCABULARY } from "@iommu-sim/uapi";
import { describe, expect, it } from "vitest";
import { checkInvariants, cmd, encodeSte, PRI_RESP, STE_CFG } from "../src/index";
import { decider, inst0, type Log, newLog, ok, TABLE_BASE, TABLE_SIZE, withSmmu } from "./fixture";

const w = (c: readonly [bigint, bigint]) => [c[0], c[1]];

function scenario(): Log {
  const log = withSmmu({ tlbEntries: 4 });
  ok(log, { type: "smmu.domain.alloc", data: { instance: 0, kind: "s1" } });
  ok(log, { type: "smmu.domain.alloc", data: { instance: 0, kind: "s2" } });
  ok(log, { type: "smmu.domain.allocNested", data: { instance: 0, parent: 2, ste: [0x9n, 0n] } });
  ok(log, {
    type: "smmu.domain.map",
    data: { instance: 0, domain: 1, iova: 0x1000n, pfnRuns: [{ pfn: 0x40, count: 3 }], prot: 3 },
  });
  ok(log, { type: "smmu.domain.attach", data: { instance: 0, domain: 1, sid: 0x42, ats: true } });
  ok(log, { type: "smmu.domain.attach", data: { instance: 0, domain: 3, sid: 0x43 } });
  ok(log, {
    type: "smmu.dma",
    data: {
      instance: 0,
      sid: 0x42,
      iova: 0x1ffen,
      length: 4,
      write: true,
      bytes: new Uint8Array([1, 2, 3, 4]),
    },
  });
  ok(log, {
    type: "smmu.dma",
    data: { instance: 0, sid: 0x42, iova: 0x9000n, length: 1, write: false, pri: true },
  });
  ok(log, { type: "smmu.dma", data: { instance: 0, sid: 0x99, iova: 0n, length: 1, write: false } });
  ok(log, {
    type: "smmu.dma",
    data: { instance: 0, sid: 0x42, iova: 0x1000n, length: 4, write: false, ats: true },
  });
  ok(log, { type: "smmu.domain.unmap", data: { instance: 0, domain: 1, iova: 0x1000n, length: 0x1000n } });
  const cdt = ok(log, { type: "smmu.mem.alloc", data: { instance: 0, bytes: 64 } });
  const pa = (cdt[0]!.data as { pa: bigint }).pa;
  ok(log, { type: "smmu.mem.write", data: { instance: 0, pa, bytes: new Uint8Array(8) } });
  ok(log, {
    type: "smmu.ste.write",
    data: {
      instance: 0,
      sid: 0x500,
      ste: encodeSte({ v: true, config: STE_CFG.S1_TRANS, s1ContextPtr: Number(pa) }),
    },
  });
  ok(log, {
    type: "smmu.cd.write",
    data: { instance: 0, sid: 0x500, ssid: 0, cd: [0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n] },
  });
  ok(log, {
    type: "smmu.cmdq.submit",
    data: { instance: 0, cmds: [w(cmd.priResp(0x42, undefined, 0, PRI_RESP.SUCC)), [0x7fn, 0n]] },
  });
  ok(log, { type: "smmu.cmdq.submit", data: { instance: 0, cmds: [w(cmd.sync(1, 7, 0x1_0000n))] } });
  ok(log, { type: "smmu.cmdq.skipError", data: { instance: 0 } });
  ok(log, { type: "smmu.domain.detach", data: { instance: 0, sid: 0x43 } });
  ok(log, { type: "smmu.domain.free", data: { instance: 0, domain: 3 } });
  ok(log, { type: "smmu.evtq.consume", data: { instance: 0, count: 1 } });
  ok(log, { type: "smmu.priq.consume", data: { instance: 0, count: 1 } });
  return log;
}

describe("the smmu log", () => {
  it("writes JSON Lines that validate against VOCABULARY and replay to the same state hash", async () => {
    const log = scenario();
    const types = new Set<string>(log.records.map((r) => r.type));
    const smmuTypes = VOCABULARY.map((d) => d.type).filter((t) => t.startsWith("smmu."));
    // Every smmu message type but the overflow events (queues of 2^8 entries) is exercised.
    expect(smmuTypes.filter((t) => !types.has(t))).toEqual([
      "smmu.evtq.overflowed",
      "smmu.priq.overflowed",
      "smmu.pri.autoResponded",
    ]);
    const opened = await readLog(textSource(encodeLog(log.records)), {
      vocabulary: new Vocabulary(VOCABULARY),
      file: "smmu.jsonl",
    });
    const records: LogRecord[] = [];
    for await (const b of opened.batches) records.push(...b);
    expect(records.length).toBe(log.records.length);
    const fresh = newLog();
    const replayed = fresh.replay(records as Parameters<typeof fresh.replay>[0]);
    expect(stateHash(replayed)).toBe(stateHash(log.state));
    // PRI_RESP, the skipped bad command (as CMD_SYNC), the held SYNC
    expect(inst0(log).cmdq).toEqual({ cons: 3, error: 0, pending: [] });
  });

  it("snapshots are immutable: later table writes and cache fills do not change an earlier state", () => {
    const log = newLog();
    ok(log, {
      type: "smmu.instance.add",
      data: { instance: 0, tableBase: TABLE_BASE, tableSize: TABLE_SIZE },
    });
    ok(log, { type: "smmu.domain.alloc", data: { instance: 0, kind: "s1" } });
    const snap = log.snapshot();
    const before = stateHash(snap.state);
    ok(log, {
      type: "smmu.domain.map",
      data: { instance: 0, domain: 1, iova: 0n, pfnRuns: [{ pfn: 1, count: 1 }], prot: 3 },
    });
    ok(log, { type: "smmu.domain.attach", data: { instance: 0, domain: 1, sid: 1 } });
    ok(log, { type: "smmu.dma", data: { instance: 0, sid: 1, iova: 0n, length: 1, write: false } });
    expect(stateHash(snap.state)).toBe(before);
    expect(stateHash(log.state)).not.toBe(before);
  });
});

describe("fail-nth over a whole scenario", () => {
  it("every command of the scenario fails cleanly at each fallible step and never mutates the state it decides on", () => {
    const commands = scenario().records.filter((r) => r.kind === "command");
    const log = newLog();
    const sites = new Set<string>();
    for (const r of commands) {
      const c = { type: r.type, data: r.data } as Parameters<typeof log.dispatch>[0];
      for (const site of sweepFailNth(decider, log.state, c).sites) sites.add(site);
      ok(log, c);
    }
    expect([...sites].sort()).toEqual([
      "smmu.cdtab_alloc",
      "smmu.domain_alloc",
      "smmu.l2_cdtab_alloc",
      "smmu.l2_strtab_alloc",
      "smmu.mem_alloc",
      "smmu.nested_domain_alloc",
      "smmu.pgd_alloc",
      "smmu.pgtable_alloc",
      "smmu.strtab_alloc",
    ]);
  });
});

describe("checkInvariants", () => {
  it("is silent on a sound state and names what is broken otherwise", () => {
    const log = scenario();
    expect(checkInvariants(log.state.smmu)).toEqual([]);
    const i = inst0(log);
    const broken = new Map(log.state.smmu.instances);
    broken.set(0, { ...i, tlb: { ...i.tlb, count: i.tlb.count + 1 }, nextFree: i.tableEnd + 4096 });
    expect(checkInvariants({ instances: broken })).toEqual([
      "SMMU 0: allocator outside table memory",
      `SMMU 0: TLB count ${i.tlb.count + 1} ≠ ${i.tlb.count} entries`,
    ]);
  });
});
