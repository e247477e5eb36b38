/**
 * The fast config check. The preload validates `config.yaml` against {@link CONFIG_SHAPE}, a
 * plain-data description of the zod schema generated from it (`npm run config:shape`), instead
 * of loading zod and building the schema: that took about a third of the preload's start-up.
 *
 * The check is deliberately one-sided: it returns the parsed config only when it is sure zod
 * would return the same value, and `undefined` otherwise (any error, or anything it does not
 * model). The loader then runs zod, which words the precise error or, for an input the fast
 * check does not cover, parses it. A config is therefore never accepted or rejected here in a
 * way zod would not; test/config/shape.test.ts checks both agree on random input.
 */
import type { Config } from "./schema.js";
import { configRuleIssues } from "./rules.js";

/** A regular expression as data: its source and flags. */
export type ShapeRegex = readonly [source: string, flags: string];

/** One schema node: what zod accepts there, and its default. */
export type Shape =
  | { readonly t: "object"; readonly keys: readonly (readonly [string, Shape])[] }
  | { readonly t: "default"; readonly value: unknown; readonly inner: Shape }
  | { readonly t: "prefault"; readonly value: unknown; readonly inner: Shape }
  | { readonly t: "optional"; readonly inner: Shape }
  | { readonly t: "boolean" }
  | {
      readonly t: "string";
      readonly minLength?: number;
      readonly regex?: readonly ShapeRegex[];
      /** `z.url({ protocol })`: `new URL()` parses the trimmed text and the protocol matches. */
      readonly urlProtocol?: ShapeRegex;
    }
  | {
      readonly t: "number";
      readonly int?: true;
      readonly min?: readonly [value: number, inclusive: boolean];
      readonly max?: readonly [value: number, inclusive: boolean];
    }
  | { readonly t: "enum"; readonly values: readonly (string | number)[] }
  | { readonly t: "literal"; readonly values: readonly (string | number | boolean | null)[] }
  | { readonly t: "union"; readonly options: readonly Shape[] }
  | { readonly t: "array"; readonly element: Shape; readonly minLength?: number }
  /** A record with string keys. */
  | { readonly t: "record"; readonly value: Shape };

/** Returned by a node when it cannot vouch for the value: the caller falls back to zod. */
const UNSURE: unique symbol = Symbol("unsure");
type Result = unknown;

const regexCache = new Map<string, RegExp>();
function regex([source, flags]: ShapeRegex): RegExp {
  const key = `${flags}/${source}`;
  let compiled = regexCache.get(key);
  if (!compiled) {
    compiled = new RegExp(source, flags);
    regexCache.set(key, compiled);
  }
  compiled.lastIndex = 0;
  return compiled;
}

function isObjectLike(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/** Parses `value` against `shape` as zod would, or returns {@link UNSURE}. */
function check(shape: Shape, value: unknown): Result {
  switch (shape.t) {
    case "default":
      // zod returns the default itself, unparsed, for a missing value.
      return value === undefined ? shape.value : check(shape.inner, value);
    case "prefault":
      // zod parses the default (`{}` for a section) through the inner schema.
      return check(shape.inner, value === undefined ? shape.value : value);
    case "optional":
      return value === undefined ? undefined : check(shape.inner, value);
    case "object": {
      if (!isObjectLike(value)) return UNSURE;
      const out: Record<string, unknown> = {};
      let known = 0;
      for (const [key, child] of shape.keys) {
        const has = Object.prototype.hasOwnProperty.call(value, key);
        if (has) known++;
        const parsed = check(child, has ? value[key] : undefined);
        if (parsed === UNSURE) return UNSURE;
        if (parsed !== undefined) out[key] = parsed;
        else if (has) out[key] = undefined;
      }
      // An unknown key is an error zod words ("did you mean"); so is an inherited one.
      let own = 0;
      for (const key in value) {
        if (!Object.prototype.hasOwnProperty.call(value, key)) return UNSURE;
        own++;
      }
      return own === known && Object.getOwnPropertySymbols(value).length === 0 ? out : UNSURE;
    }
    case "boolean":
      return typeof value === "boolean" ? value : UNSURE;
    case "string": {
      if (typeof value !== "string") return UNSURE;
      if (shape.minLength !== undefined && value.length < shape.minLength) return UNSURE;
      for (const pattern of shape.regex ?? []) if (!regex(pattern).test(value)) return UNSURE;
      if (shape.urlProtocol) {
        const trimmed = value.trim();
        let protocol: string;
        try {
          protocol = new URL(trimmed).protocol;
        } catch {
          return UNSURE;
        }
        if (!regex(shape.urlProtocol).test(protocol.endsWith(":") ? protocol.slice(0, -1) : protocol))
          return UNSURE;
        return trimmed;
      }
      return value;
    }
    case "number": {
      if (typeof value !== "number" || !Number.isFinite(value)) return UNSURE;
      if (shape.int && !Number.isSafeInteger(value)) return UNSURE;
      if (shape.min && (shape.min[1] ? value < shape.min[0] : value <= shape.min[0])) return UNSURE;
      if (shape.max && (shape.max[1] ? value > shape.max[0] : value >= shape.max[0])) return UNSURE;
      return value;
    }
    case "enum":
    case "literal":
      return (shape.values as readonly unknown[]).includes(value) ? value : UNSURE;
    case "union":
      for (const option of shape.options) {
        const parsed = check(option, value);
        if (parsed !== UNSURE) return parsed;
      }
      return UNSURE;
    case "array": {
      if (!Array.isArray(value)) return UNSURE;
      if (shape.minLength !== undefined && value.length < shape.minLength) return UNSURE;
      const out: unknown[] = [];
      for (const item of value as unknown[]) {
        const parsed = check(shape.element, item);
        if (parsed === UNSURE) return UNSURE;
        out.push(parsed);
      }
      return out;
    }
    case "record": {
      if (!isObjectLike(value) || Object.getOwnPropertySymbols(value).length > 0) return UNSURE;
      const out: Record<string, unknown> = {};
      for (const key of Object.keys(value)) {
        if (key === "__proto__") return UNSURE;
        const parsed = check(shape.value, value[key]);
        if (parsed === UNSURE) return UNSURE;
        out[key] = parsed;
      }
      return out;
    }
  }
}

/**
 * The config zod would parse from `raw`, or undefined when the fast check cannot vouch for it
 * (then zod decides, and words the error if there is one).
 */
export function fastParseConfig(shape: Shape, raw: unknown): Config | undefined {
  const parsed = check(shape, raw);
  if (parsed === UNSURE) return undefined;
  const config = parsed as Config;
  return configRuleIssues(config).length === 0 ? config : undefined;
}

/** The keys a config accepts at `path` (`[]` is the top level), for "did you mean" hints. */
export function shapeKeysAt(shape: Shape, path: readonly string[]): string[] {
  let node: Shape | undefined = shape;
  for (const key of [...path, ""]) {
    while (node.t === "default" || node.t === "prefault" || node.t === "optional") node = node.inner;
    if (node.t !== "object") return [];
    if (key === "") return node.keys.map(([name]) => name);
    node = node.keys.find(([name]) => name === key)?.[1];
    if (!node) return [];
  }
  return [];
}
