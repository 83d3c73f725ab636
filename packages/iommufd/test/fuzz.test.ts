/**
 * Fuzzing /dev/iommu on bytes, in the spirit of syzkaller's iommufd
 * descriptions: seeded (fast-check) sequences of random byte buffers and of
 * valid-but-hostile structs — every iommufd ioctl and every
 * IOMMU_TEST_CMD op, with ids, sizes, IOVAs, lengths, user pointers and
 * flags drawn from pools of edge values — plus closes of access fds, on a
 * context that already holds an IOAS with a mapping, a mock device, a
 * pinning access, a VT-d and an SMMUv3 platform device attached to the
 * IOAS, and a second IOAS with a PASID-capable mock device whose RID is on a
 * PASID-compatible HWPT. After every call:
 * - iommufdIoctl did not throw and returned 0 or −errno of a Linux errno
 *   this interface can return;
 * - iopt's invariants hold (areas, pins, pin counts, accounting, mock IO
 *   page tables, accesses), and hw-smmu's;
 * - the object table is consistent: every `refs` entry names a live object
 *   of the same context, every access object's iopt access exists on the
 *   IOAS its `refs` name, and iopt has no access without an object (an
 *   access object, or the HW queue whose memory it pins).
 * At the end of each sequence the log, written as JSON Lines and validated
 * against VOCABULARY, replays into an empty system with the same state hash.
 */
import { encodeLog, type LogRecord, readLog, stateHash, textSource, Vocabulary } from "@iommu-sim/eventlog";
import { checkInvariants as smmuInvariants } from "@iommu-sim/hw-smmu";
import { checkInvariants } from "@iommu-sim/iopt";
import {
  type AnyLayout,
  type FieldInfo,
  IOMMU_HWPT_ALLOC_PASID,
  IOMMU_IOCTL,
  IOMMU_TEST_OP,
  IOMMU_TEST_OP_MEMBER,
  type IommuTestOpName,
  iommufdIoctlOp,
  isErrno,
  MOCK_APERTURE_START,
  MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES,
  MOCK_FLAGS_DEVICE_PASID,
  VOCABULARY,
} from "@iommu-sim/uapi";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { iommufdFileRelease } from "../src/files";
import { createEmptySystemLog } from "../src/index";
import { Fixture } from "./fixture";
import { bytes } from "./harness";

const PAGE = 4096n;
const START = BigInt(MOCK_APERTURE_START);
const U64_MAX = (1n << 64n) - 1n;

/** The errnos an iommufd ioctl may answer (include/uapi/asm-generic/errno*.h numbers). */
const LINUX_ERRNOS = new Set([
  1, // EPERM
  2, // ENOENT
  5, // EIO (MD_CHECK_REFS)
  7, // E2BIG
  9, // EBADF
  12, // ENOMEM
  14, // EFAULT
  16, // EBUSY
  17, // EEXIST
  19, // ENODEV
  22, // EINVAL
  25, // ENOTTY
  28, // ENOSPC
  34, // ERANGE
  52, // EBADE (ACCESS_PAGES uptr check)
  75, // EOVERFLOW
  77, // EBADFD (access fd ops)
  90, // EMSGSIZE
  95, // EOPNOTSUPP
  98, // EADDRINUSE
]);

const IOCTLS = Object.values(IOMMU_IOCTL);
const T = IOMMU_TEST_OP;
/** Every op, the access and PASID ops twice more (they have the most state), and unknown ones. */
const TEST_OPS = [
  ...Object.values(T),
  ...[T.IOMMU_TEST_OP_CREATE_ACCESS, T.IOMMU_TEST_OP_ACCESS_PAGES, T.IOMMU_TEST_OP_DESTROY_ACCESS_PAGES],
  ...[T.IOMMU_TEST_OP_ACCESS_RW, T.IOMMU_TEST_OP_ACCESS_REPLACE_IOAS],
  ...[T.IOMMU_TEST_OP_PASID_ATTACH, T.IOMMU_TEST_OP_PASID_REPLACE, T.IOMMU_TEST_OP_PASID_DETACH],
  ...[T.IOMMU_TEST_OP_PASID_CHECK_HWPT, T.IOMMU_TEST_OP_PASID_ATTACH, T.IOMMU_TEST_OP_PASID_CHECK_HWPT],
  0,
  22,
  0x7fffffff,
];
const IDS = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 0xffffffff, 0x80000000];
const FLAGS = [0, 1, 2, 3, 4, 6, 7, 5, 1 << 16, 0xffffffff, 0x10];
const LENGTHS = [
  0n,
  1n,
  2048n,
  PAGE,
  2n * PAGE,
  16n * PAGE,
  64n * PAGE,
  16n * 1024n * 1024n + 1n,
  U64_MAX,
  U64_MAX - PAGE + 1n,
];

