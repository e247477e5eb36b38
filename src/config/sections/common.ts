import { z } from "zod";
import { ALERT_LEVELS } from "../../alert-model/types.js";

/** An alert level (see {@link ALERT_LEVELS}); the alert channels' `min_level` settings. */
export const alertLevelSchema = z.enum(ALERT_LEVELS);

export const portSchema = z.int().min(1).max(65_535);
export const positiveMsSchema = z.int().min(1);
export const nonNegativeSchema = z.number().min(0);

/** An http(s) URL. */
export const httpUrlSchema = z.url({ protocol: /^https?$/ });

/**
 * An object section whose every key has a default: `{}` (or a missing section) parses to the
 * full defaults. Unknown keys are errors, so a typo is reported rather than silently ignored.
 */
export function section<T extends z.core.$ZodLooseShape>(shape: T) {
  const schema = z.strictObject(shape);
  // Every key in a section has a default, so `{}` is a complete input.
  return schema.prefault({} as z.input<typeof schema>);
}
