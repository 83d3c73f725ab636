/**
 * The web view's models, without a browser: formatting, the generic
 * inspector, the object graph, the PASID table and log loading.
 */
import { gzipSync } from "node:zlib";
import {
  BULK_TAG,
  combine,
  createLog,
  encodeLog,
  FrameStore,
  type LogRecord,
  type Message,
  stateHash,
  textSource,
} from "@iommu-sim/eventlog";
import { createIoasid, PasidBitmap, type PasidDevice } from "@iommu-sim/ioasid";
import type { IommufdState } from "@iommu-sim/iommufd";
import { isErrno } from "@iommu-sim/uapi";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { mockDomainMaps } from "../web/src/domains";
import { bytesText, hex, ranges, shortData } from "../web/src/format";
import { objectGraph } from "../web/src/graph";
import { describe as describeValue, MAX_CHILDREN } from "../web/src/inspect";
import { iovaMaps, protText } from "../web/src/iova";
import { fetchLog, loadLog, VIEWER_SNAPSHOT_EVERY } from "../web/src/load";
import { bdf, pasidTable } from "../web/src/pasids";
import {
  SAMPLE_BUFFER_LENGTH,
  SAMPLE_COMMANDS,
  SAMPLE_IOVA,
  sampleLogText,
  sampleRecords,
} from "../web/src/sample";
import { stateStep } from "../web/src/states";
import { defaultSystem, type ViewerRoot } from "../web/src/system";

describe("format", () => {
  it("prints u64 values as 0x hex and data as key=value", () => {
    expect(hex(0xfee0_0000n)).toBe("0xfee00000");
    expect(hex(4096)).toBe("0x1000");
    expect(shortData({ ctx: 1, value: 1n, vfio: true })).toBe("ctx=1 value=0x1 vfio=true");
    expect(shortData({ pa: 0x1000n, bytes: new Uint8Array(3), runs: [1, 2], o: { a: 1 } })).toBe(
      "pa=0x1000 bytes=<3 bytes> runs=[2] o={…}",
    );
    expect(shortData({ s: "x".repeat(200) }, 10)).toBe('s="xxxxxx…');
    expect(shortData({ s: "x" }, 10)).toBe('s="x"');
  });

  it("writes ascending ids as ranges", () => {
    expect(ranges([])).toBe("");
    expect(ranges([0])).toBe("0");
    expect(ranges([1, 2, 3, 7])).toBe("1-3, 7");
    expect(ranges([0, 2, 4, 5])).toBe("0, 2, 4-5");
  });

  it("ranges lists exactly the ids given (property, against expanding the text back)", () => {
    const expand = (text: string): number[] =>
      text === ""
        ? []
        : text.split(", ").flatMap((part) => {
            const [a, b] = part.split("-").map(Number) as [number, number | undefined];
            return Array.from({ length: (b ?? a) - a + 1 }, (_, i) => a + i);
          });
    fc.assert(
      fc.property(fc.uniqueArray(fc.nat(300), { maxLength: 60 }), (xs) => {
        const ids = [...xs].sort((a, b) => a - b);
        expect(expand(ranges(ids))).toEqual(ids);
      }),
    );
  });

  it("prints byte counts in binary units only when exact", () => {
    expect(bytesText(4096)).toBe("4 KiB");
    expect(bytesText(1536)).toBe("1536 bytes");
    expect(bytesText(2 * 1024 * 1024)).toBe("2 MiB");
    expect(bytesText(2 ** 30)).toBe("1 GiB");
  });
});

