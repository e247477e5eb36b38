/** Health: the component registry and the HTTP server for `/health`, `/health/live`, `/health/ready` and `/metrics`. */
export {
  HealthRegistry,
  formatAgo,
  formatDuration,
  type ComponentOptions,
  type ComponentReport,
  type ComponentState,
  type ComponentUpdate,
  type HealthReport,
  type OverallStatus,
} from "./registry.js";
export {
  createHealthApp,
  createMetricsApp,
  startHttpServer,
  type HealthAppOptions,
  type ListeningServer,
  type MetricsHandler,
  type RequestListener,
} from "./server.js";
