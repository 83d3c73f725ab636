/**
 * The whole story, step after step, on one event log of the default
 * platform (`createSystemLog`: the log begins with the VT-d and SMMU unit
 * commands, so a replay rebuilds the hardware). Browser-safe: `pnpm demo`
 * (src/main.ts) prints it and checks the replay; the web view replays the
 * same records.
 */
import type { LogRecord } from "@iommu-sim/eventlog";
import { Account } from "./account";
import { type SystemLog, storyLog } from "./fds";
import { type Guest, vfioGuest } from "./step1-vfio-guest";
import { nestedVtd } from "./step2-nested-vtd";
import { type PasidFault, pasidIopf } from "./step3-pasid-iopf";
import { nestedSmmu } from "./step4-nested-smmu";
import { type Untrusted, untrustedNic } from "./step5-untrusted";

/** Everything a run of the story leaves. */
export interface StoryRun {
  /** The live log, every record of the story in it. */
  readonly log: SystemLog;
  /** The account as printed. */
  readonly account: Account;
  readonly guest: Guest;
  readonly pasidFault: PasidFault;
  readonly untrusted: Untrusted;
}

/**
 * Run steps 1–5 on a new log, saying each line of the account to `out` as it goes.
 * @throws Error when a step the story needs fails (a bug of the demo or a package, never user input).
 */
export function runStory(out?: (line: string) => void): StoryRun {
  const log = storyLog();
  const account = new Account(out);
  const guest = vfioGuest(log, account);
  nestedVtd(guest, account);
  const pasidFault = pasidIopf(log, account);
  nestedSmmu(log, guest, account);
  const untrusted = untrustedNic(log, account);
  return { log, account, guest, pasidFault, untrusted };
}

/** The story's records alone (for the web view's default log). */
export function storyRecords(): readonly LogRecord[] {
  return runStory().log.records;
}
