/**
 * `pnpm demo`: the end-to-end story through the public packages, as far as
 * they are wired today — a process and its memory, /dev/iommu through
 * byte-exact ioctls, a selftest mock device whose IO page table follows the
 * IOAS, Linux's errno for misuse, PASIDs from /dev/ioasid within a quota,
 * SVA, and the direct-map system PASID refused to an untrusted NIC; then
 * the log is written as JSON Lines, replayed, and the state hashes compared.
 * (The VT-d, SMMUv3 and VFIO chapters join as those drivers are wired in.)
 */
import { createReadStream, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLog, encodeLog, readLog, stateHash, Vocabulary } from "@iommu-sim/eventlog";
import { ioasidIoctl } from "@iommu-sim/ioasid";
import { createSystem, DEFAULT_PLATFORM, iommufdIoctl, processMemory } from "@iommu-sim/iommufd";
import {
  errnoName,
  IOASID_IOCTL,
  IOMMU_IOCTL,
  IOMMU_TEST_OP,
  ioasidAllocRequest,
  isErrno,
  MOCK_APERTURE_START,
  VOCABULARY,
} from "@iommu-sim/uapi";

const platform = DEFAULT_PLATFORM;

const system = () => createSystem(undefined, platform);
const log = createLog(system());
const say = (s: string) => console.log(s);
const hex = (v: bigint | number) => `0x${v.toString(16)}`;
const rcName = (rc: number) => (rc >= 0 ? `${rc}` : (errnoName(-rc) ?? `errno ${-rc}`));
function must<T>(r: T): Exclude<T, { code: number }> {
  if (isErrno(r)) throw new Error(`demo step failed: ${r}`);
  return r as Exclude<T, { code: number }>;
}

const t0 = performance.now();
say("iommu-sim demo — the Linux IOMMU user stack in software\n");

// 1. A process with a 64 KiB shared buffer holding a pattern.
const PID = 1000;
must(log.dispatch({ type: "mm.spawn", data: { pid: PID } }));
const mapped = must(
  log.dispatch({ type: "mm.mmap", data: { pid: PID, length: 0x10000n, prot: 3, shared: true } }),
);
const buf = (mapped[0]!.data as { addr: bigint }).addr;
must(
  log.dispatch({
    type: "mm.write",
    data: { pid: PID, va: buf, bytes: new TextEncoder().encode("DMA me, please") },
  }),
);
say(`1. process ${PID} mmaps 64 KiB at ${hex(buf)} and writes a message into it`);

// 2. /dev/iommu: an IOAS and a selftest mock device attached to it.
const ctx = (
  must(log.dispatch({ type: "iommufd.open", data: { pid: PID, vfio: false } }))[0]!.data as { ctx: number }
).ctx;
const env = {
  dispatch: (c: never) => log.dispatch(c),
  peek: () => log.peek() as never,
  user: processMemory(log as never, PID),
};
const ioctl = (req: number, arg: Uint8Array) => iommufdIoctl(env, ctx, req, arg);
const struct = (size: number) => {
  const b = new Uint8Array(size);
  const v = new DataView(b.buffer);
  v.setUint32(0, size, true);
  return [b, v] as const;
};
const [alloc, allocV] = struct(12);
ioctl(IOMMU_IOCTL.IOMMU_IOAS_ALLOC, alloc);
const ioas = allocV.getUint32(8, true);
const [mock, mockV] = struct(72);
mockV.setUint32(4, IOMMU_TEST_OP.IOMMU_TEST_OP_MOCK_DOMAIN, true);
mockV.setUint32(8, ioas, true);
ioctl(IOMMU_IOCTL.IOMMU_TEST_CMD, mock);
const hwpt = mockV.getUint32(20, true);
say(
  `2. open /dev/iommu (context ${ctx}): IOMMU_IOAS_ALLOC → IOAS ${ioas}; a mock device attaches → auto HWPT ${hwpt}`,
);

// 3. Map the buffer; the mock domain's IO page table follows.
const IOVA = BigInt(MOCK_APERTURE_START);
const mapArg = (iova: bigint, length: bigint) => {
  const [b, v] = struct(40);
  v.setUint32(4, 1 | 2 | 4, true); // FIXED_IOVA | WRITEABLE | READABLE
  v.setUint32(8, ioas, true);
  v.setBigUint64(16, buf, true);
  v.setBigUint64(24, length, true);
  v.setBigUint64(32, iova, true);
  return b;
};
const rcMap = ioctl(IOMMU_IOCTL.IOMMU_IOAS_MAP, mapArg(IOVA, 0x10000n));
const [check, checkV] = struct(72);
checkV.setUint32(4, IOMMU_TEST_OP.IOMMU_TEST_OP_MD_CHECK_MAP, true);
checkV.setUint32(8, hwpt, true);
checkV.setBigUint64(16, IOVA, true);
checkV.setBigUint64(24, 0x10000n, true);
checkV.setBigUint64(32, buf, true);
const rcCheck = ioctl(IOMMU_IOCTL.IOMMU_TEST_CMD, check);
const domain = log.state.mockDomain.domains.values().next().value;
say(
  `3. IOMMU_IOAS_MAP ${hex(buf)} (64 KiB) at IOVA ${hex(IOVA)}: ${rcName(rcMap)}; MD_CHECK_MAP (every 2 KiB IO page → the user page's PA): ${rcName(rcCheck)}`,
);
say(
  `   the mock domain's IO page table now holds ${domain?.table.frameCount ?? 0} table frame(s); pinned pages: ${log.state.iopt.pages.size} iopt_pages object(s)`,
);

