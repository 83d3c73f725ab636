/**
 * What the daemon learns about a real process from /proc: its mappings
 * (/proc/<pid>/maps, Linux fs/proc/task_mmu.c show_map_vma()), its user and
 * CAP_IPC_LOCK (/proc/<pid>/status, fs/proc/array.c), and RLIMIT_MEMLOCK
 * (/proc/<pid>/limits, fs/proc/base.c proc_pid_limits()). The external
 * memory mirror (external.ts) copies these into the model's `mm` process.
 */
import { readFileSync, readlinkSync, statSync } from "node:fs";

/**
 * One line of /proc/<pid>/maps: [start, end) in bytes, its r/w
 * permissions, and for a shared mapping of a file or shmem object (memfd,
 * MAP_SHARED|MAP_ANONYMOUS, SysV shm) the object's identity `key`
 * ("dev:inode") and the byte `offset` of `start` in it.
 */
export interface RealVma {
  readonly start: number;
  readonly end: number;
  /** PROT_READ (1) | PROT_WRITE (2), as the model's `mm.mmap` takes them. */
  readonly prot: number;
  /** "dev:inode" of the shared object behind a MAP_SHARED mapping; absent for private memory. */
  readonly key?: string;
  /** Byte offset of `start` in the object (the maps "offset" column). */
  readonly offset: number;
}

/**
 * The mappings of `pid` sorted by start (the kernel lists them in order),
 * or `undefined` when the process is gone or unreadable. Addresses above
 * 2^53 (x86-64's [vsyscall]) are left out: they are not user memory a
 * program can hand to an ioctl.
 */
export function readMaps(pid: number): RealVma[] | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/maps`, "latin1");
  } catch {
    return undefined;
  }
  const out: RealVma[] = [];
  for (const line of text.split("\n")) {
    // "start-end perms offset dev inode [path]"
    const [range, perms, offset, dev, inode] = line.split(/\s+/);
    const dash = range?.indexOf("-") ?? -1;
    if (range === undefined || perms === undefined || dash <= 0) continue;
    const start = Number.parseInt(range.slice(0, dash), 16);
    const end = Number.parseInt(range.slice(dash + 1), 16);
    if (!Number.isSafeInteger(end) || end <= start) continue;
    const prot = (perms[0] === "r" ? 1 : 0) | (perms[1] === "w" ? 2 : 0);
    const vma = { start, end, prot, offset: Number.parseInt(offset ?? "0", 16) };
    const shared = perms[3] === "s" && inode !== undefined && inode !== "0";
    out.push(shared ? { ...vma, key: `${dev}:${inode}` } : vma);
  }
  return out;
}

/**
 * The size in bytes of the object behind mapping [start, end) of `pid`
 * (stat of /proc/<pid>/map_files/<start>-<end>, which needs the same
 * rights as /proc/<pid>/mem), or `undefined` when it cannot be known.
 */
export function mappedObjectSize(pid: number, start: number, end: number): number | undefined {
  try {
    return statSync(`/proc/${pid}/map_files/${start.toString(16)}-${end.toString(16)}`).size;
  } catch {
    return undefined;
  }
}

/** What fd `fd` of a process refers to, for IOMMU_IOAS_MAP_FILE. */
export interface FdFile {
  /** The object's identity as /proc/<pid>/maps shows it ("major:minor inode", hex device numbers). */
  readonly key: string;
  /** Its size in bytes now (st_size: ftruncate's length for a memfd). */
  readonly size: number;
  /** A memfd or a /dev/shm file: memory memfd_pin_folios() accepts (shmem or hugetlbfs). */
  readonly shmem: boolean;
}

/**
 * Linux include/linux/kdev_t.h new_decode_dev(): the (major, minor) of a
 * 32-bit dev_t, written as /proc/<pid>/maps writes them (`%02x:%02x`).
 */
function mapsDevice(dev: bigint): string {
  const major = Number(((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn));
  const minor = Number((dev & 0xffn) | ((dev >> 12n) & ~0xffn));
  const hex = (n: number) => n.toString(16).padStart(2, "0");
  return `${hex(major)}:${hex(minor)}`;
}

/**
 * The file behind fd number `fd` of process `pid` (stat and readlink of
 * /proc/<pid>/fd/<fd>, which need the rights /proc/<pid>/mem needs), or
 * `undefined` when the fd is not open (EBADF for the ioctl that names it).
 * A memfd's link reads "/memfd:NAME (deleted)".
 */
export function readFdFile(pid: number, fd: number): FdFile | undefined {
  if (!Number.isInteger(fd) || fd < 0) return undefined;
  const link = `/proc/${pid}/fd/${fd}`;
  try {
    const st = statSync(link, { bigint: true });
    const target = readlinkSync(link);
    const shmem = st.isFile() && (target.startsWith("/memfd:") || target.startsWith("/dev/shm/"));
    return { key: `${mapsDevice(st.dev)}:${st.ino}`, size: Number(st.size), shmem };
  } catch {
    return undefined;
  }
}

/** CAP_IPC_LOCK's bit in the capability sets (include/uapi/linux/capability.h). */
const CAP_IPC_LOCK = 14n;

/** The credentials the model's `mm.spawn` takes. */
export interface ProcCredentials {
  /** Real uid (the user whose locked_vm per-user accounting charges). */
  readonly uid: number;
  /** RLIMIT_MEMLOCK soft limit in bytes (2^64 − 1 for "unlimited"). */
  readonly memlockLimit: bigint;
  /** CAP_IPC_LOCK in the effective set: pins are not accounted. */
  readonly capIpcLock: boolean;
}

/** RLIM_INFINITY as a u64. */
const RLIM_INFINITY = (1n << 64n) - 1n;

/** The credentials of `pid`, or `undefined` when the process is gone. */
export function readCredentials(pid: number): ProcCredentials | undefined {
  let status: string;
  let limits: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, "latin1");
    limits = readFileSync(`/proc/${pid}/limits`, "latin1");
  } catch {
    return undefined;
  }
  const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1] ?? "0");
  const capEff = BigInt(`0x${/^CapEff:\s+([0-9a-f]+)/m.exec(status)?.[1] ?? "0"}`);
  const soft = /^Max locked memory\s+(\S+)/m.exec(limits)?.[1];
  const memlockLimit = soft === undefined || soft === "unlimited" ? RLIM_INFINITY : BigInt(soft);
  return { uid, memlockLimit, capIpcLock: ((capEff >> CAP_IPC_LOCK) & 1n) === 1n };
}

/** Whether `pid` is a live process: it exists and is not a zombie (/proc/<pid>/stat state "Z"). */
export function processAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    return stat[stat.lastIndexOf(")") + 2] !== "Z";
  } catch {
    return false;
  }
}
