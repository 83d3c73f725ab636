/**
 * A panel body for a view whose subsystems have not landed yet (the IOVA
 * map of `iopt`, the page-table trees of `vtd`/`smmu`, the fault queues):
 * the inspector tree of each named slice that the root has, else a note
 * saying which slices the panel will draw from.
 */
import type { ViewerRoot } from "../system";
import { TreeNode } from "./TreeNode";

/** Props of `SliceView`. */
export interface SliceViewProps {
  readonly root: ViewerRoot;
  /** Root keys the panel draws from, in order. */
  readonly slices: readonly string[];
  /** What the panel will show once those subsystems are composed. */
  readonly what: string;
}

/** The trees of the present slices, or the placeholder note. */
export function SliceView({ root, slices, what }: SliceViewProps) {
  const present = slices.filter((k) => root[k] !== undefined);
  if (present.length === 0) {
    return (
      <p class="empty">
        {what}: no {slices.join(" / ")} slice in this system yet
      </p>
    );
  }
  return (
    <div class="inspector">
      {present.map((k) => (
        <TreeNode key={k} label={k} value={root[k]} />
      ))}
    </div>
  );
}
