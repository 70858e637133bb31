#!/usr/bin/env node
// The `narrowcast` CLI: runs the compiled dist/cli.js. "#cli" is a package-internal import
// (package.json "imports"); the monorepo's tests run the sources instead with
// `node --conditions=narrowcast-source --import tsx bin/narrowcast.js`.
await import("#cli");
