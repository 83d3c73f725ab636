/**
 * The web view in real headless Chromium (Debian's /usr/bin/chromium,
 * driven by playwright-core; .ci/run installs it): serve the page with
 * Vite on 127.0.0.1 (a free port), load logs generated here through the
 * real packages, move the slider and check what the page shows.
 */
import { existsSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { createLog, encodeLog, type LogRecord, type Message } from "@iommu-sim/eventlog";
import { translate } from "@iommu-sim/hw-vtd";
import {
  IOMMU_IOAS_MAP_FIXED_IOVA,
  IOMMU_IOAS_MAP_READABLE,
  IOMMU_IOAS_MAP_WRITEABLE,
  isErrno,
} from "@iommu-sim/uapi";
import { type Browser, chromium, type Page } from "playwright-core";
import { createServer, type Plugin, type ViteDevServer } from "vite";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { runStory } from "../src/story/run";
import { defaultSystem } from "../web/src/system";

const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
];
const SCREENSHOT = "/tmp/iommu-sim-web.png";
/** How long to wait for the page to show something (generous: CI machines are shared). */
const POLL = { timeout: 20_000, interval: 50 };

const BUFFER_VA = 0x7f00_0000_0000n;
/** The first IOVA of the mock domain's aperture, [2^24, 2^31 − 1] (selftest.c MOCK_APERTURE_*). */
const IOVA = 0x100_0000n;

/**
 * The session: three opens of /dev/iommu (context ids 1, 2, 3 as Linux's
 * iommufd_fops_open gives one context per open), close of the second; a
 * process with a 16 KiB buffer; an IOAS in context 1, a selftest mock
 * device attached to it (IOMMU_TEST_OP_MOCK_DOMAIN: a mock domain with 2 KiB
 * IO pages behind an auto-allocated paging HWPT) and the buffer mapped at
 * 2^24; then /dev/ioasid: open by pid 100 and two IOASID_REQUEST_ALLOCs
 * from [1, 2^20 − 1].
 */
const COMMANDS: readonly Message[] = [
  { type: "iommufd.open", data: { pid: 100, vfio: false } },
  { type: "iommufd.open", data: { pid: 200, vfio: true } },
  { type: "iommufd.open", data: { pid: 300, vfio: false } },
  { type: "iommufd.close", data: { ctx: 2 } },
  { type: "mm.spawn", data: { pid: 100, uid: 1000 } },
  { type: "mm.mmap", data: { pid: 100, addr: BUFFER_VA, length: 0x4000n, prot: 3, shared: false } },
  { type: "iommufd.ioas.alloc", data: { ctx: 1 } },
  { type: "iommufd.selftest.mock_domain", data: { ctx: 1, ptId: 1, flags: 0 } },
  {
    type: "ioas.map",
    data: {
      ioas: 1,
      pid: 100,
      userVa: BUFFER_VA,
      length: 0x4000n,
      iova: IOVA,
      flags: IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE,
    },
  },
  { type: "ioasid.open", data: { pid: 100 } },
  { type: "ioasid.alloc", data: { pid: 100, fd: 1, min: 1, max: 0xfffff } },
  { type: "ioasid.alloc", data: { pid: 100, fd: 1, min: 1, max: 0xfffff } },
];

function decideAll(commands: readonly Message[]): readonly LogRecord[] {
  const log = createLog(defaultSystem());
  for (const c of commands) {
    const r = log.dispatch(c);
    if (isErrno(r)) throw new Error(`${c.type}: ${r.toString()}`);
  }
  return log.records;
}

const records = decideAll(COMMANDS);
const text = encodeLog(records, { test: "web" });
/** Seq of the nth (1-based) record of `type`. */
function seqOf(type: string, nth = 1): number {
  const r = records.filter((x) => x.type === type)[nth - 1];
  if (r === undefined) throw new Error(`no record #${nth} of ${type}`);
  return r.seq;
}
/** The object created with `type` in context 1, as its iommufd.object.created event says. */
function created(type: string): { id: number; kobj?: number; refs: number[] } {
  const r = records.find(
    (x) => x.type === "iommufd.object.created" && (x.data as { type: string }).type === type,
  );
  if (r === undefined) throw new Error(`no ${type} created`);
  return r.data as { id: number; kobj?: number; refs: number[] };
}
/** The mock domain: the kernel object behind the auto-allocated paging HWPT. */
const DOMAIN = created("hwpt_paging").kobj!;

