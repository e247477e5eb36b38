/** Health: the component registry and the HTTP server for `/health`, `/health/live`, `/health/ready` and `/metrics`. */
export {
  HealthRegistry,
  type ComponentOptions,
  type ComponentReport,
  type ComponentState,
  type ComponentUpdate,
  type HealthReport,
  type OverallStatus,
} from "./registry.js";
export { formatAgo, formatDuration } from "../format/duration.js";
export {
  createHealthApp,
  createMetricsApp,
  startHttpServer,
  type HealthAppOptions,
  type ListeningServer,
  type MetricsHandler,
  type RequestListener,
} from "./server.js";
