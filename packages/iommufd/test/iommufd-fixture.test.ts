/**
 * The semantics of Linux's selftest fixture `iommufd`
 * (tools/testing/selftests/iommu/iommufd.c: simple_close, cmd_fail,
 * cmd_length, cmd_ex_fail, global_options), through the byte interface.
 * Struct offsets come from include/uapi/linux/iommufd.h (v6.17).
 */
import { stateHash } from "@iommu-sim/eventlog";
import { _IO, IOMMU_IOCTL, IOMMUFD_IOCTL_OPS, isErrno } from "@iommu-sim/uapi";
import { describe, expect, it } from "vitest";
import { bytes, IommuFd, newSystem } from "./harness";

const ENOENT = -2;
const EFAULT = -14;
const ENOTTY = -25;
const EINVAL = -22;
const E2BIG = -7;
const EOPNOTSUPP = -95;
const EBADF = -9;

/** struct iommu_destroy {u32 size; u32 id} = 8 bytes. */
const destroyArg = (id: number, size = 8, total = 8) =>
  bytes(total, [
    [0, 4, size],
    [4, 4, id],
  ]);
/** struct iommu_option: size@0 option_id@4 op@8 __reserved@10 object_id@12 val64@16, 24 bytes. */
const optionArg = (option: number, op: number, val: bigint, objectId = 0) =>
  bytes(24, [
    [0, 4, 24],
    [4, 4, option],
    [8, 2, op],
    [12, 4, objectId],
    [16, 8, val],
  ]);

