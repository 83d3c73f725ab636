/** Every layout the package exports, by C name (test helper). */
import * as uapi from "../src/index";
import { type AnyLayout, Layout } from "../src/index";

export const ALL_LAYOUTS: readonly AnyLayout[] = Object.values(uapi as Record<string, unknown>).filter(
  (x): x is AnyLayout => x instanceof Layout,
);

export const LAYOUT_BY_NAME: ReadonlyMap<string, AnyLayout> = new Map(ALL_LAYOUTS.map((l) => [l.name, l]));

export function layoutNamed(name: string): AnyLayout {
  const l = LAYOUT_BY_NAME.get(name);
  if (l === undefined) throw new Error(`no layout ${name}`);
  return l;
}
