#!/usr/bin/env node
// `narrowcast-server` (and `npm start`): runs the compiled dist/main.js. "#main" is a
// package-internal import (package.json "imports"); the monorepo's tests run the sources instead
// with `node --conditions=narrowcast-source --import tsx bin/narrowcast-server.js`.
await import("#main");