describe("inspector", () => {
  it("shows scalars: bigints in hex, integers ≥ 4 KiB with their hex", () => {
    expect(describeValue(0xfffff000n).summary).toBe("0xfffff000");
    expect(describeValue(4096).summary).toBe("4096 (0x1000)");
    expect(describeValue(12).summary).toBe("12");
    expect(describeValue("mm").summary).toBe('"mm"');
    expect(describeValue(null).summary).toBe("null");
    expect(describeValue(undefined).children).toBeUndefined();
  });

  it("summarises byte arrays by length and first bytes", () => {
    expect(describeValue(new Uint8Array([0xde, 0xad, 0xbe, 0xef])).summary).toBe(
      "Uint8Array(4 bytes) de ad be ef",
    );
    const big = describeValue(new Uint8Array(4096).fill(0xff));
    expect(big.summary).toBe(`Uint8Array(4096 bytes) ${"ff ".repeat(16)}…`);
    expect(big.children).toBeUndefined();
  });

  it("summarises a FrameStore by frames and lists them by PFN", () => {
    // PA 0x1000_0ffa: the write crosses from frame 0x10000 into 0x10001.
    const ram = FrameStore.empty().write(0x1000_0ffa, new TextEncoder().encode("hello, DMA"));
    const d = describeValue(ram);
    expect(d.summary).toBe("FrameStore: 2 frame(s) of 4 KiB (8 KiB)");
    const kids = d.children!();
    expect(kids.map(([k]) => k)).toEqual(["pfn 0x10000", "pfn 0x10001"]);
    expect(describeValue(kids[1]![1]).summary).toMatch(/^Uint8Array\(4096 bytes\) 20 44 4d 41 00/); // " DMA": 0xffa + 6 bytes ends frame 0x10000
  });

  it("summarises an id bitmap by count and ranges", () => {
    const b = PasidBitmap.empty(20).set(0).set(1).set(2).set(0x100);
    expect(describeValue(b).summary).toBe("PasidBitmap: 4 of 1048576 set {0-2, 256}");
  });

  it("lists a bulk map (a ReadonlyMap with a bulk tag, like iopt's EpochMap) by its entries", () => {
    const inner = new Map([[7, { id: 7 }]]);
    const table = {
      [BULK_TAG]: "iopt.EpochMap",
      size: inner.size,
      get: (k: number) => inner.get(k),
      entries: () => inner.entries(),
      values: () => inner.values(),
      encode: () => {},
    };
    const d = describeValue(table);
    expect(d.summary).toBe("EpochMap(1)");
    expect(d.children!()).toEqual([["7", { id: 7 }]]);
  });

  it("lists containers with their sizes, at most MAX_CHILDREN children", () => {
    const m = describeValue(new Map([[1n, "a"]]));
    expect(m.summary).toBe("Map(1)");
    expect(m.children!()).toEqual([["0x1", "a"]]);
    const arr = describeValue(Array.from({ length: MAX_CHILDREN + 5 }, (_, i) => i));
    expect(arr.summary).toBe(`Array(${MAX_CHILDREN + 5})`);
    expect(arr.count).toBe(MAX_CHILDREN + 5);
    expect(arr.children!()).toHaveLength(MAX_CHILDREN);
    expect(describeValue({}).summary).toBe("{}");
    expect(describeValue({ a: 1, b: 2 }).children!()).toEqual([
      ["a", 1],
      ["b", 2],
    ]);
  });
});

