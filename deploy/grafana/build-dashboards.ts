/**
 * `npm run dashboards`: writes every dashboard from `dashboards.ts` to
 * `deploy/grafana/dashboards/<name>.json` (committed; Grafana provisions that folder). The deploy
 * tests fail when the committed JSON differs from what this produces.
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildDashboards, dashboardJson } from "./dashboards.js";

const outDir = join(__dirname, "dashboards");
mkdirSync(outDir, { recursive: true });
const files = buildDashboards();
const wanted = new Set(files.map((f) => f.file));
// Dashboards removed from the code disappear from the folder too.
for (const stale of readdirSync(outDir).filter((name) => name.endsWith(".json") && !wanted.has(name))) {
  rmSync(join(outDir, stale));
}
for (const { file, dashboard } of files) {
  writeFileSync(join(outDir, file), dashboardJson(dashboard));
  console.log(`wrote deploy/grafana/dashboards/${file} (${dashboard.panels?.length ?? 0} panels)`);
}
