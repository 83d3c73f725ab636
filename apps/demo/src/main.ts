/**
 * `pnpm demo`: until every package has landed, a minimal end-to-end run
 * through the log — commands decided, events committed, the log written as
 * JSON Lines, read back, replayed, and the state hashes compared.
 */
import { createReadStream, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  combine,
  createLog,
  encodeLog,
  FrameStore,
  readLog,
  type Subsystem,
  stateHash,
  Vocabulary,
} from "@iommu-sim/eventlog";
import { Bytes, command, errno, event, isErrno, type MessagesOf, U64 } from "@iommu-sim/uapi";
import { Type } from "@sinclair/typebox";

const messages = [
  command(
    "ram.write",
    Type.Object({ pa: U64("byte address"), bytes: Bytes() }),
    "write guest-physical memory",
  ),
  event("ram.written", Type.Object({ pa: U64("byte address"), bytes: Bytes() }), "memory was written"),
] as const;
type Msg = MessagesOf<typeof messages>;
type Cmd = Extract<Msg, { type: "ram.write" }>;
type Evt = Extract<Msg, { type: "ram.written" }>;

const RAM_BYTES = 1n << 32n;
const ram: Subsystem<Cmd, Evt, { frames: FrameStore }> = {
  commands: ["ram."],
  initialState: { frames: FrameStore.empty() },
  decide(_s, c, ctx) {
    if (c.data.pa + BigInt(c.data.bytes.length) > RAM_BYTES) return errno("EFAULT", "beyond the end of RAM");
    return ctx.step("ram.copy_from_user", "EFAULT") ?? [{ type: "ram.written", data: c.data }];
  },
  evolve: (s, e) => ({ frames: s.frames.write(Number(e.data.pa), e.data.bytes) }),
};

const system = combine({ ram });
const log = createLog(system);
const say = (s: string) => console.log(s);

say("iommu-sim demo (minimal: the full VT-d/SMMUv3/VFIO story lands with apps/demo)");
const text = new TextEncoder().encode("hello, DMA");
const ok = log.dispatch({ type: "ram.write", data: { pa: 0x1000_0ffan, bytes: text } });
say(
  `1. write ${text.length} bytes at PA 0x10000ffa (crosses a 4 KiB frame): ${isErrno(ok) ? ok : `${ok.length} event(s)`}`,
);
const bad = log.dispatch({ type: "ram.write", data: { pa: RAM_BYTES - 4n, bytes: text } });
say(
  `2. write past the end of RAM: ${isErrno(bad) ? `${bad.name} (${bad.reason}); nothing logged` : "unexpectedly accepted"}`,
);
log.failNth(1);
const injected = log.dispatch({ type: "ram.write", data: { pa: 0n, bytes: text } });
say(
  `3. fault injected at the copy step: ${isErrno(injected) ? injected.name : "?"}; log still has ${log.seq} records`,
);

const dir = mkdtempSync(join(tmpdir(), "iommu-sim-demo-"));
const file = join(dir, "demo.jsonl");
writeFileSync(file, encodeLog(log.records, { demo: "minimal" }));
const opened = await readLog(createReadStream(file), { vocabulary: new Vocabulary(messages), file });
const replayed = createLog(system);
for await (const batch of opened.batches) replayed.append(batch as never);
const live = stateHash(log.state);
const again = stateHash(replayed.state);
say(`4. log written to ${file}, replayed: ${replayed.seq} records`);
say(
  `   state hash live ${live.slice(0, 16)}…, replayed ${again.slice(0, 16)}… → ${live === again ? "equal" : "DIFFERENT"}`,
);
const back = new TextDecoder().decode(replayed.state.ram.frames.read(0x1000_0ffa, text.length));
say(`5. bytes read back from replayed memory: "${back}"`);
if (live !== again || back !== "hello, DMA") process.exit(1);
