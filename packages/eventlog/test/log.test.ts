import { isErrno } from "@iommu-sim/uapi";
import { describe, expect, it } from "vitest";
import { createLog, stateHash } from "../src/index";
import { system } from "./fixture";

const put = (key: number, value: bigint) => ({ type: "kv.put", data: { key, value } }) as const;
const write = (pa: bigint, bytes: number[]) =>
  ({ type: "mem.write", data: { pa, bytes: Uint8Array.from(bytes) } }) as const;

describe("EventLog.dispatch", () => {
  it("appends the command then its events with consecutive seq", () => {
    const log = createLog(system);
    const r = log.dispatch({ type: "kv.batch", data: { keys: [1, 2], value: 7n } });
    expect(isErrno(r)).toBe(false);
    expect(log.records.map((x) => [x.seq, x.kind, x.type])).toEqual([
      [1, "command", "kv.batch"],
      [2, "event", "kv.stored"],
      [3, "event", "kv.stored"],
    ]);
    expect(log.state.kv.entries).toEqual({ 1: 7n, 2: 7n });
    expect(log.seq).toBe(3);
  });

  it("a failed command leaves no record and the same state", () => {
    const log = createLog(system);
    log.dispatch(put(1, 1n));
    const before = stateHash(log.state);
    const r = log.dispatch({ type: "kv.del", data: { key: 9 } });
    expect(isErrno(r) && r.name).toBe("ENOENT");
    expect(log.seq).toBe(2);
    expect(stateHash(log.state)).toBe(before);
  });

  it("answers ENOTTY for a command no subsystem owns", () => {
    const log = createLog(system);
    const r = log.dispatch({ type: "nope.x", data: {} } as never);
    expect(isErrno(r) && r.name).toBe("ENOTTY");
    expect(log.seq).toBe(0);
  });
});

describe("streams", () => {
  it("emit once per committed command, not per event, and never for failures", () => {
    const log = createLog(system);
    const events: number[] = [];
    const states: number[] = [];
    const commands: string[] = [];
    log.events$.subscribe((b) => events.push(b.length));
    log.state$.subscribe((s) => states.push(s.kv.puts));
    log.commands$.subscribe((c) => commands.push(c.command.type));
    log.dispatch({ type: "kv.batch", data: { keys: [1, 2, 3], value: 1n } });
    log.dispatch({ type: "kv.del", data: { key: 42 } });
    log.dispatch(put(4, 4n));
    expect(events).toEqual([3, 1]);
    expect(states).toEqual([3, 4]);
    expect(commands).toEqual(["kv.batch", "kv.put"]);
  });

  it("re-entrant dispatch is committed at once and emitted FIFO", () => {
    const log = createLog(system);
    const seen: string[] = [];
    log.commands$.subscribe((c) => {
      seen.push(`a:${c.command.seq}`);
      if (c.command.type === "kv.put" && c.command.seq === 1) {
        const r = log.dispatch(put(2, 2n));
        expect(isErrno(r)).toBe(false);
      }
    });
    log.commands$.subscribe((c) => seen.push(`b:${c.command.seq}`));
    log.dispatch(put(1, 1n));
    expect(seen).toEqual(["a:1", "b:1", "a:3", "b:3"]);
    expect(log.state.kv.entries).toEqual({ 1: 1n, 2: 2n });
  });

  it("emitted states are sealed: later writes to bulk tables do not change them", () => {
    const log = createLog(system);
    const kept: Uint8Array[] = [];
    log.state$.subscribe((s) => kept.push(s.mem.frames.read(0x1000, 2)));
    const states: (typeof log.state)[] = [];
    log.state$.subscribe((s) => states.push(s));
    log.dispatch(write(0x1000n, [1, 2]));
    log.dispatch(write(0x1000n, [3, 4]));
    expect([...states[0]!.mem.frames.read(0x1000, 2)]).toEqual([1, 2]);
    expect([...states[1]!.mem.frames.read(0x1000, 2)]).toEqual([3, 4]);
  });
});

describe("snapshots, replay and stateAt", () => {
  function busyLog() {
    const log = createLog(system, { snapshotEvery: 5 });
    for (let i = 0; i < 20; i++) {
      log.dispatch(put(i % 7, BigInt(i)));
      log.dispatch(write(BigInt(0x1000 * (i % 3) + i), [i, i + 1]));
      if (i % 4 === 0) log.dispatch({ type: "kv.del", data: { key: i % 7 } });
    }
    return log;
  }

  it("a snapshot does not change when the log goes on", () => {
    const log = busyLog();
    const snap = log.snapshot();
    const hash = stateHash(snap.state);
    log.dispatch(write(0x1000n, [9, 9, 9]));
    log.dispatch(put(100, 1n));
    expect(stateHash(snap.state)).toBe(hash);
    expect(stateHash(log.state)).not.toBe(hash);
  });

  it("replaying the records reproduces the live state hash", () => {
    const log = busyLog();
    const live = stateHash(log.state);
    const other = createLog(system);
    other.replay(log.records);
    expect(stateHash(other.state)).toBe(live);
  });

  it("snapshot + tail equals full replay", () => {
    const log = busyLog();
    const mid = log.stateAt(30);
    const tail = log.records.slice(30);
    const a = createLog(system);
    a.replay(tail, { seq: 30, state: mid });
    const b = createLog(system);
    b.replay(log.records);
    expect(stateHash(a.state)).toBe(stateHash(b.state));
    expect(a.seq).toBe(log.seq);
  });

  it("stateAt(seq) equals the live state at every seq", () => {
    const log = createLog(system, { snapshotEvery: 4 });
    const hashes = [stateHash(log.state)];
    for (let i = 0; i < 15; i++) {
      log.dispatch(i % 2 ? put(i, BigInt(i)) : write(BigInt(i * 4096 + 5), [i]));
      hashes[log.seq] = stateHash(log.state);
    }
    for (let seq = 0; seq <= log.seq; seq++) {
      if (hashes[seq] !== undefined) expect(stateHash(log.stateAt(seq))).toBe(hashes[seq]);
    }
    expect(() => log.stateAt(log.seq + 1)).toThrow(RangeError);
  });

  it("restore rewinds to an own snapshot and continues from it", () => {
    const log = busyLog();
    const snap = log.snapshot();
    const h = stateHash(snap.state);
    log.dispatch(put(1000, 1n));
    log.restore(snap);
    expect(log.seq).toBe(snap.seq);
    expect(stateHash(log.state)).toBe(h);
    log.dispatch(put(1001, 1n));
    expect(log.seq).toBe(snap.seq + 2);
    expect(log.records.length).toBe(snap.seq + 2);
  });

  it("restore of a foreign snapshot starts the log after its seq", () => {
    const a = busyLog();
    const snap = a.snapshot();
    const b = createLog(system);
    b.restore(snap);
    b.dispatch(put(5, 5n));
    expect(b.seq).toBe(snap.seq + 2);
    expect(b.records[0]!.seq).toBe(snap.seq + 1);
    expect(stateHash(b.stateAt(snap.seq))).toBe(stateHash(snap.state));
  });

  it("replay rejects a gap", () => {
    const log = busyLog();
    const recs = [...log.records];
    recs.splice(3, 1);
    expect(() => createLog(system).replay(recs)).toThrow(/seq 5 where 4/);
  });
});

