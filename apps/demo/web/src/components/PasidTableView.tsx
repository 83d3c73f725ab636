/** The PASID tables panel: every taken PASID with its use and owner (pasids.ts). */
import { hex } from "../format";
import type { PasidTable } from "../pasids";

/** Props of `PasidTableView`. */
export interface PasidTableViewProps {
  /** The table, or undefined when the system has no ioasid slice. */
  readonly table: PasidTable | undefined;
}

/** A table of PASIDs, or a note when there is no ioasid slice. */
export function PasidTableView({ table }: PasidTableViewProps) {
  if (table === undefined) return <p class="empty">no ioasid slice in this system</p>;
  return (
    <div>
      <p data-testid="pasid-summary">
        {table.taken} PASID(s) taken{table.capacity === undefined ? "" : ` of ${table.capacity}`}
      </p>
      <table class="pasids">
        <thead>
          <tr>
            <th>PASID</th>
            <th>use</th>
            <th>owner</th>
          </tr>
        </thead>
        <tbody>
          {table.rows.map((r) => (
            <tr key={r.pasid} data-testid={`pasid-${r.pasid}`}>
              <td class="num">
                {r.pasid} ({hex(r.pasid)})
              </td>
              <td>{r.use}</td>
              <td>{r.owner}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {table.rows.length < table.taken ? <p>… {table.taken - table.rows.length} more</p> : null}
    </div>
  );
}