describe("object graph", () => {
  // A context as iommufd will hold it once objects can be allocated: an IOAS,
  // a paging HWPT on it, a device attached to the HWPT, and an access on the IOAS.
  const iommufd: IommufdState = {
    hwDomains: {},
    nextContext: 3,
    nextKobj: 5,
    contexts: {
      2: {
        id: 2,
        pid: 200,
        vfio: true,
        accountMode: "mm",
        objects: {
          4: { id: 4, type: "access", refs: [1] },
          1: { id: 1, type: "ioas", refs: [] },
          3: { id: 3, type: "device", refs: [2] },
          2: { id: 2, type: "hwpt_paging", refs: [1] },
        },
      },
      1: { id: 1, pid: 100, vfio: false, accountMode: "user", objects: {} },
    },
  };

  it("lays contexts and objects out in id order, columns IOAS → HWPT → devices", () => {
    const g = objectGraph({ iommufd })!;
    expect(g.objectCount).toBe(4);
    expect(g.contexts.map((c) => [c.id, c.pid, c.vfio, c.accountMode])).toEqual([
      [1, 100, false, "user"],
      [2, 200, true, "mm"],
    ]);
    expect(g.contexts[1]!.objects.map((o) => [o.id, o.type, o.refs, o.column, o.row])).toEqual([
      [1, "ioas", [], 0, 0],
      [2, "hwpt_paging", [1], 1, 0],
      [3, "device", [2], 4, 0],
      [4, "access", [1], 4, 1],
    ]);
  });

  it("links the sample's selftest device → device → HWPT → IOAS, as iommufd_test_mock_domain builds them", () => {
    const g = objectGraph(sampleStates().state)!;
    const objects = g.contexts.find((c) => c.id === 1)!.objects;
    const byType = new Map(objects.map((o) => [o.type, o]));
    expect([...byType.keys()].sort()).toEqual(["device", "hwpt_paging", "ioas", "selftest"]);
    expect(byType.get("hwpt_paging")!.refs).toEqual([byType.get("ioas")!.id]);
    expect(byType.get("device")!.refs).toEqual([byType.get("hwpt_paging")!.id]);
    expect(byType.get("selftest")!.refs).toEqual([byType.get("device")!.id]);
    expect(byType.get("ioas")!.column).toBe(0);
  });

  it("puts every object right of the objects it holds: vIOMMU → parent HWPT, vDEVICE → vIOMMU and device", () => {
    const obj = (id: number, type: string, refs: number[]) => ({ id, type, refs });
    const g = objectGraph({
      iommufd: {
        contexts: {
          1: {
            id: 1,
            objects: {
              1: obj(1, "ioas", []),
              2: obj(2, "hwpt_paging", [1]),
              3: obj(3, "device", [2]),
              4: obj(4, "viommu", [2]),
              5: obj(5, "hwpt_nested", [4]),
              6: obj(6, "vdevice", [4, 3]),
              7: obj(7, "selftest", [3]),
            },
          },
        },
      },
    })!;
    const objects = g.contexts[0]!.objects;
    const column = new Map(objects.map((o) => [o.id, o.column]));
    expect(objects.map((o) => [o.type, o.column])).toEqual([
      ["ioas", 0],
      ["hwpt_paging", 1],
      ["device", 4],
      ["viommu", 2],
      ["hwpt_nested", 3],
      ["vdevice", 5],
      ["selftest", 6],
    ]);
    for (const o of objects) for (const r of o.refs) expect(column.get(r)!).toBeLessThan(o.column);
  });

  it("is undefined without an iommufd slice, and ignores entries of another shape", () => {
    expect(objectGraph({})).toBeUndefined();
    expect(objectGraph({ iommufd: { contexts: 3 } })).toBeUndefined();
    const g = objectGraph({ iommufd: { contexts: { 1: { id: 1, objects: { 1: { id: "x" } } }, 2: null } } });
    expect(g).toEqual({
      contexts: [{ id: 1, pid: 0, vfio: false, accountMode: "?", objects: [] }],
      objectCount: 0,
    });
  });
});

/** The state after each record of the sample session, from a live log of the default system. */
function sampleStates() {
  const log = createLog(defaultSystem());
  for (const c of SAMPLE_COMMANDS) expect(isErrno(log.dispatch(c))).toBe(false);
  return log;
}

/** The mock domain's id: the kernel object behind the paging HWPT the mock device's attach allocated. */
function sampleDomain(records: readonly LogRecord[]): number {
  const hwpt = records.find(
    (r) => r.type === "iommufd.object.created" && (r.data as { type: string }).type === "hwpt_paging",
  );
  return (hwpt!.data as { kobj: number }).kobj;
}