/** An op: fast-check numbers consumed in order by `build` (shrinking drives them to 0). */
const opArb = fc.array(fc.nat({ max: 0x7fffffff }), { minLength: 32, maxLength: 32 });

class Fuzz extends Fixture {
  readonly priv: bigint;
  readonly access: number;
  /** The selftest object of the PASID-capable mock device. */
  readonly pasidStdev: number;

  constructor() {
    super(1);
    const m = this.log.dispatch({
      type: "mm.mmap",
      data: { pid: 100, length: 4n * PAGE, prot: 3, shared: false },
    });
    if (isErrno(m)) throw new Error(`${m}`);
    this.priv = (m[0]!.data as { addr: bigint }).addr;
    expect(this.map(16n * PAGE, START)[0]).toBe(0);
    const [rc, arg] = this.test(IOMMU_TEST_OP.IOMMU_TEST_OP_CREATE_ACCESS, this.ioas, [
      [4, 4, MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES],
    ]);
    expect(rc).toBe(0);
    this.access = new DataView(arg.buffer).getUint32(16, true);
    // A PASID-capable mock device on a second IOAS (selftest object 7, its auto domain 9).
    const ioas2 = this.ioasAlloc();
    const [rc2, arg2] = this.test(IOMMU_TEST_OP.IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS, ioas2, [
      [12, 4, MOCK_FLAGS_DEVICE_PASID],
    ]);
    expect(rc2).toBe(0);
    this.pasidStdev = new DataView(arg2.buffer).getUint32(16, true);
    // The PASID-capable device's RID on a HWPT allocated with IOMMU_HWPT_ALLOC_PASID (id 10; its
    // auto domain 9 goes), as PASID_ATTACH needs (iommufd_hwpt_pasid_compat).
    const alloc = bytes(48, [
      [0, 4, 48],
      [4, 4, IOMMU_HWPT_ALLOC_PASID],
      [8, 4, this.pasidStdev + 1],
      [12, 4, ioas2],
    ]);
    expect(this.fd.ioctl(IOMMU_IOCTL.IOMMU_HWPT_ALLOC, alloc)).toBe(0);
    const pasidHwpt = new DataView(alloc.buffer).getUint32(16, true);
    const [rc3] = this.test(IOMMU_TEST_OP.IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE, this.pasidStdev, [
      [0, 4, pasidHwpt],
    ]);
    expect(rc3).toBe(0);
    // A VT-d and an SMMUv3 device bound (VFIO's bind) and attached to the first IOAS (devices 9, 12).
    for (const device of ["nic0", "gpu0"]) {
      const bound = this.log.dispatch({ type: "iommufd.device.bind", data: { ctx: this.fd.ctx, device } });
      if (isErrno(bound)) throw new Error(`${bound}`);
      const devId = (bound.find((e) => e.type === "iommufd.object.created")!.data as { id: number }).id;
      const attached = this.log.dispatch({
        type: "iommufd.device.attach",
        data: { ctx: this.fd.ctx, devId, ptId: this.ioas },
      });
      if (isErrno(attached)) throw new Error(`${attached}`);
    }
  }

  /** Pools of user pointers and IOVAs for this fixture. */
  pointers(): bigint[] {
    return [
      this.buffer,
      this.buffer + 2048n,
      this.buffer + 15n * PAGE,
      this.priv,
      0n,
      0x1000n,
      U64_MAX,
      1n << 47n,
    ];
  }

  iovas(): bigint[] {
    return [
      0n,
      START,
      START + PAGE,
      START + 2048n,
      START + 16n * PAGE - 8n,
      1n << 31n,
      U64_MAX,
      U64_MAX - PAGE + 1n,
      0x2000n,
    ];
  }
}

const U32_NAMES: [RegExp, readonly number[]][] = [
  [/flags|perm/, [0, 0, 0, ...FLAGS]],
  [/^(num_iovas|entry_num|entry_len|data_len|limit|refs)$/, [0, 1, 2, 8, 12, 16, 32, 40, 0xffffffff]],
  [/^(option_id|op)$/, [0, 1, 0, 1, 2, 3]],
  [/type/, [0, 1, 2, 3, 0xdead, 0xfeedbeef, 0xdeadbeef]],
  [/pasid/, [0, 1, 1024, 0xfffff, 0x100000]],
];

