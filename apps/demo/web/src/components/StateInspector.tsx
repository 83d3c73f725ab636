/**
 * The generic state inspector: a tree of every slice of the root state at
 * the selected seq, each marked when the selected record changed it
 * (states.ts).
 */
import type { ViewerRoot } from "../system";
import { TreeNode } from "./TreeNode";

/** Props of `StateInspector`. */
export interface StateInspectorProps {
  readonly root: ViewerRoot;
  /** Keys of the slices the selected record changed. */
  readonly changed: readonly string[];
}

/** One expandable tree per slice, in the root's key order. */
export function StateInspector({ root, changed }: StateInspectorProps) {
  return (
    <div class="inspector">
      {Object.keys(root).map((key) => {
        const isChanged = changed.includes(key);
        return (
          <div
            key={key}
            class={isChanged ? "slice changed" : "slice"}
            data-testid={`slice-row-${key}`}
            data-changed={isChanged ? "true" : "false"}
          >
            <TreeNode label={key} value={root[key]} testId={`slice-${key}`} />
          </div>
        );
      })}
    </div>
  );
}
