import { ConfigError, resolveConfigPath } from "./config/load.js";

/** What asks for an optional package: the config key that turns it on and the fix besides installing it. */
export interface OptionalPackageUse {
  /** The config key that asks for the package, e.g. `decisions.store`. */
  key: string;
  /** What the key says, e.g. `is "sqlite"`. */
  because: string;
  /** The other fix, e.g. `set decisions.enabled: false`. */
  orElse: string;
  /** The config file named in the message (default: the file the process reads). */
  file?: string;
}

/** Whether an optional package can be loaded from here. */
export function hasOptionalPackage(name: string): boolean {
  try {
    require.resolve(name);
    return true;
  } catch {
    return false;
  }
}

/**
 * Loads an optional package (better-sqlite3, pg, grammy) when the config asks for it. They are
 * peer dependencies, so a bot that uses none of them installs and compiles none of them. A
 * missing one is a config error (exit 2 from the preload) that names the key and the package.
 */
export function requireOptional(name: string, use: OptionalPackageUse): unknown {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(name) as unknown;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (
      code !== "MODULE_NOT_FOUND" ||
      !String((error as { message?: unknown }).message).includes(`'${name}'`)
    )
      throw error;
    throw new ConfigError(
      use.file ?? resolveConfigPath().path,
      use.key,
      `${use.because}, which needs the optional package ${name}; install it (npm install ${name}) or ${use.orElse}`,
    );
  }
}

/**
 * The preload's start-up check: a setting that asks for an optional package explicitly (not by
 * default) and finds it missing is a config error, so the process exits 2 before it trades.
 * `bot.enabled: true` needs grammy; `decisions.store: "postgres"` needs pg. The default SQLite
 * store is checked when the recorder is first used.
 */
export function checkOptionalPackages(
  config: { bot: { enabled?: boolean | undefined }; decisions: { enabled: boolean; store: string } },
  file?: string,
): void {
  const at = file === undefined ? {} : { file };
  if (config.bot.enabled === true && !hasOptionalPackage("grammy")) {
    requireOptional("grammy", {
      key: "bot.enabled",
      because: "is true",
      orElse: "set bot.enabled: false",
      ...at,
    });
  }
  if (config.decisions.enabled && config.decisions.store === "postgres" && !hasOptionalPackage("pg")) {
    requireOptional("pg", {
      key: "decisions.store",
      because: 'is "postgres"',
      orElse: 'set decisions.store: "sqlite" or decisions.enabled: false',
      ...at,
    });
  }
}
