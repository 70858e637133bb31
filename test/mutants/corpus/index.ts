// The mutant corpus: every list, in one array. IDs are unique (checked by corpus.test.ts).
import type { Mutant } from "../types.js";
import { authMutants } from "./auth.js";
import { editMutants } from "./edits.js";
import { liveMutants } from "./live.js";
import { postgresStoreMutants } from "./postgres-store.js";
import { reactionMutants } from "./reactions.js";
import { replyMutants } from "./replies.js";
import { receiptMutants } from "./receipts.js";
import { ruleMutants } from "./rules.js";
import { serviceMutants } from "./services.js";
import { sqliteStoreMutants } from "./sqlite-store.js";
import { webhookMutants } from "./webhooks.js";

export const allMutants: readonly Mutant[] = [...ruleMutants, ...serviceMutants, ...editMutants, ...reactionMutants, ...replyMutants, ...receiptMutants, ...authMutants, ...sqliteStoreMutants, ...postgresStoreMutants, ...liveMutants, ...webhookMutants];
