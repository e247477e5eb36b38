/**
 * The reference trading process (`npm start`): the simulator, exchange client, market maker,
 * risk monitor, executor and workers wired together, the staged incident scenarios, the live
 * status line, the monitoring snapshot source and the bot's `/status` and `/portfolio` readers.
 * Not part of the public API.
 */
export { startDemo, formatSummary, type Demo, type DemoOptions, type DemoSummary } from "./demo.js";
export { SCENARIOS, isScenario, type ScenarioName } from "./scenarios.js";
export { startStatus } from "./status.js";
export { createSnapshotSource, type SnapshotSourceOptions } from "./snapshot.js";
export { demoBotProviders } from "./bot-providers.js";
