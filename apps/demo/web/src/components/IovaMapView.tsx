/** The IOVA map panel: per IOAS its areas, reserved and allowed ranges, and attached domains (iova.ts). */
import { bytesText, hex } from "../format";
import { type IovaMap, protText } from "../iova";

function lengthText(first: bigint, last: bigint): string {
  const n = last - first + 1n;
  return n <= BigInt(Number.MAX_SAFE_INTEGER) ? bytesText(Number(n)) : `${hex(n)} bytes`;
}

function IoasView({ m }: { readonly m: IovaMap }) {
  return (
    <div class="ioas" data-testid={`iova-ioas-${m.id}`}>
      <h3>
        IOAS {m.id} — <span data-testid={`iova-ioas-${m.id}-areas`}>{m.areas.length}</span> area(s),{" "}
        {lengthText(0n, m.mappedBytes - 1n)} mapped
        {m.domains.length === 0
          ? ", no domain"
          : `, domains ${m.domains.map((d) => `#${d.id} (${bytesText(d.ioPageSize)} IO pages)`).join(", ")}`}
        {m.accesses.length === 0 ? "" : `, accesses ${m.accesses.map((a) => `#${a}`).join(", ")}`}
      </h3>
      {m.areas.length === 0 ? null : (
        <table>
          <thead>
            <tr>
              <th>IOVA</th>
              <th>last</th>
              <th>length</th>
              <th>prot</th>
              <th>pages</th>
            </tr>
          </thead>
          <tbody>
            {m.areas.map((a) => (
              <tr key={String(a.iova)} data-testid={`iova-area-${m.id}-${hex(a.iova)}`}>
                <td class="num">{hex(a.iova)}</td>
                <td class="num">{hex(a.last)}</td>
                <td class="num">{lengthText(a.iova, a.last)}</td>
                <td>{protText(a.prot)}</td>
                <td>
                  #{a.pages} +{hex(a.startByte)}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {m.reserved.length === 0 ? null : (
        <p>
          reserved:{" "}
          {m.reserved
            .map((r) => `${hex(r.start)}–${hex(r.last)}${r.owner === 0 ? "" : ` (owner ${r.owner})`}`)
            .join(", ")}
        </p>
      )}
      {m.allowed.length === 0 ? null : (
        <p>allowed: {m.allowed.map((r) => `${hex(r.start)}–${hex(r.last)}`).join(", ")}</p>
      )}
    </div>
  );
}

/** Props of `IovaMapView`. */
export interface IovaMapViewProps {
  /** The maps, or undefined when the system has no iopt slice. */
  readonly maps: readonly IovaMap[] | undefined;
}

/** Every IOAS, or a note. */
export function IovaMapView({ maps }: IovaMapViewProps) {
  if (maps === undefined) return <p class="empty">no iopt slice in this system</p>;
  if (maps.length === 0) return <p data-testid="iova-summary">no IOAS</p>;
  return (
    <div>
      <p data-testid="iova-summary">{maps.length} IOAS(es)</p>
      {maps.map((m) => (
        <IoasView key={m.id} m={m} />
      ))}
    </div>
  );
}