// 4. Misuse gets Linux's errno and changes nothing.
const before = stateHash(log.state);
const overlap = ioctl(IOMMU_IOCTL.IOMMU_IOAS_MAP, mapArg(IOVA + 0x1000n, 0x1000n));
const [unmap, unmapV] = struct(24);
unmapV.setUint32(4, ioas, true);
unmapV.setBigUint64(8, IOVA, true);
unmapV.setBigUint64(16, 0x1000n, true);
const split = ioctl(IOMMU_IOCTL.IOMMU_IOAS_UNMAP, unmap);
const [destroy, destroyV] = struct(8);
destroyV.setUint32(4, ioas, true);
const busy = ioctl(IOMMU_IOCTL.IOMMU_DESTROY, destroy);
say(
  `4. overlapping map → ${rcName(overlap)}; unmapping half an area → ${rcName(split)}; destroying the IOAS under a HWPT → ${rcName(busy)}; state unchanged: ${stateHash(log.state) === before}`,
);

// 5. PASIDs through /dev/ioasid within a quota, SVA, and the system PASID.
must(log.dispatch({ type: "ioasid.cgroup.create", data: { cgroup: 1, parent: 0, max: 2 } }));
must(log.dispatch({ type: "ioasid.cgroup.attach", data: { pid: PID, cgroup: 1 } }));
const opened0 = must(log.dispatch({ type: "ioasid.open", data: { pid: PID } }));
const fd = (opened0.find((e) => e.type === "ioasid.opened")!.data as { fd: number }).fd;
const allocPasid = () => {
  const arg = ioasidAllocRequest.encode({ argsz: 16, flags: 0, range: { min: 1, max: (1 << 20) - 1 } });
  return ioasidIoctl(log as never, PID, fd, IOASID_IOCTL.IOASID_REQUEST_ALLOC, arg);
};
const p1 = allocPasid();
const p2 = allocPasid();
const p3 = allocPasid();
say(
  `5. /dev/ioasid in a group with max 2: IOASID_REQUEST_ALLOC → PASID ${p1}, PASID ${p2}, then ${rcName(p3)} (over quota)`,
);
const accel = platform.devices.find((d) => d.name === "accel0")!;
const nic = platform.devices.find((d) => d.name === "nic0")!;
must(log.dispatch({ type: "ioasid.cgroup.setMax", data: { cgroup: 1 } }));
const bound = log.dispatch({ type: "sva.bind", data: { pid: PID, rid: accel.rid, flags: 0 } });
const bond = isErrno(bound)
  ? undefined
  : (bound.find((e) => e.type === "sva.bound")?.data as { pasid: number });
say(
  `   SVA bind of accel0 (${hex(accel.rid)}) to process ${PID}'s address space → PASID ${bond?.pasid ?? "?"}`,
);
must(log.dispatch({ type: "systemPasid.policy", data: { allowDirectMap: true } }));
const refused = log.dispatch({ type: "systemPasid.directMap.enable", data: { rid: nic.rid } });
say(
  `   the untrusted NIC (${hex(nic.rid)}, behind an external port) asks for the direct-map system PASID → ${isErrno(refused) ? `${refused.name}: ${refused.reason}` : "granted?!"}`,
);

// 6. Close, then write, read back and replay the log.
must(log.dispatch({ type: "iommufd.close", data: { ctx } }));
say(
  `6. closing /dev/iommu frees everything: IOAS ${log.state.iopt.ioas.size}, iopt_pages ${log.state.iopt.pages.size}, mock domains ${log.state.mockDomain.domains.size}`,
);
const dir = mkdtempSync(join(tmpdir(), "iommu-sim-demo-"));
const file = join(dir, "demo.jsonl");
writeFileSync(file, encodeLog(log.records, { demo: "iommu-sim", platform }));
const fromDisk = await readLog(createReadStream(file), { vocabulary: new Vocabulary(VOCABULARY), file });
const replayed = createLog(system());
for await (const batch of fromDisk.batches) replayed.append(batch as never);
const live = stateHash(log.state);
const again = stateHash(replayed.state);
say(`7. the log (${log.seq} records) is in ${file}; replayed from disk with validation`);
say(
  `   state hash live ${live.slice(0, 16)}… replayed ${again.slice(0, 16)}… → ${live === again ? "equal" : "DIFFERENT"}`,
);
say(`\ndone in ${Math.round(performance.now() - t0)} ms`);
if (live !== again || rcMap !== 0 || rcCheck !== 0) process.exit(1);
