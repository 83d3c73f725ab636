/**
 * The seven sequences of Linux's
 * tools/testing/selftests/iommu/iommufd_fail_nth.c — basic, map_domain,
 * map_two_domains, access_rw, access_pin, access_pin_domain, device (in
 * its PASID form: a MOCK_FLAGS_DEVICE_PASID device, then PASID 200
 * attached, replaced and detached) — as
 * byte-level ioctls through iommufdIoctl. As TEST_FAIL_NTH does: the
 * steps before fail_nth_enable() run clean; then for N = 1, 2, … a fresh
 * system in which the Nth fallible step (counted over every command the
 * swept ioctls dispatch) fails, until the sequence runs through. The
 * failing ioctl must return −errno and leave the state hash as before it;
 * the teardown (close the access fd, close /dev/iommu) must then leave no
 * object, IOAS, pages, access, mock domain or pinned page, and iopt's
 * invariants must hold. Buffer: the selftest's 2 MiB MAP_SHARED anonymous
 * `buffer`.
 */
import { type EventLog, type Message, stateHash } from "@iommu-sim/eventlog";
import { checkInvariants } from "@iommu-sim/iopt";
import {
  IOMMU_HWPT_ALLOC_PASID,
  IOMMU_HWPT_DATA_NONE,
  IOMMU_IOCTL,
  IOMMU_TEST_OP,
  isErrno,
  MOCK_ACCESS_RW_SLOW_PATH,
  MOCK_ACCESS_RW_WRITE,
  MOCK_APERTURE_START,
  MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES,
  MOCK_FLAGS_DEVICE_PASID,
} from "@iommu-sim/uapi";
import { describe, expect, it } from "vitest";
import { iommufdFileRelease } from "../src/files";
import { createSystemLog, type IoctlEnv, type IommufdRoot, iommufdIoctl, processMemory } from "../src/index";
import { bytes, type Root } from "./harness";

const PAGE = 4096n;
const BUFFER_SIZE = 2n * 1024n * 1024n;
const PID = 100;
const RW = 1 | 2 | 4; // IOMMU_IOAS_MAP_WRITEABLE | READABLE (| FIXED_IOVA below)
const WR = 2 | 4;

/** One run of a sequence: a fresh system, a counting dispatch, the ids the ioctls returned. */
class Run {
  readonly log: EventLog<Message, Message, Root> = createSystemLog();
  /** Fallible steps left before the armed one (0: not armed). */
  remaining = 0;
  fired = false;
  buffer: bigint;
  tmp: bigint;
  ranges: bigint;
  ctx = 0;
  ioas = 0;
  ioas2 = 0;
  iova = 0n;
  stdev = 0;
  stdev2 = 0;
  hwpt = 0;
  idev = 0;
  access = 0;
  item = 0;
  pasid = 0;
  readonly env: IoctlEnv<IommufdRoot>;

  constructor() {
    this.log.dispatch({ type: "mm.spawn", data: { pid: PID } });
    this.buffer = this.mmap(BUFFER_SIZE, true);
    this.tmp = this.mmap(8n * PAGE, false);
    // ranges[0] = {16 KiB, BUFFER_SIZE + 16 KiB * 600 − 1}, written by the process before the sweep
    this.ranges = this.tmp + 7n * PAGE;
    const range = bytes(16, [
      [0, 8, 16n * 1024n],
      [8, 8, BUFFER_SIZE + 16n * 1024n * 600n - 1n],
    ]);
    this.log.dispatch({ type: "mm.write", data: { pid: PID, va: this.ranges, bytes: range } });
    const peek = () => this.log.peek() as unknown as IommufdRoot;
    this.env = { dispatch: this.dispatch, peek, user: processMemory({ dispatch: this.dispatch, peek }, PID) };
  }

  private mmap(length: bigint, shared: boolean): bigint {
    const r = this.log.dispatch({ type: "mm.mmap", data: { pid: PID, length, prot: 3, shared } });
    if (isErrno(r)) throw new Error(`${r}`);
    return (r[0]!.data as { addr: bigint }).addr;
  }

