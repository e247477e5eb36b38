export { configSchema, type Config, type ConfigInput } from "./schema.js";
export {
  ConfigError,
  exitOnConfigError,
  loadConfig,
  parseConfig,
  parseConfigText,
  resolveConfigPath,
  type LoadConfigOptions,
  type LoadedConfig,
} from "./load.js";
