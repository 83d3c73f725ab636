/**
 * RLIMIT_MEMLOCK accounting of pinned pages: IOMMU_OPTION_RLIMIT_MODE
 * (selftest global_options), per-user and per-mm limits, CAP_IPC_LOCK
 * (IOPT_PAGES_ACCOUNT_NONE). Exceeding the limit fails the map with ENOMEM
 * and pins nothing (Linux pages.c incr_user_locked_vm(),
 * update_mm_locked_vm()).
 */
import { describe, expect, it } from "vitest";
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
});
