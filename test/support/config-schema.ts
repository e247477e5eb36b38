/**
 * Vitest setup: the config loader loads the zod schema with `require` when the fast check
 * cannot vouch for a config, which cannot load the TypeScript sources the tests run. Hand it the
 * module imported here instead.
 */
import { useSchemaModule } from "../../src/config/load.js";
import * as schema from "../../src/config/schema.js";

useSchemaModule(schema);