/** Pools of plausible values, for "sane" calls that should often succeed. */
const SANE_FLAGS = [0, 0, 1, 2, 6, 7];
const SANE_IDS = [0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13];
const SANE_LENGTHS = [2048n, PAGE, 2n * PAGE, 8n * PAGE, 16n * PAGE];

function valueOf32(field: FieldInfo, next: () => number, sane: boolean): number {
  if (field.reserved) return !sane && next() % 8 === 0 ? 1 : 0;
  const named = U32_NAMES.find(([re]) => re.test(field.name))?.[1];
  const pool = sane ? (/flags|perm/.test(field.name) ? SANE_FLAGS : (named ?? SANE_IDS)) : (named ?? IDS);
  return pool[next() % pool.length]!;
}

function valueOf64(f: Fuzz, field: FieldInfo, next: () => number, sane: boolean): bigint {
  const n = field.name;
  const pointers = f.pointers();
  const iovas = f.iovas();
  const pool = /ptr|user_va|allowed_iovas|uptr/.test(n)
    ? sane
      ? pointers.slice(0, 4)
      : pointers
    : /iova|start|last|addr/.test(n)
      ? sane
        ? iovas.slice(1, 4)
        : iovas
      : /val64/.test(n)
        ? [0n, 1n, 2n, U64_MAX]
        : sane
          ? SANE_LENGTHS
          : LENGTHS;
  return field.reserved ? 0n : pool[next() % pool.length]!;
}

/** Build one call from `nums` and run it; returns its kind (ioctl name, `IOMMU_TEST_CMD:op`), a description and the result. */
function runOp(f: Fuzz, nums: readonly number[]): [string, string, number] {
  let i = 0;
  const next = () => nums[i++ % nums.length]!;
  const pick = <T>(pool: readonly T[]): T => pool[next() % pool.length]!;
  const kind = next() % 10;
  if (kind === 0) {
    // Raw bytes under any request number.
    const request = next() % 4 === 0 ? next() * 2 : pick(IOCTLS);
    const arg = new Uint8Array(next() % 96);
    for (let k = 0; k < arg.length; k++) arg[k] = next() & 0xff;
    return ["raw", `raw ${request.toString(16)} [${arg.length}]`, f.fd.ioctl(request, arg)];
  }
  if (kind === 1) {
    const id = pick(IDS);
    iommufdFileRelease(f.fd.env(), { kind: "access", ctx: f.fd.ctx, id });
    return ["release", `release access fd ${id}`, 0];
  }
  const request = kind >= 6 ? IOMMU_IOCTL.IOMMU_TEST_CMD : pick(IOCTLS);
  const op = iommufdIoctlOp(request)!;
  const sizes = [op.size, op.size, op.size, op.size, op.layout.minSize, op.size - 4, op.size + 8, 4, 0];
  const size = next() % 2 === 0 ? op.size : Math.max(0, pick(sizes));
  const arg = new Uint8Array(Math.max(size, op.size) + (next() % 2) * 8);
  const v = new DataView(arg.buffer);
  const sane = next() % 3 !== 0;
  const fill = (fields: readonly FieldInfo[], base: number) => {
    for (const field of fields) {
      if (field.inUnion || (base === 0 && field.offset === 0)) continue; // `size` is set last
      const at = base + field.offset;
      if (field.type === "u64") v.setBigUint64(at, valueOf64(f, field, next, sane), true);
      else if (field.type === "u32") v.setUint32(at, valueOf32(field, next, sane), true);
      else if (field.type === "u16" || field.type === "u8") v.setUint8(at, field.reserved ? 0 : next() & 3);
    }
  };
  fill(op.layout.fields, 0);
  v.setUint32(0, size, true);
  let kindName: string = op.name;
  if (request === IOMMU_IOCTL.IOMMU_TEST_CMD) {
    const testOp = pick(TEST_OPS);
    kindName = `IOMMU_TEST_CMD:${testOp}`;
    v.setUint32(4, testOp, true);
    const idPick = next() % 4;
    v.setUint32(8, idPick === 0 ? f.access : idPick === 1 ? f.pasidStdev : pick(sane ? SANE_IDS : IDS), true);
    const name = Object.entries(IOMMU_TEST_OP).find(([, n]) => n === testOp)?.[0] as
      | IommuTestOpName
      | undefined;
    const member = op.layout.fields.find((m) => m.inUnion && m.name === (name && IOMMU_TEST_OP_MEMBER[name]));
    if (member !== undefined) fill((member.spec as AnyLayout).fields, member.offset);
  }
  if (size > op.size && next() % 2 === 0) arg[arg.length - 1] = 1; // a non-zero tail: E2BIG
  return [
    kindName,
    `${op.name} ${[...arg].map((b) => b.toString(16).padStart(2, "0")).join("")}`,
    f.fd.ioctl(request, arg),
  ];
}