  /** The log's dispatch, arming the fault of the remaining-th step across commands. */
  readonly dispatch = (c: Message) => {
    const armed = this.remaining > 0;
    if (armed) this.log.failNth(this.remaining);
    const r = this.log.dispatch(c);
    if (armed) {
      const steps = this.log.lastSteps;
      if (steps.fired) {
        this.fired = true;
        this.remaining = 0;
      } else this.remaining -= steps.sites.length;
    }
    return r;
  };

  ioctl(request: number, arg: Uint8Array): number {
    return iommufdIoctl(this.env, this.ctx, request, arg);
  }

  test(op: number, id: number, union: [number, 4 | 8, number | bigint][]): [number, DataView] {
    const arg = bytes(72, [
      [0, 4, 72],
      [4, 4, op],
      [8, 4, id],
      ...union.map(([o, s, v]) => [16 + o, s, v] as [number, 4 | 8, number | bigint]),
    ]);
    return [this.ioctl(IOMMU_IOCTL.IOMMU_TEST_CMD, arg), new DataView(arg.buffer)];
  }
}

type Step = [name: string, run: (r: Run) => number];

const open: Step = [
  "open",
  (r) => {
    const res = r.dispatch({ type: "iommufd.open", data: { pid: PID, vfio: false } });
    if (isErrno(res)) return res.ret;
    r.ctx = (res[0]!.data as { ctx: number }).ctx;
    return 0;
  },
];

function ioasAlloc(field: "ioas" | "ioas2"): Step {
  return [
    `ioas_alloc(${field})`,
    (r) => {
      const arg = bytes(12, [[0, 4, 12]]);
      const rc = r.ioctl(IOMMU_IOCTL.IOMMU_IOAS_ALLOC, arg);
      r[field] = new DataView(arg.buffer).getUint32(8, true);
      return rc;
    },
  ];
}

const limit32: Step = [
  "set_temp_memory_limit(32)",
  (r) => r.test(IOMMU_TEST_OP.IOMMU_TEST_OP_SET_TEMP_MEMORY_LIMIT, 0, [[0, 4, 32]])[0],
];

const iovaRanges: Step = [
  "iova_ranges",
  (r) => {
    const arg = bytes(32, [
      [0, 4, 32],
      [4, 4, r.ioas],
      [8, 4, 10],
      [16, 8, r.tmp],
    ]);
    return r.ioctl(IOMMU_IOCTL.IOMMU_IOAS_IOVA_RANGES, arg);
  },
];

const allowIovas: Step = [
  "allow_iovas",
  (r) => {
    const arg = bytes(24, [
      [0, 4, 24],
      [4, 4, r.ioas],
      [8, 4, 1],
      [16, 8, r.ranges],
    ]);
    return r.ioctl(IOMMU_IOCTL.IOMMU_IOAS_ALLOW_IOVAS, arg);
  },
];

function map(length: bigint, fixed?: bigint, ioas: "ioas" | "ioas2" = "ioas"): Step {
  return [
    `map(${length}${fixed === undefined ? "" : " fixed"})`,
    (r) => {
      const arg = bytes(40, [
        [0, 4, 40],
        [4, 4, fixed === undefined ? WR : RW],
        [8, 4, r[ioas]],
        [16, 8, r.buffer],
        [24, 8, length],
        [32, 8, fixed ?? 0n],
      ]);
      const rc = r.ioctl(IOMMU_IOCTL.IOMMU_IOAS_MAP, arg);
      r.iova = new DataView(arg.buffer).getBigUint64(32, true);
      return rc;
    },
  ];
}

