/**
 * Turns the zod config schema into the plain-data {@link Shape} the fast check reads. Used by
 * `npm run config:shape` (which writes src/config/generated/config-shape.ts) and by the test
 * that keeps that file in step with the schema; never loaded by the preload.
 *
 * Anything in the schema this does not know (a new zod type or check) is an error here, so a
 * schema change cannot silently loosen the fast check.
 */
import type { z } from "zod";
import type { Shape, ShapeRegex } from "./shape.js";

type Def = z.core.$ZodTypeDef & Record<string, unknown>;
interface CheckDef {
  check: string;
  [key: string]: unknown;
}

function regexOf(value: unknown, where: string): ShapeRegex {
  if (!(value instanceof RegExp)) throw new Error(`${where}: expected a RegExp`);
  return [value.source, value.flags];
}

/** The shape of a zod schema; throws naming the path of anything it cannot describe. */
export function describeSchema(schema: z.core.$ZodType, path = "(root)"): Shape {
  const def = schema._zod.def as Def;
  const checks = (def.checks ?? []).map((check) => check._zod.def as CheckDef);
  const unknownCheck = (check: CheckDef) =>
    new Error(`${path}: ${def.type} check "${check.check}" is not modelled by the fast config check`);
  switch (def.type) {
    case "object": {
      const catchall = def.catchall as z.core.$ZodType | undefined;
      if (catchall?._zod.def.type !== "never")
        throw new Error(`${path}: only strict objects are modelled by the fast config check`);
      // The top level's refinement (cross-key rules) is applied by the fast check from rules.ts.
      for (const check of checks)
        if (check.check !== "custom" || path !== "(root)") throw unknownCheck(check);
      const shape = def.shape as Record<string, z.core.$ZodType>;
      return {
        t: "object",
        keys: Object.entries(shape).map(
          ([key, child]) => [key, describeSchema(child, `${path}.${key}`)] as const,
        ),
      };
    }
    case "default":
    case "prefault":
      return {
        t: def.type,
        value: structuredClone(def.defaultValue),
        inner: describeSchema(def.innerType as z.core.$ZodType, path),
      };
    case "optional":
      return { t: "optional", inner: describeSchema(def.innerType as z.core.$ZodType, path) };
    case "boolean":
      for (const check of checks) throw unknownCheck(check);
      return { t: "boolean" };
    case "string": {
      const out: { t: "string"; minLength?: number; regex?: ShapeRegex[]; urlProtocol?: ShapeRegex } = {
        t: "string",
      };
      if (def.format === "url") {
        if (def.hostname !== undefined || def.normalize === true)
          throw new Error(`${path}: url hostname/normalize options are not modelled`);
        out.urlProtocol = regexOf(def.protocol, path);
      } else if (def.format !== undefined) {
        throw new Error(`${path}: string format "${JSON.stringify(def.format)}" is not modelled`);
      }
      for (const check of checks) {
        if (check.check === "min_length") out.minLength = check.minimum as number;
        else if (check.check === "string_format" && check.format === "regex")
          (out.regex ??= []).push(regexOf(check.pattern, path));
        else throw unknownCheck(check);
      }
      return out;
    }
    case "number": {
      const out: {
        t: "number";
        int?: true;
        min?: readonly [number, boolean];
        max?: readonly [number, boolean];
      } = { t: "number" };
      for (const check of checks) {
        if (check.check === "number_format" && check.format === "safeint") out.int = true;
        else if (check.check === "greater_than") out.min = [check.value as number, check.inclusive === true];
        else if (check.check === "less_than") out.max = [check.value as number, check.inclusive === true];
        else throw unknownCheck(check);
      }
      return out;
    }
    case "enum":
      return { t: "enum", values: Object.values(def.entries as Record<string, string | number>) };
    case "literal":
      return { t: "literal", values: [...(def.values as (string | number | boolean | null)[])] };
    case "union":
      return {
        t: "union",
        options: (def.options as z.core.$ZodType[]).map((option, i) =>
          describeSchema(option, `${path}|${i}`),
        ),
      };
    case "array": {
      const out: { t: "array"; element: Shape; minLength?: number } = {
        t: "array",
        element: describeSchema(def.element as z.core.$ZodType, `${path}[]`),
      };
      for (const check of checks) {
        if (check.check === "min_length") out.minLength = check.minimum as number;
        else throw unknownCheck(check);
      }
      return out;
    }
    case "record": {
      const key = def.keyType as z.core.$ZodType;
      const keyDef = key._zod.def as Def;
      if (keyDef.type !== "string" || (keyDef.checks ?? []).length > 0)
        throw new Error(`${path}: only records with plain string keys are modelled`);
      return { t: "record", value: describeSchema(def.valueType as z.core.$ZodType, `${path}{}`) };
    }
    default:
      throw new Error(`${path}: zod type "${def.type}" is not modelled by the fast config check`);
  }
}
