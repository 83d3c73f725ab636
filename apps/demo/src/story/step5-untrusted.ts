/**
 * Step 5: the untrusted NIC asks for the direct-map system PASID and is
 * refused. The system PASID is Jason Gunthorpe's option 2 of the SVA API
 * thread (seeds/001): one PASID shared by every device that may DMA to
 * kernel memory through the direct map — only when the administrator
 * allows it and only for a trusted device on the CPU socket. nic0 sits
 * behind an external-facing port (pci_dev->untrusted), so ioasid answers
 * EPERM even with the toggle on. accel0, trusted and on bus 0, gets it.
 */
import { isErrno } from "@iommu-sim/uapi";
import type { Account } from "./account";
import { dataOf, device, must, type SystemLog } from "./fds";

/** What step 5 saw. */
export interface Untrusted {
  /** The errno name the NIC got ("EPERM"), or "granted". */
  readonly nic: string;
  /** The direct-map PASID accel0 got. */
  readonly accelPasid: number;
}

/** Run step 5 on `log`, telling it on `account`. */
export function untrustedNic(log: SystemLog, account: Account): Untrusted {
  account.step(5, "The untrusted NIC asks for the direct-map system PASID and is refused");
  const nic = device("nic0");
  const accel = device("accel0");
  must(log.dispatch({ type: "systemPasid.policy", data: { allowDirectMap: true } }), "policy");
  account.say("the administrator allows the shared direct-map PASID (systemPasid.policy allowDirectMap)");
  const refused = log.dispatch({ type: "systemPasid.directMap.enable", data: { rid: nic.rid } });
  const nicText = isErrno(refused) ? refused.name : "granted";
  account.say(
    `nic0 (RID 0x${nic.rid.toString(16)}, untrusted, behind an external-facing port) asks for it → ${isErrno(refused) ? `${refused.name}: ${refused.reason ?? ""}` : "granted?!"}`,
  );
  const granted = must(
    log.dispatch({ type: "systemPasid.directMap.enable", data: { rid: accel.rid } }),
    "accel0 direct map",
  );
  const accelPasid = dataOf<{ pasid: number }>(granted, "systemPasid.directMapEnabled").pasid;
  account.say(`accel0 (RID 0x${accel.rid.toString(16)}, trusted, on the socket) asks → PASID ${accelPasid}`);
  return { nic: nicText, accelPasid };
}