/** The log cut in the middle of its last line, as a crashed writer leaves it. */
const truncated = text.slice(0, text.length - 10);

/** `pnpm demo`'s story: the VFIO guest's NIC on VT-d, accel0 at a PASID, their faults. */
const story = runStory();
const storyRecords = story.log.records;
const storyText = encodeLog(storyRecords, { test: "web story" });
/** Seq of the first story record of `type` whose data has the fields of `match`. */
function storySeq(type: string, match: Record<string, unknown> = {}): number {
  const r = storyRecords.find(
    (x) =>
      x.type === type &&
      Object.entries(match).every(([k, v]) => (x.data as Record<string, unknown>)[k] === v),
  );
  if (r === undefined) throw new Error(`no story record ${type}`);
  return r.seq;
}

/** The data of the first story record of `type`. */
function storyData<T>(type: string): T {
  return storyRecords.find((x) => x.type === type)!.data as T;
}

/** Serves the logs of this test beside the page. */
const testLogs: Plugin = {
  name: "test-logs",
  configureServer(s) {
    s.middlewares.use("/story.jsonl", (_q, res) => res.end(storyText));
    s.middlewares.use("/test.jsonl", (_q, res) => res.end(text));
    s.middlewares.use("/truncated.jsonl", (_q, res) => res.end(truncated));
  },
};

let server: ViteDevServer;
let browser: Browser;
let page: Page;
let base: string;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} is missing: apt-get install chromium (as .ci/run does); never a downloaded browser`,
    );
  }
  server = await createServer({
    configFile: new URL("../web/vite.config.ts", import.meta.url).pathname,
    logLevel: "silent",
    server: { host: "127.0.0.1", port: 0, strictPort: true, hmr: false, watch: null },
    plugins: [testLogs],
  });
  await server.listen();
  const addr = server.httpServer?.address();
  if (addr === null || addr === undefined || typeof addr === "string") throw new Error("no server address");
  base = `http://127.0.0.1:${addr.port}/`;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 30_000 });
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.setDefaultTimeout(20_000);
  page.on("pageerror", (e) => pageErrors.push(e.message));
  page.on("console", (m) => {
    if (m.type() === "error") pageErrors.push(m.text());
  });
}, 60_000);

