/**
 * A short sample session decided by the real subsystems, encoded as JSON
 * Lines: the fixture of the view models' tests (test/web-model.test.ts).
 * (The dev server's default log is the demo's story, story-log.ts.)
 * Browser-safe.
 */
import { createLog, encodeLog, type LogRecord, type Message } from "@iommu-sim/eventlog";
import {
  IOMMU_IOAS_MAP_FIXED_IOVA,
  IOMMU_IOAS_MAP_READABLE,
  IOMMU_IOAS_MAP_WRITEABLE,
  IOMMU_OPTION_RLIMIT_MODE,
  isErrno,
  MOCK_APERTURE_START,
} from "@iommu-sim/uapi";
import { defaultSystem } from "./system";

/** The user buffer of process 100: 16 KiB at this VA (4 KiB pages). */
export const SAMPLE_BUFFER_VA = 0x7f00_0000_0000n;
/** Its length in bytes. */
export const SAMPLE_BUFFER_LENGTH = 0x4000n;
/** Where the sample maps it: the first IOVA of the selftest mock domain's aperture (2^24). */
export const SAMPLE_IOVA = BigInt(MOCK_APERTURE_START);

/**
 * The sample session, in order; context ids, fds and IOAS ids are the ones
 * the model assigns from 1:
 * two /dev/iommu contexts (the second a /dev/vfio/vfio open) and an
 * IOMMU_OPTION; process 100 with a 16 KiB buffer holding "hello, DMA"; an
 * IOAS in context 1 (object 1), a selftest mock device on it
 * (IOMMU_TEST_OP_MOCK_DOMAIN: selftest object, device, auto-allocated
 * paging HWPT with its mock domain), the buffer mapped at 2^24; /dev/ioasid
 * PASIDs; the VFIO context closed. The map goes to iopt with the IOAS's
 * kernel-object id (1) until iommufd has an IOMMU_IOAS_MAP command.
 */
export const SAMPLE_COMMANDS: readonly Message[] = [
  { type: "iommufd.open", data: { pid: 100, vfio: false } },
  { type: "iommufd.open", data: { pid: 200, vfio: true } },
  // IOMMU_OPTION_RLIMIT_MODE = 1: account pinned pages per mm (only while the context has no object).
  { type: "iommufd.option.set", data: { ctx: 1, option: IOMMU_OPTION_RLIMIT_MODE, objectId: 0, value: 1n } },
  { type: "mm.spawn", data: { pid: 100, uid: 1000 } },
  {
    type: "mm.mmap",
    data: { pid: 100, addr: SAMPLE_BUFFER_VA, length: SAMPLE_BUFFER_LENGTH, prot: 3, shared: false },
  },
  {
    type: "mm.write",
    data: { pid: 100, va: SAMPLE_BUFFER_VA, bytes: new TextEncoder().encode("hello, DMA") },
  },
  { type: "iommufd.ioas.alloc", data: { ctx: 1 } },
  { type: "iommufd.selftest.mock_domain", data: { ctx: 1, ptId: 1, flags: 0 } },
  {
    type: "ioas.map",
    data: {
      ioas: 1,
      pid: 100,
      userVa: SAMPLE_BUFFER_VA,
      length: SAMPLE_BUFFER_LENGTH,
      iova: SAMPLE_IOVA,
      flags: IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE,
    },
  },
  { type: "ioasid.open", data: { pid: 100 } },
  { type: "ioasid.alloc", data: { pid: 100, fd: 1, min: 1, max: 0xfffff } },
  { type: "ioasid.alloc", data: { pid: 100, fd: 1, min: 1, max: 0xfffff } },
  { type: "ioasid.alloc", data: { pid: 100, fd: 1, min: 0x100, max: 0xfffff } },
  { type: "ioasid.free", data: { pid: 100, fd: 1, pasid: 2 } },
  { type: "iommufd.close", data: { ctx: 2 } },
];

/**
 * The records of `commands` dispatched in order on a fresh log of the
 * default system.
 * @throws Error when a command fails: the sample is a fixture, so a failure is a bug.
 */
export function sampleRecords(commands: readonly Message[] = SAMPLE_COMMANDS): readonly LogRecord[] {
  const log = createLog(defaultSystem());
  for (const c of commands) {
    const r = log.dispatch(c);
    if (isErrno(r)) throw new Error(`sample command ${c.type} failed: ${r.toString()}`);
  }
  return log.records;
}

/** The sample log as JSON Lines text (header line first). */
export function sampleLogText(): string {
  return encodeLog(sampleRecords(), { source: "iommu-sim demo web sample" });
}