describe("IOVA map", () => {
  it("lists each IOAS's areas, reserved ranges and domains", () => {
    const log = sampleStates();
    const domainId = sampleDomain(log.records);
    const maps = iovaMaps(log.state)!;
    expect(maps.map((m) => m.id)).toEqual([1]);
    const m = maps[0]!;
    // 16 KiB mapped at 2^24 read/write, from the start of the first iopt_pages.
    expect(m.areas).toEqual([{ iova: 0x100_0000n, last: 0x100_3fffn, prot: 3, pages: 1, startByte: 0n }]);
    expect(m.mappedBytes).toBe(SAMPLE_BUFFER_LENGTH);
    // A mock domain's aperture is [2^24, 2^31 − 1] (selftest.c MOCK_APERTURE_*): iopt reserves the rest for it.
    expect(m.reserved).toEqual([
      { start: 0n, last: 0xff_ffffn, owner: domainId },
      { start: 0x8000_0000n, last: 2n ** 64n - 1n, owner: domainId },
    ]);
    expect(m.domains).toEqual([
      { id: domainId, ioPageSize: 2048, apertureStart: 0x100_0000n, apertureLast: 0x7fff_ffffn },
    ]);
    expect(m.allowed).toEqual([]);
  });

  it("is undefined without an iopt slice; prot as R/W letters", () => {
    expect(iovaMaps({ iommufd: {} })).toBeUndefined();
    expect(iovaMaps({ iopt: { ioas: new Map() } })).toEqual([]);
    expect([0, 1, 2, 3].map(protText)).toEqual(["--", "R-", "-W", "RW"]);
  });
});

describe("mock domain page tables", () => {
  it("decodes the 2 KiB entries into IOVA → PA runs matching the mapped frames", () => {
    const log = sampleStates();
    const mapped = log.records.find((r) => r.type === "ioas.mapped")!.data as {
      pfnRuns: { pfn: number; count: number }[];
    };
    // The area was pinned as one run of 4 KiB frames: one translation run from its first frame.
    expect(mapped.pfnRuns).toHaveLength(1);
    const d = mockDomainMaps(log.state)!;
    expect(d).toHaveLength(1);
    expect(d[0]).toEqual({
      id: sampleDomain(log.records),
      ioas: 1,
      ioPageSize: 2048,
      entries: 8, // 16 KiB / 2 KiB
      tableFrames: 1, // entries 8192…8199: one 512-entry table frame
      runs: [{ iova: SAMPLE_IOVA, last: SAMPLE_IOVA + 0x3fffn, pa: mapped.pfnRuns[0]!.pfn * 4096, prot: 3 }],
    });
  });

  it("is empty before the map and undefined without the slice", () => {
    const log = sampleStates();
    const beforeMap = log.records.find((r) => r.type === "ioas.map")!.seq;
    expect(mockDomainMaps(log.stateAt(beforeMap))!.map((d) => [d.id, d.entries, d.runs])).toEqual([
      [sampleDomain(log.records), 0, []],
    ]);
    expect(mockDomainMaps({})).toBeUndefined();
  });
});

describe("defaultSystem", () => {
  it("has the ioasid and iommufd slices and routes each one's commands to it", () => {
    const only = defaultSystem();
    expect(Object.keys(only.initialState)).toContain("ioasid");
    expect(Object.keys(only.initialState)).toContain("iommufd");
    const log = createLog(only);
    expect(isErrno(log.dispatch({ type: "ioasid.open", data: { pid: 5 } }))).toBe(false);
    expect(isErrno(log.dispatch({ type: "iommufd.open", data: { pid: 5, vfio: false } }))).toBe(false);
    const s = log.state as { ioasid: { users: Record<number, number> }; iommufd: { contexts: object } };
    expect(s.ioasid.users).toEqual({ 5: 1 });
    expect(Object.keys(s.iommufd.contexts)).toEqual(["1"]);
  });

  it("answers ENOTTY for a command nobody decides", () => {
    const log = createLog(defaultSystem());
    const r = log.dispatch({ type: "nobody.knows", data: {} });
    expect(isErrno(r) && r.name).toBe("ENOTTY");
    expect(log.seq).toBe(0);
  });
});

