import { z } from "zod";
import { section } from "./common.js";

export const serviceSection = section({
  /** `service.name` resource attribute; `OTEL_SERVICE_NAME` wins when set. */
  name: z.string().min(1).default("ticktrace-demo"),
  /** `deployment.environment.name` resource attribute. */
  environment: z.string().min(1).default("development"),
  /** `service.version`; defaults to the application's version (`npm_package_version`, else `./package.json`). */
  version: z.string().min(1).optional(),
  /** `service.instance.id`; defaults to `<hostname>-<pid>`. */
  instance_id: z.string().min(1).optional(),
});
