#!/usr/bin/env node
// `narrowcast-server` (and `npm start`): runs the compiled dist/main.js through the
// package-internal import "#server-main" (package.json "imports"). In the monorepo,
// `node --import tsx bin/narrowcast-server.js` runs src/main.ts instead: tsx maps the import to
// the source through the root tsconfig.json "paths" (hence a name unique in the workspace).
await import("#server-main");