describe("fault injection", () => {
  it("failing each step of a multi-step command leaves state, seq and hash unchanged", () => {
    const log = createLog(system);
    log.dispatch(put(1, 1n));
    const before = stateHash(log.state);
    const seq = log.seq;
    let n = 1;
    for (; ; n++) {
      log.failNth(n);
      const r = log.dispatch({ type: "kv.batch", data: { keys: [5, 6, 7, 8], value: 3n } });
      if (!log.lastSteps.fired) {
        expect(isErrno(r)).toBe(false);
        break;
      }
      expect(isErrno(r) && r.name).toBe("ENOMEM");
      expect(log.lastSteps.sites[n - 1]).toBe(`kv.alloc[${[5, 6, 7, 8][n - 1]}]`);
      expect(log.seq).toBe(seq);
      expect(stateHash(log.state)).toBe(before);
    }
    expect(n).toBe(5);
  });

  it("uses the step's own errno unless another is armed", () => {
    const log = createLog(system);
    log.failNth(1);
    const r1 = log.dispatch(write(0n, [1]));
    expect(isErrno(r1) && r1.name).toBe("EFAULT");
    log.failNth(1, "EIO");
    const r2 = log.dispatch(write(0n, [1]));
    expect(isErrno(r2) && r2.name).toBe("EIO");
    const r3 = log.dispatch(write(0n, [1]));
    expect(isErrno(r3)).toBe(false);
  });

  it("rejects a non-positive n", () => {
    expect(() => createLog(system).failNth(0)).toThrow(RangeError);
  });
});

describe("EventLog retain", () => {
  // Each put is 2 records (command + kv.stored); snapshots every 8 records.
  const fill = (n: number, options: { retain?: number }) => {
    const log = createLog(system, { snapshotEvery: 8, ...options });
    for (let i = 0; i < n; i++) expect(isErrno(log.dispatch(put(i % 7, BigInt(i))))).toBe(false);
    return log;
  };

  it("keeps between retain and 2 × retain of the newest records, in seq order, and the same state as a full log", () => {
    const full = fill(500, {});
    const kept = fill(500, { retain: 20 });
    expect(kept.seq).toBe(1000);
    expect(kept.records.length).toBeGreaterThanOrEqual(20);
    expect(kept.records.length).toBeLessThan(40);
    const first = kept.records[0]!.seq;
    expect(kept.records.map((r) => r.seq)).toEqual(
      Array.from({ length: kept.records.length }, (_, i) => first + i),
    );
    expect(kept.records).toEqual(full.records.slice(first - 1));
    expect(stateHash(kept.state)).toBe(stateHash(full.state));
  });

  it("stateAt reaches back to the oldest snapshot kept, and no further", () => {
    const full = fill(500, {});
    const kept = fill(500, { retain: 20 });
    const oldest = kept.records[0]!.seq - 1; // the snapshot the kept records start from
    for (const seq of [oldest, oldest + 3, 1000])
      expect(stateHash(kept.stateAt(seq))).toBe(stateHash(full.stateAt(seq)));
    expect(() => kept.stateAt(oldest - 1)).toThrow(RangeError);
    expect(() => kept.stateAt(0)).toThrow(RangeError);
  });

  it("a snapshot taken before the trim restores as a foreign one; a recent own one as before", () => {
    const log = createLog(system, { snapshotEvery: 8, retain: 20 });
    log.dispatch(put(1, 1n));
    const early = log.snapshot();
    for (let i = 0; i < 100; i++) log.dispatch(put(2, BigInt(i)));
    const late = log.snapshot();
    log.dispatch(put(3, 3n));
    log.restore(late);
    expect(log.seq).toBe(late.seq);
    expect(log.records.at(-1)!.seq).toBe(late.seq);
    log.restore(early);
    expect(log.seq).toBe(early.seq);
    expect(log.records).toEqual([]);
    expect(log.state.kv.entries).toEqual({ 1: 1n });
  });

  it("refuses a retain below 1", () => {
    expect(() => createLog(system, { retain: 0 })).toThrow(RangeError);
  });
});
