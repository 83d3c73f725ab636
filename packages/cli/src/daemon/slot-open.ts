/**
 * Opening a program's slot memfd from the daemon (SHM_ATTACH): through
 * /proc/<pid>/fd, with the checks that keep a client from making the
 * daemon write into any other file.
 */
import { closeSync, fstatSync, openSync, readFileSync, readlinkSync, statSync } from "node:fs";
import { type Errno, errno } from "@iommu-sim/uapi";
import { SLOT } from "./slot";

const O_ACCMODE = 3;
const O_RDWR = 2;

/** The access mode (O_RDONLY/O_WRONLY/O_RDWR) of fd `fd` of process `pid`, from /proc/<pid>/fdinfo; undefined if unknown. */
function accessMode(pid: number, fd: number): number | undefined {
  try {
    const m = /^flags:\s*([0-7]+)$/m.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, "latin1"));
    return m === null ? undefined : Number.parseInt(m[1]!, 8) & O_ACCMODE;
  } catch {
    return undefined;
  }
}

/**
 * Open the slot of process `pid`: its fd `fd`, reopened through
 * /proc/<pid>/fd (which needs the same ptrace rights as /proc/<pid>/mem).
 * Only a memfd (a "/memfd:" link, no name in any directory) of exactly
 * SLOT.SIZE bytes that the program holds open read-write is accepted, so a
 * client cannot make the daemon write into any other file it can name.
 * @returns the daemon's fd, or EBADF (no such fd), EINVAL (not a memfd of
 *   SLOT.SIZE bytes open read-write, or replaced while being opened).
 */
export function openSlot(pid: number, fd: number): number | Errno {
  const path = `/proc/${pid}/fd/${fd}`;
  let target: string;
  let before: ReturnType<typeof statSync>;
  try {
    target = readlinkSync(path);
    before = statSync(path);
  } catch {
    return errno("EBADF", `fd ${fd} of process ${pid} is not open`);
  }
  if (!target.startsWith("/memfd:") || !before.isFile() || before.nlink !== 0 || before.size !== SLOT.SIZE) {
    return errno("EINVAL", `fd ${fd} is not a memfd of ${SLOT.SIZE} bytes`);
  }
  // The program must itself be able to write the file (fs/proc/fd.c seq_show "flags:", octal, O_RDWR = 2):
  // the daemon never writes where the program could not (a read-only memfd another process shares with it).
  if (accessMode(pid, fd) !== O_RDWR) return errno("EINVAL", `fd ${fd} is not open read-write`);
  let own: number;
  try {
    own = openSync(path, "r+");
  } catch {
    return errno("EBADF", `cannot open fd ${fd} of process ${pid}`);
  }
  // The fd may have been replaced between the checks and the open: it must still be the same file.
  const after = fstatSync(own);
  if (after.dev !== before.dev || after.ino !== before.ino) {
    closeSync(own);
    return errno("EINVAL", `fd ${fd} changed while being opened`);
  }
  return own;
}
