/**
 * RLIMIT_MEMLOCK accounting of pinned pages: IOMMU_OPTION_RLIMIT_MODE
 * (selftest global_options), per-user and per-mm limits, CAP_IPC_LOCK
 * (IOPT_PAGES_ACCOUNT_NONE), and the calling context's mode carried by the
 * command (io_pagetable.c iopt_map_common(): ictx->account_mode MM turns a
 * USER iopt_pages into MM). Exceeding the limit fails the map with ENOMEM
 * and pins nothing (Linux pages.c incr_user_locked_vm(),
 * update_mm_locked_vm()).
 */
import { sweepFailNth } from "@iommu-sim/eventlog";
import { describe, expect, it } from "vitest";
import { ioptDecider } from "../src/index";
import { BUFFER_SIZE, BUFFER_VA, MOCK_APERTURE_START, PAGE, Sim } from "./fixture";

describe("accounting", () => {
  it("global_options: RLIMIT_MODE 0/1, EINVAL for 2, EBUSY once objects exist", () => {
    const sim = new Sim({ capIpcLock: false });
    expect(sim.state.iopt.accountMode).toBe(1);
    sim.ok({ type: "iopt.set_rlimit_mode", data: { val64: 1n } });
    expect(sim.err({ type: "iopt.set_rlimit_mode", data: { val64: 2n } })).toBe("EINVAL");
    expect(sim.state.iopt.accountMode).toBe(2);
    sim.ok({ type: "iopt.set_rlimit_mode", data: { val64: 0n } });
    sim.ioasAlloc();
    expect(sim.err({ type: "iopt.set_rlimit_mode", data: { val64: 1n } })).toBe("EBUSY");
  });

  it("per-user: over RLIMIT_MEMLOCK is ENOMEM and pins nothing; unmap uncharges", () => {
    const sim = new Sim({ capIpcLock: false, memlockLimit: 16n * PAGE });
    const ioas = sim.ioasAlloc();
    sim.mockDomain(ioas);
    sim.map(ioas, BUFFER_VA, 12n * PAGE, MOCK_APERTURE_START);
    expect(sim.state.iopt.userLocked.get(1000)).toBe(12);
    const big = sim.mmap(8n * PAGE, { shared: true });
    expect(sim.mapErr(ioas, big, 8n * PAGE, MOCK_APERTURE_START + BUFFER_SIZE)).toBe("ENOMEM");
    sim.checkRefs(big, 8n * PAGE, 0);
    expect(sim.state.iopt.userLocked.get(1000)).toBe(12);
    sim.map(ioas, big, 4n * PAGE, MOCK_APERTURE_START + BUFFER_SIZE);
    expect(sim.state.iopt.userLocked.get(1000)).toBe(16);
    sim.unmap(ioas, MOCK_APERTURE_START, 12n * PAGE);
    expect(sim.state.iopt.userLocked.get(1000)).toBe(4);
  });

  it("per-user accounting sums over processes of one uid; per-mm does not", () => {
    for (const mode of [0n, 1n]) {
      const sim = new Sim({ capIpcLock: false, memlockLimit: 16n * PAGE });
      sim.ok({ type: "iopt.set_rlimit_mode", data: { val64: mode } });
      sim.ok({ type: "mm.fork", data: { parent: 1, child: 2 } });
      const ioas = sim.ioasAlloc();
      sim.mockDomain(ioas);
      sim.map(ioas, BUFFER_VA, 10n * PAGE, MOCK_APERTURE_START, undefined, 1);
      const second = sim.dispatch(
        sim.mapCmd(ioas, BUFFER_VA, 10n * PAGE, MOCK_APERTURE_START + BUFFER_SIZE, undefined, 2),
      );
      expect("name" in second ? second.name : "ok").toBe(mode === 0n ? "ENOMEM" : "ok");
    }
  });

  it("CAP_IPC_LOCK: nothing is accounted", () => {
    const sim = new Sim({ capIpcLock: true, memlockLimit: PAGE });
    const ioas = sim.ioasAlloc();
    sim.mockDomain(ioas);
    sim.map(ioas, BUFFER_VA, BUFFER_SIZE, MOCK_APERTURE_START);
    expect(sim.state.iopt.userLocked.size).toBe(0);
  });

  it("a page pinned by two areas of one iopt_pages is charged once; two maps charge twice", () => {
    const sim = new Sim({ capIpcLock: false });
    const ioas = sim.ioasAlloc();
    sim.mockDomain(ioas);
    sim.map(ioas, BUFFER_VA, 4n * PAGE, MOCK_APERTURE_START);
    sim.ok({
      type: "ioas.copy",
      data: {
        dstIoas: ioas,
        srcIoas: ioas,
        srcIova: MOCK_APERTURE_START,
        dstIova: MOCK_APERTURE_START + 8n * PAGE,
        length: 4n * PAGE,
        flags: 3,
      },
    });
    expect(sim.state.iopt.userLocked.get(1000)).toBe(4);
    sim.checkRefs(BUFFER_VA, 4n * PAGE, 1);
    sim.map(ioas, BUFFER_VA, 4n * PAGE, MOCK_APERTURE_START + 16n * PAGE);
    expect(sim.state.iopt.userLocked.get(1000)).toBe(8);
    sim.checkRefs(BUFFER_VA, 4n * PAGE, 2);
  });

  it("a command's accountMode wins over the global mode: 'mm' charges the process, 'user' the uid", () => {
    const sim = new Sim({ capIpcLock: false });
    const ioas = sim.ioasAlloc();
    sim.mockDomain(ioas);
    // global mode: per user (1); the context says per mm, as a /dev/vfio/vfio container does
    const mm = sim.mapCmd(ioas, BUFFER_VA, 4n * PAGE, MOCK_APERTURE_START);
    sim.ok({ ...mm, data: { ...mm.data, accountMode: "mm" } } as typeof mm);
    expect(sim.state.iopt.mmLocked.get(1)).toBe(4);
    expect(sim.state.iopt.userLocked.get(1000) ?? 0).toBe(0);
    // and the other way round: global per mm, context per user
    const sim2 = new Sim({ capIpcLock: false });
    sim2.ok({ type: "iopt.set_rlimit_mode", data: { val64: 1n } });
    const ioas2 = sim2.ioasAlloc();
    sim2.mockDomain(ioas2);
    const user = sim2.mapCmd(ioas2, BUFFER_VA, 4n * PAGE, MOCK_APERTURE_START);
    sim2.ok({ ...user, data: { ...user.data, accountMode: "user" } } as typeof user);
    expect(sim2.state.iopt.userLocked.get(1000)).toBe(4);
    expect(sim2.state.iopt.mmLocked.get(1) ?? 0).toBe(0);
  });

  it("per-mm: the limit is the process's, not shared with another process of the same uid", () => {
    const sim = new Sim({ capIpcLock: false, memlockLimit: 16n * PAGE });
    sim.ok({ type: "mm.fork", data: { parent: 1, child: 2 } });
    const ioas = sim.ioasAlloc();
    sim.mockDomain(ioas);
    const asMm = (c: ReturnType<Sim["mapCmd"]>) =>
      ({ ...c, data: { ...c.data, accountMode: "mm" } }) as typeof c;
    sim.ok(asMm(sim.mapCmd(ioas, BUFFER_VA, 10n * PAGE, MOCK_APERTURE_START, undefined, 1)));
    sim.ok(asMm(sim.mapCmd(ioas, BUFFER_VA, 10n * PAGE, MOCK_APERTURE_START + BUFFER_SIZE, undefined, 2)));
    expect([sim.state.iopt.mmLocked.get(1), sim.state.iopt.mmLocked.get(2)]).toEqual([10, 10]);
    // 10 + 7 > 16 for process 1: ENOMEM, nothing charged or pinned
    const more = sim.mmap(8n * PAGE, { shared: true });
    expect(sim.err(asMm(sim.mapCmd(ioas, more, 7n * PAGE, MOCK_APERTURE_START + 2n * BUFFER_SIZE)))).toBe(
      "ENOMEM",
    );
    expect(sim.state.iopt.mmLocked.get(1)).toBe(10);
    sim.checkRefs(more, 7n * PAGE, 0);
    sim.unmap(ioas, MOCK_APERTURE_START, 10n * PAGE);
    expect(sim.state.iopt.mmLocked.get(1)).toBe(0);
  });

  it("CAP_IPC_LOCK beats the context's mode: nothing is accounted", () => {
    const sim = new Sim({ capIpcLock: true, memlockLimit: PAGE });
    const ioas = sim.ioasAlloc();
    sim.mockDomain(ioas);
    const c = sim.mapCmd(ioas, BUFFER_VA, BUFFER_SIZE, MOCK_APERTURE_START);
    sim.ok({ ...c, data: { ...c.data, accountMode: "mm" } } as typeof c);
    expect(sim.state.iopt.mmLocked.size + sim.state.iopt.userLocked.size).toBe(0);
  });

  it("fail-nth of a per-mm map leaves no charge", () => {
    const sim = new Sim({ capIpcLock: false });
    const ioas = sim.ioasAlloc();
    sim.mockDomain(ioas);
    const c = sim.mapCmd(ioas, BUFFER_VA, 4n * PAGE, MOCK_APERTURE_START);
    const report = sweepFailNth(ioptDecider(), sim.state, {
      ...c,
      data: { ...c.data, accountMode: "mm" },
    } as typeof c);
    expect(report.sites).toEqual(["iopt.alloc_pages", "iopt.area_alloc", "iopt.pin_pages"]);
    expect(sim.state.iopt.mmLocked.size).toBe(0);
  });
});
