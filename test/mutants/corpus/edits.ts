// Mutants of message edits and the derived-item rule (EDT-n, DRV-1): who may edit, what an edit
// changes, who is told, and what a replay shows after a recall (packages/server/src/services/editing.ts,
// store/revisions.ts, and the stores' revise).
import { defineMutants } from "../types.js";

export const editMutants = defineMutants([
  {
    id: "edit-anyone-may-edit",
    rule: "EDT-1",
    bug: "Lets any member who may see a message edit it, not only its sender.",
    file: "services/editing.ts",
    from: "if (message.senderId !== userId) {",
    to: "if (message.senderId !== userId && !message.senderId) {",
  },
  {
    id: "edit-window-ignored",
    rule: "EDT-2",
    bug: "Measures the edit window in seconds as if they were milliseconds × 1000, so it never expires in a test.",
    file: "services/editing.ts",
    from: "if (age > deps.limits.editWindowMs) {",
    to: "if (age > deps.limits.editWindowMs * 1000) {",
  },
  {
    id: "edit-content-unchecked",
    rule: "EDT-3",
    bug: "Stores an edit's elements without MSG-3 / MSG-4's checks.",
    file: "services/editing.ts",
    from: "  validateContent(deps, req.elements, req.customData);\n",
    to: "",
  },
  {
    id: "edit-free-of-rate-limit",
    rule: "EDT-5",
    bug: "Edits do not draw on the group's send bucket, so a client can flood a group with MessageEdited events.",
    file: "services/editing.ts",
    from: "  takeGroupToken(deps, appId, group.groupId);\n",
    to: "",
  },
  {
    id: "edit-count-not-incremented",
    rule: "EDT-3",
    bug: "Every edit sets edit_count to 1 instead of counting the edits.",
    file: "store/revisions.ts",
    from: "editCount: (message.edit?.editCount ?? 0) + 1",
    to: "editCount: 1",
  },
  {
    id: "recall-keeps-edited-content-in-log",
    rule: "DRV-1",
    bug: "A recall leaves the message's logged MessageEdited events as they were, so a replay after the recall still shows the edited text.",
    file: "store/revisions.ts",
    from: 'return revision.kind === "recall" && !!message.edit;',
    to: "return false;",
  },
  {
    id: "sqlite-edit-log-not-rewritten",
    rule: "EDT-3",
    bug: "Logs no rewritten MessageReceived after an edit or recall, so a replay shows the message as first sent.",
    file: "store/sqlite.ts",
    from: "          rewrittenEvent(e.payload, message),\n          appId,\n          g.part,\n          e.event_id,",
    to: "          e.payload,\n          appId,\n          g.part,\n          e.event_id,",
  },
  {
    id: "postgres-edit-audience-whole-group",
    rule: "DRV-1",
    backend: "postgres",
    bug: "Sends a targeted message's MessageEdited to the whole group (the event's audience as for an ordinary message).",
    file: "store/postgres.ts",
    from: "const kind = derivedAudience(r.targeted as boolean, g.type);",
    to: 'const kind = derivedAudience(r.targeted as boolean && revision.kind === "recall", g.type);',
  },
]);