const copy: Step = [
  "copy",
  (r) => {
    const arg = bytes(40, [
      [0, 4, 40],
      [4, 4, WR],
      [8, 4, r.ioas],
      [12, 4, r.ioas],
      [16, 8, 160n], // sizeof(struct iommu_iova_range ranges[10])
      [32, 8, r.iova],
    ]);
    return r.ioctl(IOMMU_IOCTL.IOMMU_IOAS_COPY, arg);
  },
];

function unmap(length: bigint): Step {
  return [
    "unmap",
    (r) =>
      r.ioctl(
        IOMMU_IOCTL.IOMMU_IOAS_UNMAP,
        bytes(24, [
          [0, 4, 24],
          [4, 4, r.ioas],
          [8, 8, r.iova],
          [16, 8, length],
        ]),
      ),
  ];
}

/** The failure path of no IOVA to unmap: its result is ignored, as in iommufd_fail_nth.c. */
const unmapAgain: Step = ["unmap again (ENOENT)", (r) => (unmap(BUFFER_SIZE)[1](r) === -2 ? 0 : -1)];

function mockDomain(second = false, devFlags = 0): Step {
  return [
    second ? "mock_domain(2)" : devFlags === 0 ? "mock_domain" : "mock_domain_flags",
    (r) => {
      const op =
        devFlags === 0
          ? IOMMU_TEST_OP.IOMMU_TEST_OP_MOCK_DOMAIN
          : IOMMU_TEST_OP.IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS;
      const [rc, out] = r.test(op, r.ioas, devFlags === 0 ? [] : [[12, 4, devFlags]]);
      if (rc !== 0) return rc;
      if (second) r.stdev2 = out.getUint32(16, true);
      else
        [r.stdev, r.hwpt, r.idev] = [
          out.getUint32(16, true),
          out.getUint32(20, true),
          out.getUint32(24, true),
        ];
      return 0;
    },
  ];
}

function destroy(field: "stdev" | "stdev2"): Step {
  return [
    `destroy(${field})`,
    (r) =>
      r.ioctl(
        IOMMU_IOCTL.IOMMU_DESTROY,
        bytes(8, [
          [0, 4, 8],
          [4, 4, r[field]],
        ]),
      ),
  ];
}

function createAccess(flags: number): Step {
  return [
    "create_access",
    (r) => {
      const [rc, out] = r.test(IOMMU_TEST_OP.IOMMU_TEST_OP_CREATE_ACCESS, r.ioas, [[4, 4, flags]]);
      if (rc === 0) r.access = out.getUint32(16, true);
      return rc;
    },
  ];
}

function accessRw(length: bigint, flags: number): Step {
  return [
    `access_rw(${length}, ${flags})`,
    (r) =>
      r.test(IOMMU_TEST_OP.IOMMU_TEST_OP_ACCESS_RW, r.access, [
        [0, 8, r.iova],
        [8, 8, length],
        [16, 8, r.tmp],
        [24, 4, flags],
      ])[0],
  ];
}

const accessPages: Step = [
  "access_pages",
  (r) => {
    const [rc, out] = r.test(IOMMU_TEST_OP.IOMMU_TEST_OP_ACCESS_PAGES, r.access, [
      [8, 8, r.iova],
      [16, 8, BUFFER_SIZE],
      [24, 8, r.buffer],
    ]);
    r.item = out.getUint32(20, true);
    return rc;
  },
];

const destroyAccessPages: Step = [
  "destroy_access_pages",
  (r) => r.test(IOMMU_TEST_OP.IOMMU_TEST_OP_DESTROY_ACCESS_PAGES, r.access, [[0, 4, r.item]])[0],
];

const destroyAccess: Step = [
  "destroy_access (close)",
  (r) => {
    iommufdFileRelease(r.env, { kind: "access", ctx: r.ctx, id: r.access });
    r.access = 0;
    return 0;
  },
];

const hwInfo: Step = [
  "get_hw_info",
  (r) =>
    r.ioctl(
      IOMMU_IOCTL.IOMMU_GET_HW_INFO,
      bytes(40, [
        [0, 4, 40],
        [8, 4, r.idev],
        [12, 4, 8],
        [16, 8, r.tmp],
      ]),
    ),
];

