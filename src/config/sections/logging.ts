import { z } from "zod";
import { section } from "./common.js";

export const loggingSection = section({
  /** Lowest level written (and sent to the collector). */
  level: z.enum(["error", "warn", "info", "debug"]).default("info"),
  /** `json`: one JSON object per line (production); `pretty`: readable console lines. */
  format: z.enum(["json", "pretty"]).default("json"),
});
