/**
 * The object graph panel: one drawing per iommufd context, objects in
 * columns IOAS → HWPT → vIOMMU → nested HWPT → devices/accesses → vDEVICEs → queues (graph.ts), an
 * arrow from each object to each object it uses.
 */
import { type GraphContext, type ObjectGraph, TYPE_COLUMNS } from "../graph";

const BOX_W = 124;
const BOX_H = 40;
const GAP_X = 44;
const GAP_Y = 14;

const x = (column: number) => column * (BOX_W + GAP_X);
const y = (row: number) => row * (BOX_H + GAP_Y);

function ContextDrawing({ c }: { readonly c: GraphContext }) {
  const byId = new Map(c.objects.map((o) => [o.id, o]));
  const columns = Math.max(1, ...c.objects.map((o) => o.column + 1));
  const rows = Math.max(1, ...c.objects.map((o) => o.row + 1));
  const width = x(columns) - GAP_X;
  const height = y(rows) - GAP_Y;
  return (
    <div class="context" data-testid={`graph-context-${c.id}`}>
      <h3>
        context {c.id} — pid {c.pid}, {c.vfio ? "/dev/vfio/vfio" : "/dev/iommu"}, accounting per{" "}
        {c.accountMode}, <span data-testid={`graph-context-${c.id}-count`}>{c.objects.length}</span> object(s)
      </h3>
      {c.objects.length === 0 ? null : (
        <svg width={width} height={height} viewBox={`0 0 ${width} ${height}`} role="img">
          <title>objects of context {c.id}</title>
          <defs>
            <marker
              id={`arrow-${c.id}`}
              viewBox="0 0 10 10"
              refX="10"
              refY="5"
              markerWidth="7"
              markerHeight="7"
              orient="auto"
            >
              <path d="M0,0 L10,5 L0,10 z" class="arrowhead" />
            </marker>
          </defs>
          {c.objects.flatMap((o) =>
            o.refs.map((r) => {
              const to = byId.get(r);
              if (to === undefined) return null;
              // Users point at what they use: from the user's left edge to the used object's right edge.
              return (
                <line
                  key={`${o.id}-${r}`}
                  class="edge"
                  marker-end={`url(#arrow-${c.id})`}
                  x1={x(o.column)}
                  y1={y(o.row) + BOX_H / 2}
                  x2={x(to.column) + BOX_W}
                  y2={y(to.row) + BOX_H / 2}
                />
              );
            }),
          )}
          {c.objects.map((o) => (
            <g key={o.id} data-testid={`graph-object-${c.id}-${o.id}`} class={`object ${o.type}`}>
              <rect x={x(o.column)} y={y(o.row)} width={BOX_W} height={BOX_H} rx={5} />
              <text x={x(o.column) + 8} y={y(o.row) + 17}>
                #{o.id} {o.type}
              </text>
              {o.kobj === undefined ? null : (
                <text class="kobj" x={x(o.column) + 8} y={y(o.row) + 32}>
                  kernel object {o.kobj}
                </text>
              )}
            </g>
          ))}
        </svg>
      )}
    </div>
  );
}

/** Props of `ObjectGraphView`. */
export interface ObjectGraphViewProps {
  /** The graph, or undefined when the system has no iommufd slice. */
  readonly graph: ObjectGraph | undefined;
}

/** Every context, or a note when there is no iommufd slice. */
export function ObjectGraphView({ graph }: ObjectGraphViewProps) {
  if (graph === undefined) return <p class="empty">no iommufd slice in this system</p>;
  return (
    <div class="graph">
      <p data-testid="graph-summary">
        {graph.contexts.length} context(s), {graph.objectCount} object(s)
      </p>
      <p class="legend">columns: {TYPE_COLUMNS.map((t) => t.join(" / ")).join(" → ")}</p>
      {graph.contexts.map((c) => (
        <ContextDrawing key={c.id} c={c} />
      ))}
    </div>
  );
}