const hwptAlloc: Step = [
  "hwpt_alloc",
  (r) => {
    const arg = bytes(48, [
      [0, 4, 48],
      [4, 4, IOMMU_HWPT_ALLOC_PASID],
      [8, 4, r.idev],
      [12, 4, r.ioas],
      [24, 4, IOMMU_HWPT_DATA_NONE],
    ]);
    const rc = r.ioctl(IOMMU_IOCTL.IOMMU_HWPT_ALLOC, arg);
    r.hwpt = new DataView(arg.buffer).getUint32(16, true);
    return rc;
  },
];

function replace(to: "ioas2" | "hwpt"): Step {
  return [
    `mock_domain_replace(${to})`,
    (r) => r.test(IOMMU_TEST_OP.IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE, r.stdev, [[0, 4, r[to]]])[0],
  ];
}

function pasidAttach(replace: boolean, to: "ioas" | "ioas2" | "hwpt"): Step {
  const op = replace ? IOMMU_TEST_OP.IOMMU_TEST_OP_PASID_REPLACE : IOMMU_TEST_OP.IOMMU_TEST_OP_PASID_ATTACH;
  return [
    `pasid_${replace ? "replace" : "attach"}(200, ${to})`,
    (r) => {
      const rc = r.test(op, r.stdev, [
        [0, 4, 200],
        [4, 4, r[to]],
      ])[0];
      if (rc === 0) r.pasid = 200;
      return rc;
    },
  ];
}

const pasidDetach: Step = [
  "pasid_detach(200)",
  (r) => {
    const rc = r.test(IOMMU_TEST_OP.IOMMU_TEST_OP_PASID_DETACH, r.stdev, [[0, 4, r.pasid]])[0];
    r.pasid = 0;
    return rc;
  },
];

const START = BigInt(MOCK_APERTURE_START);
const PIN = MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES;
const SLOW = MOCK_ACCESS_RW_SLOW_PATH;
const WRITE = MOCK_ACCESS_RW_WRITE;

/**
 * [steps before fail_nth_enable(), swept steps, the swept steps that must
 * be hit by an injected fault]. An ioctl that copies out to user memory
 * fails where the copy faults a page in (the user page's allocation:
 * IOVA_RANGES, ACCESS_RW reads, GET_HW_INFO's data) — only the first to
 * touch the page; steps without a fallible point, in Linux too: unmap,
 * destroy, the access fd's close, DESTROY_ACCESS_PAGES. (Linux also fails
 * ACCESS_RW's kvzalloc bounce buffer on reads; here a read is a query.)
 */
