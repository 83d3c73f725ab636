/**
 * Fault injection in the manner of Linux's fail_nth (and
 * tools/testing/selftests/iommu/iommufd_fail_nth.c): arm the log so that the
 * Nth fallible step of the next command fails.
 */
import { type Errno, type ErrnoName, errno } from "@iommu-sim/uapi";
import type { DecideContext } from "./decider";

/**
 * Counts the fallible steps of one command and fails the armed one.
 * `sites` lists every step reached (for sweeps and diagnostics).
 */
export class StepCounter implements DecideContext {
  readonly sites: string[] = [];
  /** Whether the armed step was reached (and failed). */
  fired = false;

  /** @param failAt 1-based index of the step to fail; 0 = none. */
  constructor(private readonly failAt: number) {}

  step = (site: string, as: ErrnoName = "ENOMEM"): Errno | undefined => {
    this.sites.push(site);
    if (this.sites.length === this.failAt) {
      this.fired = true;
      return errno(as, `fault injected at step ${this.failAt} (${site})`);
    }
    return undefined;
  };
}

/** The context used when nothing is armed: every step succeeds, nothing is recorded. */
export const NO_FAULTS: DecideContext = Object.freeze({ step: () => undefined });
