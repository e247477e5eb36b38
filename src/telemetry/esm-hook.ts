import { existsSync, readFileSync } from "node:fs";
import type * as NodeModule from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";

/**
 * Whether the application's entry point is an ES module: a `.mjs` file, or a `.js` file whose
 * nearest `package.json` says `"type": "module"`. Reads at most one `package.json` per
 * directory up to the root; cheap enough for the preload.
 */
export function entryIsEsm(entry: string | undefined = process.argv[1]): boolean {
  if (!entry) return false;
  if (entry.endsWith(".mjs")) return true;
  if (entry.endsWith(".cjs")) return false;
  let dir = dirname(entry);
  for (;;) {
    const file = join(dir, "package.json");
    if (existsSync(file)) {
      try {
        return (JSON.parse(readFileSync(file, "utf8")) as { type?: unknown }).type === "module";
      } catch {
        return false;
      }
    }
    const parent = dirname(dir);
    if (parent === dir) return false;
    dir = parent;
  }
}

/**
 * Registers the OpenTelemetry ESM loader hook (import-in-the-middle, through
 * `@opentelemetry/instrumentation/hook.mjs`) for `modules` only, so instrumentations see those
 * packages when the application `import`s them. Everything else loads untouched: wrapping every
 * module costs start-up time and breaks some packages. Returns false when this Node.js cannot
 * register loader hooks; the CommonJS path is unaffected either way.
 */
export function registerEsmHook(modules: readonly string[]): boolean {
  if (modules.length === 0) return false;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { register } = require("node:module") as typeof NodeModule;
    if (typeof register !== "function") return false;
    register("@opentelemetry/instrumentation/hook.mjs", pathToFileURL(__filename), {
      data: { include: [...modules] },
    });
    return true;
  } catch {
    return false;
  }
}