const SEQUENCES: Record<string, [Step[], Step[], string[]]> = {
  basic: [
    [],
    [open, ioasAlloc("ioas"), iovaRanges, allowIovas, map(BUFFER_SIZE), copy, unmap(BUFFER_SIZE), unmapAgain],
    ["open", "ioas_alloc(ioas)", "iova_ranges", "allow_iovas", `map(${BUFFER_SIZE})`, "copy"],
  ],
  map_domain: [
    [open, ioasAlloc("ioas"), limit32],
    [mockDomain(), map(262144n), destroy("stdev"), mockDomain()],
    ["mock_domain", "map(262144)"],
  ],
  map_two_domains: [
    [open, ioasAlloc("ioas"), limit32, mockDomain()],
    [mockDomain(true), map(262144n), destroy("stdev"), destroy("stdev2"), mockDomain(), mockDomain(true)],
    ["mock_domain(2)", "map(262144)", "mock_domain"],
  ],
  access_rw: [
    [open, ioasAlloc("ioas"), limit32, map(262144n)],
    [
      createAccess(0),
      accessRw(64n, 0),
      accessRw(64n, WRITE),
      accessRw(64n, SLOW),
      accessRw(64n, SLOW | WRITE),
      accessRw(32768n, SLOW),
      destroyAccess,
    ],
    [
      "create_access",
      "access_rw(64, 0)",
      `access_rw(64, ${WRITE})`,
      // access_rw(64, SLOW): the first read faulted the user page in already
      `access_rw(64, ${SLOW | WRITE})`,
      `access_rw(32768, ${SLOW})`,
    ],
  ],
  access_pin: [
    [open, ioasAlloc("ioas"), limit32, map(BUFFER_SIZE), createAccess(PIN)],
    [accessPages, destroyAccessPages, destroyAccess],
    ["access_pages"],
  ],
  access_pin_domain: [
    [open, ioasAlloc("ioas"), limit32, mockDomain(), map(BUFFER_SIZE), createAccess(PIN)],
    [accessPages, destroyAccessPages, destroyAccess, destroy("stdev")],
    ["access_pages"],
  ],
  device: [
    [open, ioasAlloc("ioas"), ioasAlloc("ioas2"), map(PAGE, START), map(PAGE, START, "ioas2")],
    [
      mockDomain(false, MOCK_FLAGS_DEVICE_PASID),
      hwInfo,
      hwptAlloc,
      replace("ioas2"),
      replace("hwpt"),
      // Linux's fail_nth attaches PASID 200 to ioas_id and replaces it with ioas_id2 (result
      // ignored); an auto domain is never PASID-compatible (iommufd.c pasid_attach: "Attach ioas
      // to pasid 100, should fail"), so the PASID goes to the PASID-compatible HWPT instead.
      pasidAttach(false, "hwpt"),
      pasidDetach,
    ],
    [
      "mock_domain_flags",
      "get_hw_info",
      "hwpt_alloc",
      "mock_domain_replace(ioas2)",
      "pasid_attach(200, hwpt)",
    ],
  ],
};

/** Close the access fd and /dev/iommu (FIXTURE_TEARDOWN(basic_fail_nth)); nothing may be left. */
function teardown(r: Run): void {
  if (r.access !== 0) destroyAccess[1](r);
  if (r.pasid !== 0 && r.stdev !== 0) pasidDetach[1](r);
  if (r.ctx !== 0)
    expect(isErrno(r.log.dispatch({ type: "iommufd.close", data: { ctx: r.ctx } }))).toBe(false);
  const s = r.log.state;
  expect(Object.keys(s.iommufd.contexts)).toEqual([]);
  expect(s.iopt.ioas.size).toBe(0);
  expect(s.iopt.pages.size).toBe(0);
  expect(s.iopt.accesses.size).toBe(0);
  expect(s.mockDomain.domains.size).toBe(0);
  expect([...s.iopt.userLocked.values()].every((n) => n === 0)).toBe(true);
  expect(checkInvariants(s as never)).toEqual([]);
}

describe.each(Object.entries(SEQUENCES))(
  "fail-nth sweep (iommufd_fail_nth.c): %s",
  (_name, [setup, swept, mustHit]) => {
    it("every fallible step fails cleanly and the teardown frees everything", () => {
      const hit = new Set<string>();
      let n = 1;
      for (; n < 400; n++) {
        const r = new Run();
        for (const [name, step] of setup) expect(step(r), `setup ${name}`).toBe(0);
        r.remaining = n;
        let failed = false;
        for (const [name, step] of swept) {
          const before = stateHash(r.log.state);
          const rc = step(r);
          if (r.fired) {
            expect(rc, `${name} with step ${n} failing`).toBeLessThan(0);
            expect(stateHash(r.log.state), `${name} left a trace at step ${n}`).toBe(before);
            hit.add(name);
            failed = true;
            break;
          }
          expect(rc, `${name} (fail-nth ${n} not reached yet)`).toBe(0);
        }
        teardown(r);
        if (!failed) break;
      }
      expect(n).toBeGreaterThan(1);
      expect([...hit].sort()).toEqual([...mustHit].sort());
    });
  },
);