describe("fixture iommufd", () => {
  it("simple_close: open then close leaves nothing", () => {
    const log = newSystem();
    const before = stateHash(log.state.iommufd.contexts);
    const fd = IommuFd.open(log);
    expect(log.state.iommufd.contexts[fd.ctx]).toBeDefined();
    expect(isErrno(fd.close())).toBe(false);
    expect(stateHash(log.state.iommufd.contexts)).toBe(before);
    expect(fd.ioctl(IOMMU_IOCTL.IOMMU_DESTROY, destroyArg(1))).toBe(EBADF);
  });

  it("cmd_fail: invalid id, bad pointer, unknown ioctl", () => {
    const fd = IommuFd.open(newSystem());
    expect(fd.ioctl(IOMMU_IOCTL.IOMMU_DESTROY, destroyArg(0))).toBe(ENOENT);
    expect(fd.ioctl(IOMMU_IOCTL.IOMMU_DESTROY, new Uint8Array(0))).toBe(EFAULT);
    expect(fd.ioctl(_IO(0x3b, 0x80 - 1), destroyArg(0))).toBe(ENOTTY);
  });

  it("cmd_length: every command checks size before anything else", () => {
    const fd = IommuFd.open(newSystem());
    for (const op of IOMMUFD_IOCTL_OPS) {
      // struct { struct _struct cmd; uint8_t extra; } with extra = 0xff
      const arg = new Uint8Array(op.size + 1);
      const dv = new DataView(arg.buffer);
      arg[op.size] = 0xff;
      dv.setUint32(0, op.minSize - 1, true);
      expect(fd.ioctl(op.ioctl, arg), `${op.name} size min-1`).toBe(EINVAL);
      dv.setUint32(0, op.size + 1, true);
      expect(fd.ioctl(op.ioctl, arg), `${op.name} size+1 with non-zero tail`).toBe(E2BIG);
      dv.setUint32(0, op.size, true);
      const rc = fd.ioctl(op.ioctl, arg);
      dv.setUint32(0, op.size + 1, true);
      arg[op.size] = 0;
      expect(fd.ioctl(op.ioctl, arg), `${op.name} size+1 with zero tail`).toBe(rc);
    }
  });

  it("cmd_ex_fail: a longer struct with a zero tail works, a non-zero tail is E2BIG, a short one EINVAL", () => {
    const fd = IommuFd.open(newSystem());
    const arg = destroyArg(0, 16, 16); // struct { iommu_destroy cmd; __u64 future; }
    expect(fd.ioctl(IOMMU_IOCTL.IOMMU_DESTROY, arg)).toBe(ENOENT);
    new DataView(arg.buffer).setBigUint64(8, 1n, true);
    expect(fd.ioctl(IOMMU_IOCTL.IOMMU_DESTROY, arg)).toBe(E2BIG);
    new DataView(arg.buffer).setUint32(0, 8, true);
    expect(fd.ioctl(IOMMU_IOCTL.IOMMU_DESTROY, arg)).toBe(ENOENT);
    new DataView(arg.buffer).setUint32(0, 7, true);
    expect(fd.ioctl(IOMMU_IOCTL.IOMMU_DESTROY, arg)).toBe(EINVAL);
  });

  it("global_options: RLIMIT_MODE get/set, HUGE_PAGES needs an IOAS", () => {
    const fd = IommuFd.open(newSystem());
    const RLIMIT = 0;
    const HUGE = 1;
    const SET = 0;
    const GET = 1;
    let arg = optionArg(RLIMIT, GET, 1n);
    expect(fd.ioctl(IOMMU_IOCTL.IOMMU_OPTION, arg)).toBe(0);
    expect(new DataView(arg.buffer).getBigUint64(16, true)).toBe(0n);
    expect(fd.ioctl(IOMMU_IOCTL.IOMMU_OPTION, optionArg(RLIMIT, SET, 1n))).toBe(0);
    expect(fd.ioctl(IOMMU_IOCTL.IOMMU_OPTION, optionArg(RLIMIT, SET, 2n))).toBe(EINVAL);
    arg = optionArg(RLIMIT, GET, 0n);
    expect(fd.ioctl(IOMMU_IOCTL.IOMMU_OPTION, arg)).toBe(0);
    expect(new DataView(arg.buffer).getBigUint64(16, true)).toBe(1n);
    expect(fd.ioctl(IOMMU_IOCTL.IOMMU_OPTION, optionArg(RLIMIT, SET, 0n))).toBe(0);
    expect(fd.ioctl(IOMMU_IOCTL.IOMMU_OPTION, optionArg(HUGE, GET, 0n))).toBe(ENOENT);
    expect(fd.ioctl(IOMMU_IOCTL.IOMMU_OPTION, optionArg(HUGE, SET, 0n))).toBe(ENOENT);
  });

  it("IOMMU_OPTION: reserved, unknown option, unknown op and object_id on RLIMIT_MODE are EOPNOTSUPP", () => {
    const fd = IommuFd.open(newSystem());
    const reserved = optionArg(0, 1, 0n);
    reserved[10] = 1;
    expect(fd.ioctl(IOMMU_IOCTL.IOMMU_OPTION, reserved)).toBe(EOPNOTSUPP);
    expect(fd.ioctl(IOMMU_IOCTL.IOMMU_OPTION, optionArg(7, 1, 0n))).toBe(EOPNOTSUPP);
    expect(fd.ioctl(IOMMU_IOCTL.IOMMU_OPTION, optionArg(0, 9, 0n))).toBe(EOPNOTSUPP);
    expect(fd.ioctl(IOMMU_IOCTL.IOMMU_OPTION, optionArg(0, 1, 0n, 5))).toBe(EOPNOTSUPP);
  });

  it("/dev/vfio/vfio contexts account per mm by default, /dev/iommu per user", () => {
    const log = newSystem();
    const a = IommuFd.open(log, 1, false);
    const b = IommuFd.open(log, 1, true);
    expect(log.state.iommufd.contexts[a.ctx]!.accountMode).toBe("user");
    expect(log.state.iommufd.contexts[b.ctx]!.accountMode).toBe("mm");
    expect(a.ctx).not.toBe(b.ctx);
  });

  it("open fails cleanly when the context allocation fails", () => {
    const log = newSystem();
    const before = stateHash(log.state);
    const seq = log.seq; // the platform's unit commands
    log.failNth(1);
    const r = log.dispatch({ type: "iommufd.open", data: { pid: 1, vfio: false } });
    expect(isErrno(r) && r.name).toBe("ENOMEM");
    expect(stateHash(log.state)).toBe(before);
    expect(log.seq).toBe(seq);
  });
});
