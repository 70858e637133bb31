// `@narrowcast/server/nats`: the NATS bus that fans events out across nodes. Needs the optional
// peer dependency `nats` (npm install nats); the package's root entry never loads it.
export { NatsBus, type NatsBusOptions } from "./bus/nats.js";
