#!/usr/bin/env node
// The `narrowcast` CLI. The package ships TypeScript sources without a build step, so
// register tsx's loader first, then load the CLI itself.
import { register } from "tsx/esm/api";

register();
await import("../src/cli.ts");
