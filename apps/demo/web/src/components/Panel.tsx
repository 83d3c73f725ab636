/** A titled panel of the page; `testId` names it for the browser test. */
import type { ComponentChildren } from "preact";

/** Props of `Panel`. */
export interface PanelProps {
  readonly title: string;
  readonly testId: string;
  /** Where the panel's data comes from, shown beside the title (e.g. `root.iommufd`). */
  readonly source?: string;
  readonly children: ComponentChildren;
}

/** A `<section>` with a heading. */
export function Panel({ title, testId, source, children }: PanelProps) {
  return (
    <section class="panel" data-testid={testId}>
      <h2>
        {title}
        {source === undefined ? null : <span class="source">{source}</span>}
      </h2>
      {children}
    </section>
  );
}
