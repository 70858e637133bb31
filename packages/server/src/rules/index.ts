// The rules module: every decision about who sees what, as pure functions (no I/O). docs/spec.md
// points from each rule ID here; stores, services and the hub import their decisions from here.
export * from "./visibility.js";
export * from "./audiences.js";
export * from "./unread.js";
export * from "./groups.js";
export * from "./reactions.js";
export * from "./replies.js";
export * from "./receipts.js";
