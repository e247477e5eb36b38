// @ts-check
import eslint from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  {
    ignores: [
      "dist/",
      "build-check/",
      "node_modules/",
      "coverage/",
      "bench/results/",
      "examples/",
      "**/*.js",
      "**/*.mjs",
      "**/*.cjs",
    ],
  },
  eslint.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  ...tseslint.configs.stylisticTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/consistent-type-imports": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      // Messages embed counts, ports and milliseconds as numbers; everything else is made a string on purpose.
      "@typescript-eslint/restrict-template-expressions": [
        "error",
        {
          allowNumber: true,
          allowAny: false,
          allowBoolean: false,
          allowNever: false,
          allowNullish: false,
          allowRegExp: false,
        },
      ],
      // `() => resolve()` and `(t) => clearTimeout(t)` callbacks are the project's idiom; statements still must not return void.
      "@typescript-eslint/no-confusing-void-expression": ["error", { ignoreArrowShorthand: true }],
      // Background loops are `for (;;)` / `while (true)` with their exit inside.
      "@typescript-eslint/no-unnecessary-condition": ["error", { allowConstantLoopConditions: true }],
      // Grafana's file provisioning takes the v1 dashboard JSON these builders make; the SDK marks v1 deprecated for v2.
      "@typescript-eslint/no-deprecated": [
        "error",
        {
          allow: [
            {
              from: "package",
              package: "@grafana/grafana-foundation-sdk",
              name: ["Dashboard", "DashboardBuilder"],
            },
          ],
        },
      ],
      // Its only findings were real winston transports (winston's own and OpenTelemetry's), misread through winston's typings.
      "@typescript-eslint/no-unsafe-class-instance-assignment": "off",
    },
  },
  {
    files: ["test/**/*.ts", "bench/**/*.ts"],
    rules: {
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-member-access": "off",
      "@typescript-eslint/no-unsafe-argument": "off",
      "@typescript-eslint/no-unsafe-call": "off",
      "@typescript-eslint/no-non-null-assertion": "off",
    },
  },
);
