/**
 * One node of the state inspector tree. Children are computed only when the
 * node is opened, so a root state with large tables costs nothing until
 * someone looks inside.
 */
import { useState } from "preact/hooks";
import { describe } from "../inspect";

/** Props of `TreeNode`. */
export interface TreeNodeProps {
  readonly label: string;
  readonly value: unknown;
  /** Open at first (the top level). */
  readonly open?: boolean;
  /** data-testid of the node, if a test needs it. */
  readonly testId?: string;
}

/** A label and a value summary; expandable when the value has children. */
export function TreeNode({ label, value, open = false, testId }: TreeNodeProps) {
  const [isOpen, setOpen] = useState(open);
  const d = describe(value);
  if (d.children === undefined || d.count === 0) {
    return (
      <div class="leaf" data-testid={testId}>
        <span class="key">{label}</span>: <span class="value">{d.summary}</span>
      </div>
    );
  }
  const kids = isOpen ? d.children() : [];
  return (
    <details
      open={isOpen}
      data-testid={testId}
      onToggle={(e) => setOpen((e.currentTarget as HTMLDetailsElement).open)}
    >
      <summary>
        <span class="key">{label}</span>: <span class="value">{d.summary}</span>
      </summary>
      <div class="children">
        {kids.map(([k, v]) => (
          <TreeNode key={k} label={k} value={v} />
        ))}
        {d.count !== undefined && d.count > kids.length && isOpen ? (
          <div class="more">… {d.count - kids.length} more</div>
        ) : null}
      </div>
    </details>
  );
}
