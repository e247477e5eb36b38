/**
 * Vitest setup. The preload's path `require`s some modules on first use, to keep them off
 * start-up: the zod schema (when the fast config check cannot vouch for a config) and the
 * logger factory (winston). `require` cannot load the TypeScript sources the tests run, so the
 * modules imported here are handed over instead.
 */
import { useSchemaModule } from "../../src/config/load.js";
import * as logger from "../../src/logging/logger.js";
import * as schema from "../../src/config/schema.js";
import { useLoggerModule } from "../../src/logging/lazy-logger.js";

useSchemaModule(schema);
useLoggerModule(logger);
