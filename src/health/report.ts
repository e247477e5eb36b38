import type { ComponentReport } from "./registry.js";

/**
 * Walks a `/health` report: calls `visit` for every component in report order, with its group
 * for grouped ones (`workers`, `exchanges`, `alerts`, ...). The one place that knows a group is
 * an object of components and a component is an object with a `status` string; it accepts
 * reports read back from the network, so anything else is skipped.
 */
export function forEachComponent(
  report: { readonly components?: unknown },
  visit: (name: string, component: ComponentReport, group: string | undefined) => void,
): void {
  const components = report.components;
  if (typeof components !== "object" || components === null) return;
  for (const [key, value] of Object.entries(components as Record<string, unknown>)) {
    if (!value || typeof value !== "object") continue;
    if (isComponent(value)) {
      visit(key, value, undefined);
      continue;
    }
    for (const [name, component] of Object.entries(value)) {
      if (isComponent(component)) visit(name, component, key);
    }
  }
}

/**
 * A component's name with its group, `exchanges.simex`; a name that already starts with its
 * group (alert channels register as `alerts.<channel>`) is not prefixed again.
 */
export function qualifiedName(name: string, group: string | undefined): string {
  if (group === undefined || name.startsWith(`${group}.`)) return name;
  return `${group}.${name}`;
}

function isComponent(value: unknown): value is ComponentReport {
  return (
    typeof value === "object" && value !== null && typeof (value as { status?: unknown }).status === "string"
  );
}
