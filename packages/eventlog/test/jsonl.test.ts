import { describe, expect, it } from "vitest";
import {
  createLog,
  encodeLog,
  LogFormatError,
  type LogRecord,
  readLog,
  stateHash,
  textSource,
} from "../src/index";
import { type KvMessage, type MemMessage, system, vocabulary } from "./fixture";

type SysMessage = KvMessage | MemMessage;

function sampleLog() {
  const log = createLog(system);
  log.dispatch({ type: "kv.batch", data: { keys: [1, 2], value: 0xffff_ffff_ffff_ffffn } });
  log.dispatch({ type: "mem.write", data: { pa: 0x1ffen, bytes: Uint8Array.from([1, 2, 3, 4, 5]) } });
  log.dispatch({ type: "kv.del", data: { key: 1 } });
  return log;
}

async function collect(text: string | Uint8Array): Promise<LogRecord<SysMessage>[]> {
  const src =
    typeof text === "string"
      ? textSource(text)
      : (async function* () {
          yield text;
        })();
  const opened = await readLog<SysMessage>(src, { vocabulary, file: "t.jsonl" });
  const out: LogRecord<SysMessage>[] = [];
  for await (const b of opened.batches) out.push(...b);
  return out;
}

async function failure(text: string): Promise<LogFormatError> {
  try {
    await collect(text);
  } catch (e) {
    if (e instanceof LogFormatError) return e;
    throw e;
  }
  throw new Error("log was accepted");
}

describe("JSON Lines codec", () => {
  it("writes a header then one record per line, u64 as 0x strings and bytes as base64", () => {
    const text = encodeLog(sampleLog().records, { platform: "test" });
    const lines = text.trimEnd().split("\n");
    expect(JSON.parse(lines[0]!)).toEqual({ platform: "test", kind: "iommu-sim/log", version: 1 });
    expect(JSON.parse(lines[1]!)).toEqual({
      seq: 1,
      type: "kv.batch",
      data: { keys: [1, 2], value: "0xffffffffffffffff" },
    });
    expect(JSON.parse(lines[5]!)).toEqual({
      seq: 5,
      type: "mem.written",
      data: { pa: "0x1ffe", bytes: "AQIDBAU=" },
    });
    expect(lines).toHaveLength(1 + sampleLog().seq);
  });

  it("reads back what it wrote, and the replay has the live hash", async () => {
    const log = sampleLog();
    const records = await collect(encodeLog(log.records));
    expect(records.map((r) => r.kind)).toEqual(log.records.map((r) => r.kind));
    const replayed = createLog(system);
    replayed.replay(records);
    expect(stateHash(replayed.state)).toBe(stateHash(log.state));
  });

  it("reads gzip logs", async () => {
    const log = sampleLog();
    const gz = new Blob([encodeLog(log.records)]).stream().pipeThrough(new CompressionStream("gzip"));
    const bytes = new Uint8Array(await new Response(gz).arrayBuffer());
    expect(bytes[0]).toBe(0x1f);
    const records = await collect(bytes);
    expect(records).toHaveLength(log.seq);
  });

  it("reads a file split into arbitrary chunks", async () => {
    const text = encodeLog(sampleLog().records);
    const bytes = new TextEncoder().encode(text);
    const src = (async function* () {
      for (let i = 0; i < bytes.length; i += 7) yield bytes.subarray(i, i + 7);
    })();
    const opened = await readLog(src, { vocabulary });
    let n = 0;
    for await (const b of opened.batches) n += b.length;
    expect(n).toBe(sampleLog().seq);
  });

  const good = () => encodeLog(sampleLog().records).trimEnd().split("\n");

  it("rejects a malformed line with its line number", async () => {
    const lines = good();
    lines[3] = lines[3]!.replace('"type"', '"tpye"');
    const e = await failure(lines.join("\n"));
    expect(e.message).toBe("t.jsonl:4: tpye: unknown member");
  });

  it("rejects a truncated log at the cut line", async () => {
    const text = good().join("\n");
    const e = await failure(text.slice(0, text.length - 10));
    expect(e.line).toBe(good().length);
    expect(e.field).toBe("json");
  });

  it("rejects reordered records", async () => {
    const lines = good();
    [lines[2], lines[3]] = [lines[3]!, lines[2]!];
    const e = await failure(lines.join("\n"));
    expect(e.message).toMatch(/^t\.jsonl:3: seq: expected 2, found 3/);
  });

  it("rejects a field that fails its schema, naming the field", async () => {
    const lines = good();
    lines[1] = lines[1]!.replace('"0xffffffffffffffff"', '"0xfffffffffffffffff"');
    const e = await failure(lines.join("\n"));
    expect(e.line).toBe(2);
    expect(e.field).toBe("data.value");
  });

  it("rejects bytes that pass the base64 pattern but are not base64, naming the field", async () => {
    const lines = good();
    const at = lines.findIndex((l) => l.includes('"mem.write"'));
    // "AQIDB": 5 characters, 4n + 1, which no base64 text has (RFC 4648 §4); atob throws.
    lines[at] = lines[at]!.replace('"AQIDBAU="', '"AQIDB"');
    expect((await failure(lines.join("\n"))).message).toBe(
      `t.jsonl:${at + 1}: data.bytes: not base64 (length or padding)`,
    );
  });

  it("rejects unknown types, events before commands, bad headers and empty files", async () => {
    const lines = good();
    expect((await failure([lines[0], lines[1]!.replace("kv.batch", "kv.nope")].join("\n"))).message).toBe(
      "t.jsonl:2: type: unknown message type 'kv.nope'",
    );
    expect((await failure([lines[0], lines[2]!.replace('"seq":2', '"seq":1')].join("\n"))).field).toBe(
      "type",
    );
    expect((await failure(lines.join("\n").replace('"version":1', '"version":2'))).message).toMatch(
      /^t\.jsonl:1: version: unsupported/,
    );
    expect((await failure("")).message).toBe("t.jsonl:1: header: empty file");
  });

  it("yields nothing after the first invalid line", async () => {
    const lines = good();
    lines[3] = "{";
    const opened = await readLog(textSource(lines.join("\n")), { vocabulary });
    const got: number[] = [];
    await expect(
      (async () => {
        for await (const b of opened.batches) got.push(...b.map((r) => r.seq));
      })(),
    ).rejects.toThrow(LogFormatError);
    expect(got).toEqual([1, 2]); // the valid lines before the bad one (line 4 = seq 3), nothing after
  });
});

describe("u64 fields", () => {
  it("decode exactly across the 2^53 boundary and at 2^64 − 1", async () => {
    const values = [
      0n,
      0x1f_ffff_ffff_ffffn,
      0x20_0000_0000_0000n,
      0x20_0000_0000_0001n,
      0xffff_ffff_ffff_ffffn,
    ];
    const log = createLog(system);
    for (const [i, value] of values.entries()) log.dispatch({ type: "kv.put", data: { key: i, value } });
    const records = await collect(encodeLog(log.records));
    const stored = records
      .filter((r) => r.type === "kv.stored")
      .map((r) => (r.data as { value: bigint }).value);
    expect(stored).toEqual(values);
  });
});