describe("PASID table", () => {
  it("writes requester ids as bus:dev.fn", () => {
    expect(bdf((0x00 << 8) | (0x1f << 3) | 6)).toBe("00:1f.6");
    expect(bdf((0x3a << 8) | (0x02 << 3) | 1)).toBe("3a:02.1");
  });

  it("lists the reserved, IOASID-set and system PASIDs with their owners", () => {
    const dev: PasidDevice = {
      pasidEnabled: true,
      groupSize: 1,
      trusted: true,
      external: false,
      onSocket: true,
    };
    const rid = (0 << 8) | (2 << 3) | 0; // 00:02.0
    const ioasid = createIoasid({ devices: (_r, r) => (r === rid ? dev : undefined) });
    const log = createLog(combine({ ioasid }));
    const cmds: Message[] = [
      { type: "ioasid.open", data: { pid: 100 } },
      { type: "ioasid.alloc", data: { pid: 100, fd: 1, min: 1, max: 0xfffff } },
      { type: "systemPasid.enable", data: { rid } },
    ];
    for (const c of cmds) expect(isErrno(log.dispatch(c as never))).toBe(false);
    const t = pasidTable(log.state as unknown as ViewerRoot)!;
    // PASID 0 reserved (VT-d RID_PASID); allocations take the lowest free PASID ≥ 1.
    expect(t.rows).toEqual([
      { pasid: 0, use: "reserved", owner: "— (requests without PASID)" },
      { pasid: 1, use: "ioasid", owner: "mm 100" },
      { pasid: 2, use: "system", owner: "rid 00:02.0" },
    ]);
    expect(t.taken).toBe(3);
    expect(t.capacity).toBe(2 ** 20);
    expect(pasidTable(log.state as unknown as ViewerRoot, 1)!.rows).toHaveLength(1);
  });

  it("is undefined without an ioasid slice", () => {
    expect(pasidTable({ iommufd: {} })).toBeUndefined();
  });
});

/** A log of `cycles` PASID allocations after an open, every third PASID freed again: long enough to cross several viewer snapshots. */
function longLog(cycles: number): readonly LogRecord[] {
  const log = createLog(defaultSystem());
  const run = (c: Message) => {
    const r = log.dispatch(c);
    if (isErrno(r)) throw new Error(`${c.type}: ${r.toString()}`);
    return r;
  };
  run({ type: "iommufd.open", data: { pid: 7, vfio: false } });
  run({ type: "ioasid.open", data: { pid: 100 } });
  for (let i = 0; i < cycles; i++) {
    const events = run({ type: "ioasid.alloc", data: { pid: 100, fd: 1, min: 1, max: 0xfffff } });
    const pasid = (events.find((e) => e.type === "pasid.allocated")!.data as { pasid: number }).pasid;
    if (i % 3 === 2) run({ type: "ioasid.free", data: { pid: 100, fd: 1, pasid } });
  }
  return log.records;
}

