/**
 * An IO page table as a tree opened level by level: the top table's
 * present entries; a table pointer opens into the next table, read only
 * when opened (pagetables.ts), so a domain mapping gigabytes costs one
 * table frame per opened node.
 */
import { useState } from "preact/hooks";
import { hex } from "../format";
import { childTable, type PtContext, type PtFormat, type PtTable, readTable, spanText } from "../pagetables";

/** Props of `PageTableTree`. */
export interface PageTableTreeProps {
  readonly ctx: PtContext;
  readonly format: PtFormat;
  /** The table pointer (as the hardware structure holds it). */
  readonly root: number;
  /** log2 of a top-level entry's span. */
  readonly shift: number;
  /** Entries of the top table (default 512). */
  readonly topCount?: number;
  /** data-testid prefix: the table gets `${testId}`, an entry `${testId}-${iova hex}-${shift}`. */
  readonly testId: string;
}

/** The whole tree, from its root table. */
export function PageTableTree({ ctx, format, root, shift, topCount, testId }: PageTableTreeProps) {
  const table = readTable(ctx, format, root, shift, 0n, topCount);
  return <TableView ctx={ctx} table={table} testId={testId} />;
}

function TableView({ ctx, table, testId }: { ctx: PtContext; table: PtTable; testId: string }) {
  if (table.pa === undefined)
    return (
      <div class="empty">table at {hex(table.addr)}: not reachable (its address does not translate)</div>
    );
  return (
    <div class="pt-table" data-testid={`${testId}-table-${hex(table.base)}-${table.shift}`}>
      <div class="pt-head">
        table {hex(table.addr)}
        {table.pa !== table.addr ? ` (PA ${hex(table.pa)})` : ""}: {table.entries.length + table.more} present
        entr{table.entries.length + table.more === 1 ? "y" : "ies"} of {spanText(1n << BigInt(table.shift))}
      </div>
      {table.entries.map((e) =>
        e.leaf ? (
          <div key={e.index} class="pt-entry leaf" data-testid={`${testId}-${hex(e.iova)}-${table.shift}`}>
            <span class="num">[{e.index}]</span> {hex(e.iova)} → {hex(e.addr)}{" "}
            <span class="muted">{spanText(e.span)}</span> {e.flags}{" "}
            <span class="muted raw">{hex(e.raw)}</span>
          </div>
        ) : (
          <EntryNode key={e.index} ctx={ctx} table={table} index={e.index} testId={testId} />
        ),
      )}
      {table.more > 0 ? <div class="more">… {table.more} more present entries</div> : null}
    </div>
  );
}

function EntryNode({
  ctx,
  table,
  index,
  testId,
}: {
  ctx: PtContext;
  table: PtTable;
  index: number;
  testId: string;
}) {
  const [open, setOpen] = useState(false);
  const e = table.entries.find((x) => x.index === index)!;
  const child = open ? childTable(ctx, table, e) : undefined;
  return (
    <details
      class="pt-entry"
      open={open}
      data-testid={`${testId}-${hex(e.iova)}-${table.shift}`}
      onToggle={(ev) => setOpen((ev.currentTarget as HTMLDetailsElement).open)}
    >
      <summary>
        <span class="num">[{e.index}]</span> {hex(e.iova)}… <span class="muted">{spanText(e.span)}</span> →
        table {hex(e.addr)} {e.flags} <span class="muted raw">{hex(e.raw)}</span>
      </summary>
      {child === undefined ? null : <TableView ctx={ctx} table={child} testId={testId} />}
    </details>
  );
}
