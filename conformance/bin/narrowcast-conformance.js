#!/usr/bin/env node
// `narrowcast-conformance`: runs the compiled dist/cli.js through the package-internal import
// "#conformance-cli" (package.json "imports"). In the monorepo, `node --import tsx
// bin/narrowcast-conformance.js` runs src/cli.ts instead: tsx maps the import to the source
// through the root tsconfig.json "paths" (hence a name unique in the workspace).
await import("#conformance-cli");