describe("loading a log", () => {
  it("replays the sample log to the state the live log reached", async () => {
    const live = createLog(defaultSystem());
    for (const c of SAMPLE_COMMANDS) live.dispatch(c);
    const loaded = await loadLog(textSource(sampleLogText()), "sample.jsonl", defaultSystem());
    expect(loaded.error).toBeUndefined();
    expect(loaded.header?.source).toBe("iommu-sim demo web sample");
    expect(loaded.log.seq).toBe(live.seq);
    expect(stateHash(loaded.log.state)).toBe(stateHash(live.state));
  });

  it("reads gzip in small chunks", async () => {
    const text = sampleLogText();
    const gz = gzipSync(text);
    async function* chunks() {
      for (let i = 0; i < gz.length; i += 7) yield gz.subarray(i, i + 7);
    }
    const loaded = await loadLog(chunks(), "sample.jsonl.gz", defaultSystem());
    expect(loaded.error).toBeUndefined();
    expect(loaded.log.seq).toBe(text.trimEnd().split("\n").length - 1);
  });

  it("reports progress after batches when asked to", async () => {
    const lines = sampleLogText().trimEnd().split("\n");
    async function* chunks() {
      // Header + 9 records, then the rest: two batches.
      yield new TextEncoder().encode(`${lines.slice(0, 10).join("\n")}\n`);
      yield new TextEncoder().encode(`${lines.slice(10).join("\n")}\n`);
    }
    const seen: number[] = [];
    const loaded = await loadLog(chunks(), "p.jsonl", defaultSystem(), {
      onProgress: (n) => seen.push(n),
      progressEveryMs: 0,
    });
    expect(seen).toEqual([9, lines.length - 1]);
    expect(loaded.log.seq).toBe(lines.length - 1);
  });

  it("stops at a bad line with file:line: field: reason, keeping the batches read before it", async () => {
    const lines = sampleLogText().trimEnd().split("\n");
    lines[4] = lines[4]!.replace('"pid":200', '"pid":-1'); // record 4, on line 5
    // Two chunks, the first ending after line 4: the reader validates line by line, a batch per chunk.
    async function* chunks() {
      const enc = new TextEncoder();
      yield enc.encode(`${lines.slice(0, 4).join("\n")}\n`);
      yield enc.encode(`${lines.slice(4).join("\n")}\n`);
    }
    const loaded = await loadLog(chunks(), "bad.jsonl", defaultSystem());
    expect(loaded.error).toMatch(/^bad\.jsonl:5: \S*pid\S*: /);
    expect(loaded.log.seq).toBe(3);
    expect(objectGraph(loaded.log.state)!.contexts.map((c) => c.id)).toEqual([1]);
  });

  it("reports a missing header", async () => {
    const loaded = await loadLog(textSource(""), "empty.jsonl", defaultSystem());
    expect(loaded.error).toBe("empty.jsonl:1: header: empty file");
    expect(loaded.header).toBeUndefined();
    expect(loaded.log.seq).toBe(0);
  });

  it("fetches a URL, and reports a failed fetch", async () => {
    const url = `data:application/x-ndjson;base64,${Buffer.from(sampleLogText()).toString("base64")}`;
    const ok = await fetchLog(url, defaultSystem());
    expect(ok.error).toBeUndefined();
    expect(ok.log.seq).toBe(sampleRecords().length);
    const down = await fetchLog("http://127.0.0.1:1/none.jsonl", defaultSystem());
    expect(down.error).toMatch(/^http:\/\/127\.0\.0\.1:1\/none\.jsonl: /);
    expect(down.log.seq).toBe(0);
  });

  it("stateStep gives the state at seq, the one before, and the slices the record changed", async () => {
    const records = longLog(400);
    const system = defaultSystem();
    const loaded = await loadLog(textSource(encodeLog(records)), "long.jsonl", system);
    const log = loaded.log;
    // A PASID allocation changes the ioasid slice only; its command record changes nothing.
    const allocated = records.filter((r) => r.type === "pasid.allocated").map((r) => r.seq);
    const alloc = allocated[300]! - 2; // the ioasid.alloc command: command, quota.charged, pasid.allocated
    expect(records[alloc - 1]!.type).toBe("ioasid.alloc");
    expect(stateStep(log, alloc).changed).toEqual([]);
    expect(stateStep(log, allocated[300]!).changed).toEqual(["ioasid"]);
    expect(stateStep(log, 2).changed).toEqual(["iommufd"]); // iommufd.opened
    expect(stateStep(log, 0)).toEqual({ root: system.initialState, before: undefined, changed: [] });
    // At a snapshot boundary and off it alike, the pair agrees with stateAt.
    for (const seq of [1, 255, 256, 257, 512, 513, records.length]) {
      const s = stateStep(log, seq);
      expect(stateHash(s.root)).toBe(stateHash(log.stateAt(seq)));
      expect(stateHash(s.before!)).toBe(stateHash(log.stateAt(seq - 1)));
    }
    expect(() => stateStep(log, records.length + 1)).toThrow(RangeError);
  });

  it("stateAt(seq) equals evolving the first seq records from scratch (property)", async () => {
    const records = longLog(700);
    expect(records.length).toBeGreaterThan(4 * VIEWER_SNAPSHOT_EVERY);
    const system = defaultSystem();
    const loaded = await loadLog(textSource(encodeLog(records)), "long.jsonl", system);
    expect(loaded.error).toBeUndefined();
    // The naive reference: fold evolve over the event records, no snapshots.
    const reference = (seq: number) => {
      let s = system.initialState;
      for (const r of records.slice(0, seq)) if (r.kind === "event") s = system.evolve(s, r as Message);
      return stateHash(s);
    };
    fc.assert(
      fc.property(fc.integer({ min: 0, max: records.length }), (seq) => {
        expect(stateHash(loaded.log.stateAt(seq))).toBe(reference(seq));
      }),
      { numRuns: 40 },
    );
  });
});
