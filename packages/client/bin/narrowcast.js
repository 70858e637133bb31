#!/usr/bin/env node
// The `narrowcast` CLI: runs the compiled dist/cli.js through the package-internal import
// "#client-cli" (package.json "imports"). In the monorepo, `node --import tsx bin/narrowcast.js`
// runs src/cli.ts instead: tsx maps the import to the source through the root tsconfig.json
// "paths" (hence a name unique in the workspace).
await import("#client-cli");
