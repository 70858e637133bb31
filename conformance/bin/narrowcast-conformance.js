#!/usr/bin/env node
// `narrowcast-conformance`: runs the compiled dist/cli.js. "#cli" is a package-internal import
// (package.json "imports"); under `--conditions=narrowcast-source --import tsx` it runs the sources.
await import("#cli");
