/** A small two-subsystem system used by the eventlog tests. */
import { Bytes, command, errno, event, type MessagesOf, U64, UInt } from "@iommu-sim/uapi";
import { Type } from "@sinclair/typebox";
import { combine, FrameStore, type Subsystem, Vocabulary } from "../src/index";

export const kvMessages = [
  command("kv.put", Type.Object({ key: UInt(32), value: U64() }), "put one key"),
  command(
    "kv.batch",
    Type.Object({ keys: Type.Array(UInt(32)), value: U64() }),
    "put several keys, one fallible step each",
  ),
  command("kv.del", Type.Object({ key: UInt(32) }), "delete one key"),
  event("kv.stored", Type.Object({ key: UInt(32), value: U64() }), "a key was stored"),
  event("kv.deleted", Type.Object({ key: UInt(32) }), "a key was deleted"),
] as const;
export const memMessages = [
  command("mem.write", Type.Object({ pa: U64("byte address"), bytes: Bytes() }), "write bytes"),
  event("mem.written", Type.Object({ pa: U64("byte address"), bytes: Bytes() }), "bytes were written"),
] as const;

export type KvMessage = MessagesOf<typeof kvMessages>;
export type MemMessage = MessagesOf<typeof memMessages>;
type KvCommand = Extract<KvMessage, { type: "kv.put" | "kv.batch" | "kv.del" }>;
type KvEvent = Extract<KvMessage, { type: "kv.stored" | "kv.deleted" }>;
type MemCommand = Extract<MemMessage, { type: "mem.write" }>;
type MemEvent = Extract<MemMessage, { type: "mem.written" }>;

export interface KvState {
  readonly entries: Readonly<Record<number, bigint>>;
  readonly puts: number;
}

export const kv: Subsystem<KvCommand, KvEvent | MemEvent, KvState, { kv: KvState; mem: MemState }> = {
  commands: ["kv."],
  events: ["kv."],
  initialState: { entries: {}, puts: 0 },
  decide(state, c, ctx) {
    switch (c.type) {
      case "kv.put": {
        const f = ctx.step("kv.alloc");
        if (f) return f;
        return [{ type: "kv.stored", data: { key: c.data.key, value: c.data.value } }];
      }
      case "kv.batch": {
        const out: KvEvent[] = [];
        for (const key of c.data.keys) {
          const f = ctx.step(`kv.alloc[${key}]`);
          if (f) return f;
          out.push({ type: "kv.stored", data: { key, value: c.data.value } });
        }
        return out;
      }
      case "kv.del":
        if (!(c.data.key in state.entries)) return errno("ENOENT", `no key ${c.data.key}`);
        return [{ type: "kv.deleted", data: { key: c.data.key } }];
    }
  },
  evolve(state, e) {
    switch (e.type) {
      case "kv.stored":
        return { entries: { ...state.entries, [e.data.key]: e.data.value }, puts: state.puts + 1 };
      case "kv.deleted": {
        const { [e.data.key]: _gone, ...entries } = state.entries;
        return { entries, puts: state.puts };
      }
      default:
        return state;
    }
  },
};

export interface MemState {
  readonly frames: FrameStore;
}

export const mem: Subsystem<MemCommand, MemEvent | KvEvent, MemState, { kv: KvState; mem: MemState }> = {
  commands: ["mem."],
  events: ["mem."],
  initialState: { frames: FrameStore.empty() },
  decide(_state, c, ctx) {
    if (c.data.pa + BigInt(c.data.bytes.length) > 2n ** 40n)
      return errno("EFAULT", "beyond simulated memory");
    const f = ctx.step("mem.copy_from_user", "EFAULT");
    if (f) return f;
    return [{ type: "mem.written", data: c.data }];
  },
  evolve(state, e) {
    if (e.type !== "mem.written") return state;
    const frames = state.frames.write(Number(e.data.pa), e.data.bytes);
    return frames === state.frames ? state : { frames };
  },
};

export const system = combine({ kv, mem });
export const vocabulary = new Vocabulary([...kvMessages, ...memMessages]);
export type SysCommand = KvCommand | MemCommand;
