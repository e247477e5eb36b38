/** The ccxt instrumentation: spans, exchange metrics, `/health` and alert events for a bot that uses ccxt. */
export {
  CcxtInstrumentation,
  SUPPORTED_CCXT_VERSIONS,
  CCXT_INSTRUMENTATION_NAME,
} from "./instrumentation.js";
export { ExchangeRecorder, type ExchangeRecorderOptions, type ExchangeEventSink } from "./recorder.js";
export { insideCcxtAttempt } from "./patch.js";