/** The object tables agree with each other and with iopt's accesses. */
function tablesConsistent(f: Fuzz): string[] {
  const out: string[] = [];
  const s = f.log.state;
  let accesses = 0;
  for (const c of Object.values(s.iommufd.contexts)) {
    for (const o of Object.values(c.objects)) {
      for (const r of o.refs)
        if (c.objects[r] === undefined) out.push(`ctx ${c.id} object ${o.id}: ref ${r} is gone`);
      if (o.type === "hw_queue") {
        // A HW queue's memory is pinned by an internal access of its own (hw-queue.ts).
        accesses++;
        if (!s.iopt.accesses.has(o.kobj!)) out.push(`HW queue ${o.id}: no iopt access ${o.kobj}`);
        continue;
      }
      if (o.type !== "access") continue;
      accesses++;
      const a = s.iopt.accesses.get(o.kobj!);
      if (a === undefined) out.push(`access object ${o.id}: no iopt access ${o.kobj}`);
      else if (a.ioas !== c.objects[o.refs[0]!]?.kobj) out.push(`access object ${o.id}: on IOAS ${a.ioas}`);
    }
  }
  if (s.iopt.accesses.size !== accesses)
    out.push(`${s.iopt.accesses.size} iopt accesses, ${accesses} objects`);
  return out;
}

async function replayHash(f: Fuzz): Promise<string> {
  const opened = await readLog(textSource(encodeLog(f.log.records)), {
    vocabulary: new Vocabulary(VOCABULARY),
    file: "fuzz.jsonl",
  });
  const records: LogRecord[] = [];
  for await (const b of opened.batches) records.push(...b);
  const fresh = createEmptySystemLog();
  fresh.append(records as Parameters<typeof fresh.append>[0]);
  return stateHash(fresh.state);
}

/** Calls that succeeded at least once (`name` or `IOMMU_TEST_CMD:op`): the fuzz must reach past the checks. */
const SUCCEEDED = new Set<string>();
describe("fuzz: hostile ioctls on /dev/iommu", () => {
  it("never throw, answer Linux errnos, keep every invariant, and replay to the same state", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 20, maxLength: 60 }), async (ops) => {
        const f = new Fuzz();
        for (const nums of ops) {
          let [key, what, rc] = ["", "", 0];
          try {
            [key, what, rc] = runOp(f, nums);
          } catch (e) {
            expect.fail(`threw on ${runOp.name}(${nums.join(",")}): ${(e as Error).stack}`);
          }
          if (rc !== 0 && !LINUX_ERRNOS.has(-rc)) expect.fail(`${what} → ${rc}`);
          if (rc === 0) SUCCEEDED.add(key);
          const broken = [
            ...checkInvariants(f.log.state as never),
            ...tablesConsistent(f),
            ...smmuInvariants(f.log.state.smmu),
          ];
          if (broken.length > 0) expect.fail(`${what}: ${broken.join("; ")}`);
        }
        expect(await replayHash(f)).toBe(stateHash(f.log.state));
      }),
      { seed: 20251121, numRuns: 150 },
    );
    const op = (name: keyof typeof IOMMU_TEST_OP) => `IOMMU_TEST_CMD:${IOMMU_TEST_OP[name]}`;
    const mustSucceed = [
      "IOMMU_IOAS_ALLOC",
      "IOMMU_IOAS_MAP",
      "IOMMU_DESTROY",
      "IOMMU_OPTION",
      op("IOMMU_TEST_OP_MOCK_DOMAIN"),
      op("IOMMU_TEST_OP_CREATE_ACCESS"),
      op("IOMMU_TEST_OP_ACCESS_PAGES"),
      op("IOMMU_TEST_OP_ACCESS_RW"),
      op("IOMMU_TEST_OP_ACCESS_REPLACE_IOAS"),
      op("IOMMU_TEST_OP_SET_TEMP_MEMORY_LIMIT"),
      op("IOMMU_TEST_OP_PASID_ATTACH"),
      op("IOMMU_TEST_OP_PASID_CHECK_HWPT"),
    ];
    expect(mustSucceed.filter((k) => !SUCCEEDED.has(k))).toEqual([]);
  }, 120_000);
});
