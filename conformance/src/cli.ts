// Entry point of `narrowcast-conformance` (and `npm run conformance`).
import { main } from "./main.js";

const code = await main(process.argv);
// Exit explicitly: idle keep-alive sockets must not hold the command open.
process.exit(code);
