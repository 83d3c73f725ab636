/** The page-table panel's mock-domain part: each domain's translations as IOVA → PA runs (domains.ts). */

import type { DomainMap } from "../domains";
import { bytesText, hex } from "../format";
import { protText } from "../iova";

/** Props of `DomainView`. */
export interface DomainViewProps {
  readonly domains: readonly DomainMap[];
}

/** One block per mock domain. */
export function DomainView({ domains }: DomainViewProps) {
  if (domains.length === 0) return <p data-testid="domain-summary">no mock domain</p>;
  return (
    <div>
      <p data-testid="domain-summary">{domains.length} mock domain(s)</p>
      {domains.map((d) => (
        <div key={d.id} class="domain" data-testid={`domain-${d.id}`}>
          <h3>
            mock domain {d.id}
            {d.ioas === undefined ? ", detached" : `, on IOAS ${d.ioas}`} —{" "}
            <span data-testid={`domain-${d.id}-entries`}>{d.entries}</span> entries of{" "}
            {bytesText(d.ioPageSize)} in {d.tableFrames} table frame(s)
          </h3>
          {d.runs.length === 0 ? null : (
            <table>
              <thead>
                <tr>
                  <th>IOVA</th>
                  <th>last</th>
                  <th>→ PA</th>
                  <th>prot</th>
                </tr>
              </thead>
              <tbody>
                {d.runs.map((r) => (
                  <tr key={String(r.iova)} data-testid={`domain-run-${d.id}-${hex(r.iova)}`}>
                    <td class="num">{hex(r.iova)}</td>
                    <td class="num">{hex(r.last)}</td>
                    <td class="num">{hex(r.pa)}</td>
                    <td>{protText(r.prot)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </div>
      ))}
    </div>
  );
}
