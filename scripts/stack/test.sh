#!/usr/bin/env bash
# `npm run test:stack`: builds the stack (seconds when the cache is warm), the preload the tests
# run, then the tests of test/stack against the real servers.
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v go >/dev/null 2>&1 || export PATH="$PATH:/usr/local/go/bin"
npx tsx scripts/stack/build.ts
npx tsc -p tsconfig.build.json
npx vitest run -c vitest.stack.config.ts "$@"
