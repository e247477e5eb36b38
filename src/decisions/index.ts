export {
  createDecisionRecorder,
  newSessionId,
  type DecisionRecorder,
  type DecisionRecorderOptions,
  type DecisionSession,
  type RecorderStats,
  type StartSessionInput,
} from "./recorder.js";
export {
  createDecisionRecorderFromConfig,
  createDecisionStoreFromConfig,
  type DecisionRecorderDeps,
} from "./from-config.js";
export { createSqliteDecisionStore, type SqliteDecisionStoreOptions } from "./stores/sqlite.js";
export { createPostgresDecisionStore, type PostgresDecisionStoreOptions } from "./stores/postgres.js";
export { GEN_AI, GEN_AI_OPERATION, TICKTRACE_ATTR } from "./genai.js";
export {
  SESSION_ID_PATTERN,
  SESSION_STATUSES,
  type DecisionBatch,
  type DecisionEvent,
  type DecisionInput,
  type DecisionReader,
  type DecisionStore,
  type DecisionSummary,
  type ModelUsageEvent,
  type ModelUsageInput,
  type SessionEvent,
  type SessionRecord,
  type SessionStatus,
  type SessionTrace,
  type StepEvent,
  type ToolCallEvent,
  type ToolCallInput,
} from "./types.js";
