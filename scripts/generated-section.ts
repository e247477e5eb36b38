import { readFileSync, writeFileSync } from "node:fs";

/**
 * Replaces the text between two marker lines of a Markdown file with generated content. With
 * `--check` on the command line it writes nothing and exits 1 when the file is out of date.
 */
export function writeGeneratedSection(
  file: string,
  markers: { start: string; end: string },
  content: string,
  script: string,
): void {
  const current = readFileSync(file, "utf8");
  const start = current.indexOf(markers.start);
  const end = current.indexOf(markers.end);
  if (start < 0 || end < 0)
    throw new Error(`${file}: markers not found (${markers.start} ... ${markers.end})`);
  const next = `${current.slice(0, start)}${markers.start}\n\n${content}\n\n${markers.end}${current.slice(end + markers.end.length)}`;
  if (!process.argv.includes("--check")) {
    writeFileSync(file, next);
    return;
  }
  if (next !== current) {
    process.stderr.write(`${file} is out of date: run npx tsx ${script}\n`);
    process.exit(1);
  }
}