/** Uncaught exceptions and console errors of the page: none is expected in any test. */
const pageErrors: string[] = [];
afterEach(() => {
  const seen = pageErrors.splice(0);
  expect(seen).toEqual([]);
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

async function open(url: string): Promise<void> {
  await page.goto(url);
  await page.locator('[data-testid="app"][data-ready="true"]').waitFor();
}

async function moveTo(seq: number): Promise<void> {
  await page.getByTestId("seq-slider").fill(String(seq));
  await expect
    .poll(() => page.getByTestId("seq-readout").textContent(), POLL)
    .toBe(`seq ${seq} / ${records.length}`);
}

const text$ = (id: string) => page.getByTestId(id).textContent();

describe("web view", () => {
  it("loads ?log= and shows the state at the end of the log", async () => {
    await open(`${base}?log=test.jsonl`);
    expect(await text$("log-status")).toBe(`test.jsonl: ${records.length} records`);
    expect(await text$("seq-readout")).toBe(`seq ${records.length} / ${records.length}`);
    // Contexts 1 and 3 are open; 2 was closed. Context 1 holds the IOAS (object id 1: xa_alloc from 1)
    // and what the mock device brought: the selftest object, the device and the paging HWPT.
    expect(await text$("graph-summary")).toBe("2 context(s), 4 object(s)");
    expect(await page.getByTestId("graph-context-1").isVisible()).toBe(true);
    expect(await page.getByTestId("graph-context-2").count()).toBe(0);
    expect(await text$("graph-object-1-1")).toBe("#1 ioaskernel object 1");
    const hwpt = created("hwpt_paging").id;
    expect(await text$(`graph-object-1-${hwpt}`)).toBe(`#${hwpt} hwpt_paging` + `kernel object ${DOMAIN}`);
    // Users point at what they use: selftest → device → HWPT → IOAS.
    expect(await page.getByTestId("graph-context-1").locator("line.edge").count()).toBe(3);
    // The area: 16 KiB at 2^24, read/write, bytes from offset 0 of the first iopt_pages.
    expect(await text$("iova-ioas-1-areas")).toBe("1");
    const area = await page
      .getByTestId(`iova-area-1-0x${IOVA.toString(16)}`)
      .locator("td")
      .allTextContents();
    expect(area).toEqual(["0x1000000", "0x1003fff", "16 KiB", "RW", "#1 +0x0"]);
    // The mock domain maps it with 16 KiB / 2 KiB = 8 entries, one run.
    expect(await text$(`domain-${DOMAIN}-entries`)).toBe("8");
    expect(await page.getByTestId(`domain-run-${DOMAIN}-0x1000000`).locator("td").nth(1).textContent()).toBe(
      "0x1003fff",
    );
    // PASID 0 is reserved (VT-d RID2PASID), 1 and 2 were allocated lowest-first from [1, 2^20 − 1].
    expect(await text$("pasid-summary")).toBe("3 PASID(s) taken of 1048576");
    expect(await text$("pasid-0")).toContain("reserved");
    expect(await text$("pasid-2")).toContain("mm 100");
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
  }, 60_000);

  it("rebuilds the state at the slider's sequence number", async () => {
    await open(`${base}?log=test.jsonl`);
    // Just after the third open: three contexts, the newest from /dev/iommu by pid 300.
    const third = seqOf("iommufd.opened", 3);
    await moveTo(third);
    expect(await text$("graph-summary")).toBe("3 context(s), 0 object(s)");
    expect(await text$("graph-context-2")).toContain("/dev/vfio/vfio");
    expect(await page.getByTestId(`record-${third}`).getAttribute("class")).toContain("current");
    expect(await page.getByTestId(`record-${third + 1}`).getAttribute("class")).toContain("future");
    // Just before IOMMU_IOAS_MAP: the IOAS exists with the domain attached, nothing mapped.
    await moveTo(seqOf("ioas.map") - 1);
    expect(await text$("graph-summary")).toBe("2 context(s), 4 object(s)");
    expect(await text$("iova-ioas-1-areas")).toBe("0");
    expect(await text$(`domain-${DOMAIN}-entries`)).toBe("0");
    // Nothing has happened at seq 0; before /dev/ioasid is opened only the reserved PASID is taken.
    await moveTo(0);
    expect(await text$("graph-summary")).toBe("0 context(s), 0 object(s)");
    expect(await text$("iova-summary")).toBe("no IOAS");
    expect(await text$("pasid-summary")).toBe("1 PASID(s) taken of 1048576");
    // One past the first allocation's pasid.allocated: PASID 1 is mm 100's.
    await moveTo(seqOf("pasid.allocated", 1));
    expect(await text$("pasid-summary")).toBe("2 PASID(s) taken of 1048576");
    expect(await text$("pasid-1")).toContain("ioasid");
    expect(await page.getByTestId("pasid-2").count()).toBe(0);
  }, 60_000);

  it("moves by the step buttons and to a clicked record", async () => {
    await open(`${base}?log=test.jsonl`);
    const last = records.length;
    await page.getByRole("button", { name: "previous record" }).click();
    await expect.poll(() => text$("seq-readout"), POLL).toBe(`seq ${last - 1} / ${last}`);
    expect(await page.getByRole("button", { name: "next record" }).isEnabled()).toBe(true);
    await page.getByRole("button", { name: "next record" }).click();
    await expect.poll(() => text$("seq-readout"), POLL).toBe(`seq ${last} / ${last}`);
    expect(await page.getByRole("button", { name: "next record" }).isDisabled()).toBe(true);
    // Ten records past the close of context 2, then a click on the close's event row.
    const closed = seqOf("iommufd.closed");
    await moveTo(closed + 10);
    await page.getByTestId(`record-${closed}`).click();
    await expect.poll(() => text$("seq-readout"), POLL).toBe(`seq ${closed} / ${last}`);
    expect(await text$("graph-summary")).toBe("2 context(s), 0 object(s)");
  }, 60_000);

  it("opens at ?seq=, keeps the position in the URL and marks the slices the record changed", async () => {
    const closed = seqOf("iommufd.closed");
    await open(`${base}?log=test.jsonl&seq=${closed}`);
    await expect.poll(() => text$("seq-readout"), POLL).toBe(`seq ${closed} / ${records.length}`);
    // iommufd.closed changes the iommufd slice and nothing else.
    const changed = (slice: string) => page.getByTestId(`slice-row-${slice}`).getAttribute("data-changed");
    await expect.poll(() => changed("iommufd"), POLL).toBe("true");
    expect(await changed("ioasid")).toBe("false");
    expect(await changed("iopt")).toBe("false");
    // The command record of the close changes nothing.
    await moveTo(closed - 1);
    await expect.poll(() => new URL(page.url()).searchParams.get("seq"), POLL).toBe(String(closed - 1));
    await expect.poll(() => page.locator('[data-changed="true"]').count(), POLL).toBe(0);
  }, 60_000);

  it("loads a chosen gzip file", async () => {
    await open(`${base}?log=test.jsonl`);
    await page.getByTestId("log-file").setInputFiles({
      name: "session.jsonl.gz",
      mimeType: "application/gzip",
      buffer: gzipSync(text),
    });
    await expect.poll(() => text$("log-status"), POLL).toBe(`session.jsonl.gz: ${records.length} records`);
    expect(await text$("graph-summary")).toBe("2 context(s), 4 object(s)");
  }, 60_000);

  it("loads a file dropped on the page", async () => {
    await open(`${base}?log=test.jsonl`);
    await page.getByTestId("seq-slider").fill("0");
    const dropped = await page.evaluateHandle(
      (t) => {
        const dt = new DataTransfer();
        dt.items.add(new File([t], "dropped.jsonl", { type: "application/x-ndjson" }));
        return dt;
      },
      encodeLog(decideAll(COMMANDS.slice(0, 1))),
    );
    await page.dispatchEvent("main", "drop", { dataTransfer: dropped });
    // One open: the command and its event.
    await expect.poll(() => text$("log-status"), POLL).toBe("dropped.jsonl: 2 records");
    expect(await text$("graph-summary")).toBe("1 context(s), 0 object(s)");
  }, 60_000);

  it("expands a slice in the state inspector, bitmaps summarised", async () => {
    await open(`${base}?log=test.jsonl`);
    await page.locator('[data-testid="slice-ioasid"] > summary').click();
    await expect
      .poll(() => text$("slice-ioasid"), POLL)
      .toContain("space: PasidBitmap: 3 of 1048576 set {0-2}");
  }, 60_000);

  it("reports a truncated line with file:line and keeps the records before it", async () => {
    await open(`${base}?log=truncated.jsonl`);
    // Line 1 is the header, so record n is on line n + 1; the last record is cut. A cut last line
    // has no newline, so the reader yields it as a batch of its own: every whole record before it loads.
    const lastLine = records.length + 1;
    expect(await text$("log-error")).toMatch(new RegExp(`^truncated\\.jsonl:${lastLine}: json: not JSON`));
    expect(await text$("log-status")).toBe(`truncated.jsonl: ${records.length - 1} records`);
  }, 60_000);

  it("loads the dev server's default log, the demo's story, when no ?log= is given", async () => {
    await open(base);
    expect(await text$("log-status")).toMatch(/^demo\.jsonl: \d+ records$/);
    await page.getByTestId("seq-slider").fill("0");
    // The story's log begins with the platform's IOMMU units (createSystemLog), so a replay rebuilds them.
    await expect.poll(() => text$("record-1"), POLL).toContain("vtd.unit.add");
  }, 60_000);
});

describe("hardware panels on the demo's story", () => {
  const last = storyRecords.length;
  async function moveStoryTo(seq: number): Promise<void> {
    await page.getByTestId("seq-slider").fill(String(seq));
    await expect.poll(() => text$("seq-readout"), POLL).toBe(`seq ${seq} / ${last}`);
  }
  const nicDid = (storyRecords.find((r) => r.type === "vtd.domain.allocated")!.data as { did: number }).did;

  it("shows the VT-d root, context and PASID-table entries and opens a domain's tree down to a 2 MiB leaf", async () => {
    await open(`${base}?log=story.jsonl`);
    await expect.poll(() => text$("vtd-summary"), POLL).toMatch(/^1 VT-d unit\(s\), 2 device\(s\)/);
    // nic0 03:00.0: bus 3's root entry, devfn 0 in the lower context table; requests without PASID use RID_PASID 0.
    const nic = await text$("vtd-device-0-0x300");
    expect(nic).toContain("03:00.0");
    expect(nic).toMatch(/root 0x[0-9a-f]+: LP=1 LCTP 0x[0-9a-f]+/);
    expect(nic).toMatch(/context 0x[0-9a-f]+: P .*RID_PASID 0/);
    // Its RID_PASID entry: second-stage only (PGTT 2) in the VFIO domain.
    expect(await text$("vtd-pasid-0-0x300-0")).toContain(`PGTT 2 (second-stage) DID ${nicDid}`);
    // accel0 at the process's /dev/ioasid PASID 1, with page requests enabled in its context entry.
    expect(await text$("vtd-device-0-0x10")).toContain("PRE");
    expect(await text$("vtd-pasid-0-0x10-1")).toMatch(/^PASID 1.*P PGTT 2 \(second-stage\)/);

    // The NIC's domain maps guest RAM: IOVA 0 → the pinned 2 MiB page, as the hardware's own walk says.
    const walk = translate(story.log.state, 0, { rid: 0x300, iova: 0n, length: 1, write: false });
    if (isErrno(walk) || walk.kind !== "ok") throw new Error("IOVA 0 does not translate");
    const id = `vtd-pt-0-${nicDid}`;
    await page.locator(`[data-testid="vtd-domain-0-${nicDid}"] > summary`).click();
    for (const shift of [48, 39, 30]) {
      await page.locator(`[data-testid="${id}-0x0-${shift}"] > summary`).click();
      await page.getByTestId(`${id}-table-0x0-${shift - 9}`).waitFor();
    }
    const leaf = await text$(`${id}-0x0-21`);
    expect(leaf).toContain(`0x0 → 0x${walk.runs[0]!.pa.toString(16)} 2 MiB R W PS`);
  }, 60_000);

  it("moves the slider past the faults and shows them in the fault-queue panel", async () => {
    await open(`${base}?log=story.jsonl`);
    const fault = storySeq("vtd.fault.recorded");
    await moveStoryTo(fault - 1);
    await expect.poll(() => text$("fault-vtd-0-records"), POLL).toBe("0");
    // The NIC's write into the PCI hole: one primary fault record, reason 0x79 (VT-d 4.1 Appendix A, SSS.2).
    await moveStoryTo(fault);
    await expect.poll(() => text$("fault-vtd-0-records"), POLL).toBe("1");
    expect(await text$("fault-vtd-0-record-0")).toMatch(
      /reason 0x79 \(SSS\.2 .*\) from 0x300 at 0xc0000000 write/,
    );
    // accel0's write with PASID 1 to an unmapped page: a page request, group 0, from RID 0x10
    // (after the SVA PASID's request, which went to the SVA fault queue and was answered).
    await moveStoryTo(storySeq("vtd.prq.queued", { pasid: 1 }));
    await expect.poll(() => text$("fault-vtd-0-group-0x10-0"), POLL).toMatch(/^page group 0 of 0x10 PASID 1/);
    // iommufd's side: the request reached the fault object of accel0's HWPT (eventq.c): one group pending;
    // read(2) moves it to the response table under cookie 1; write(2) of the response answers it.
    const queue = storyRecords.find(
      (r) => r.type === "iommufd.object.created" && (r.data as { type: string }).type === "fault",
    )!.data as { kobj: number };
    const obj = `fault-object-${queue.kobj}`;
    await expect.poll(() => text$(`${obj}-pending`), POLL).toBe("1");
    expect(await text$(`${obj}-group-0`)).toMatch(
      /^group 0 from vtd 0 rid 0x10 \(device \d+\), PASID 1: 0x106000 W last/,
    );
    await moveStoryTo(storySeq("iommufd.fault.delivered"));
    await expect.poll(() => text$(`${obj}-awaiting`), POLL).toBe("1");
    expect(await text$(`${obj}-pending`)).toBe("0");
    expect(await text$(`${obj}-group-0`)).toContain("cookie 1");
    await moveStoryTo(storySeq("iommufd.fault.responded"));
    await expect.poll(() => text$(`${obj}-awaiting`), POLL).toBe("0");
    await page.screenshot({ path: "/tmp/iommu-sim-web-hw.png", fullPage: true });
  }, 60_000);

  it("shows the SVA page request in the SVA fault queue and the faulted-in page in the process's page table", async () => {
    await open(`${base}?log=story.jsonl`);
    // From the log: the bond, the SVA page request (VT-d PRQ), the group's handling and the frame faulted in.
    const bond = storyData<{ bond: number; rid: number; mm: number; pasid: number }>("sva.bound");
    const prq = storyRecords.find(
      (r) => r.type === "vtd.prq.queued" && (r.data as { pasid?: number }).pasid === bond.pasid,
    )!;
    const { addr: va, index } = prq.data as { addr: bigint; index: number };
    const handled = storySeq("sva.iopf.handled");
    const { group } = storyData<{ group: number }>("sva.iopf.handled");
    const run = storyRecords
      .filter((r) => r.type === "mm.faulted" && r.seq > prq.seq && r.seq < handled)
      .flatMap((r) => (r.data as { runs: { va: bigint; pfn: number }[] }).runs)
      .find((r) => r.va === va)!;
    const hex = (v: bigint | number) => `0x${v.toString(16)}`;

    await moveStoryTo(prq.seq);
    await expect.poll(() => text$("fault-sva-pending"), POLL).toBe("1");
    expect(await text$(`fault-sva-bond-${bond.bond}-pending`)).toBe("1");
    expect(await text$(`fault-sva-bond-${bond.bond}`)).toContain(`PASID ${bond.pasid}, process ${bond.mm}`);
    expect(await text$(`fault-sva-group-${group}`)).toMatch(
      new RegExp(`^group ${index} .*, PASID ${bond.pasid}: ${hex(va)} W last`),
    );

    // accel0's PASID entry points at the process's page table; open it level by level towards the VA.
    const rid = hex(bond.rid);
    const tree = `vtd-pasid-tree-0-${rid}-${bond.pasid}`;
    const id = `vtd-pasid-pt-0-${rid}-${bond.pasid}`;
    await page.locator(`[data-testid="${tree}"] > summary`).click();
    expect(await text$(tree)).toContain(`process ${bond.mm}'s page table`);
    const start = (shift: number) => hex(va & ~((1n << BigInt(shift)) - 1n));
    for (const shift of [39, 30, 21]) {
      await page.locator(`[data-testid="${id}-${start(shift)}-${shift}"] > summary`).click();
      await page.getByTestId(`${id}-table-${start(shift)}-${shift - 9}`).waitFor();
    }
    // Not yet faulted in: no PTE for the page (the pages the process touched are there).
    expect(await page.getByTestId(`${id}-${hex(va)}-12`).count()).toBe(0);

    await moveStoryTo(handled);
    await expect.poll(() => text$("fault-sva-pending"), POLL).toBe("0");
    expect(await text$(`fault-sva-bond-${bond.bond}-pending`)).toBe("0");
    expect(await page.getByTestId(`fault-sva-group-${group}`).count()).toBe(0);
    // The page group response (VT-d 4.1 §6.5.2.12) the iopf work sent: Success.
    expect(await text$(`fault-sva-answer-${bond.bond}-vtd-0-${index}`)).toContain(
      `page group ${index} → Success`,
    );
    // The tree stays open across the move and now has the PTE: XD | frame | D A U/S R/W P.
    await expect
      .poll(() => text$(`${id}-${hex(va)}-12`), POLL)
      .toContain(`${hex(va)} → ${hex(run.pfn * 4096)} 4 KiB P RW US A D XD`);
    await page.screenshot({ path: "/tmp/iommu-sim-web-sva.png", fullPage: true });
  }, 60_000);

  it("shows gpu0's nested STE, the guest's CD, its stage-1 tree read through stage 2, and its PRI fault", async () => {
    await open(`${base}?log=story.jsonl`);
    // When gpu0 first DMAs through its nested HWPT (later the VMM replaces it with a stage-1 HWPT).
    await moveStoryTo(storySeq("smmu.dma"));
    // STE.Config 0b111 = stage 1 + stage 2 (IHI 0070 §5.2), S1ContextPtr = the guest CD table's IPA.
    await expect
      .poll(() => text$("smmu-ste-0-0x8"), POLL)
      .toMatch(/Config stage 1 \+ stage 2 S1ContextPtr 0x48000000/);
    expect(await text$("smmu-cd-0-0x8-0")).toMatch(/^ssid 0CD 0x48000000: ASID 1 TTB0 0x48001000 T0SZ 16/);
    const nested = (
      storyRecords.find((r) => r.type === "smmu.domain.nestedAllocated")!.data as { domain: number }
    ).domain;
    const id = `smmu-pt-0-${nested}-s1`;
    await page.locator(`[data-testid="smmu-domain-0-${nested}"] > summary`).click();
    // The guest's L0 → L1 → L2 tables are IPAs; the view reads them through the VMM's stage 2.
    for (const [iova, shift] of [
      ["0x0", 39],
      ["0x80000000", 30],
      ["0x80000000", 21],
    ] as const) {
      await page.locator(`[data-testid="${id}-${iova}-${shift}"] > summary`).click();
      await page.getByTestId(`${id}-table-${iova}-${shift - 9}`).waitFor();
    }
    expect(await text$(`${id}-0x80000000-12`)).toMatch(/^\[0\] 0x80000000 → 0x41000000 4 KiB AP=RW EL0 AF/);
    // gpu0's page request (PRI queue, IHI 0070 §8) reaches the arm64 VMM's fault object; CMD_PRI_RESP answers Success.
    const queues = storyRecords.filter(
      (r) => r.type === "iommufd.object.created" && (r.data as { type: string }).type === "fault",
    );
    const vmmQueue = `fault-object-${(queues[1]!.data as { kobj: number }).kobj}`;
    await moveStoryTo(storySeq("smmu.pri.queued"));
    await expect.poll(() => text$(`${vmmQueue}-pending`), POLL).toBe("1");
    expect(await text$(`${vmmQueue}-group-0`)).toMatch(
      /^group 0 from smmu 0 rid 0x8 \(device \d+\), PASID 0: 0x[0-9a-f]+ W last/,
    );
    await moveStoryTo(last);
    await expect.poll(() => text$(`${vmmQueue}-awaiting`), POLL).toBe("0");
    expect(await text$("fault-smmu-0")).toContain("PRI response: group 0 of sid 0x8 → Success");
    await page.screenshot({ path: "/tmp/iommu-sim-web-smmu.png", fullPage: true });
  }, 60_000);
});
