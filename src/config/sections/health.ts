import { z } from "zod";
import { portSchema, section } from "./common.js";

export const healthSection = section({
  /** Interface the health server binds; keep it on loopback unless a scraper needs it. */
  host: z.string().min(1).default("127.0.0.1"),
  /** Port of `/health`, `/health/live`, `/health/ready` and (by default) `/metrics`. 0 picks a free port. */
  port: z.union([z.literal(0), portSchema]).default(8080),
});
