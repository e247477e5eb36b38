/** Logging: the winston logger factory whose entries carry `component`, trading ids and the active trace id. */
export {
  createLogger,
  createSilentLogger,
  hasOtelTransport,
  type CreateLoggerOptions,
  type LogFields,
  type Logger,
} from "./logger.js";
