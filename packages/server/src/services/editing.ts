// Editing a message (rules EDT-1 to EDT-6): the first derived item (DRV-1). Only the sender edits,
// within the edit window; whoever may not see the message gets the same MESSAGE_NOT_FOUND as for
// one that does not exist. Checks run in EDT-6's order; a rejected edit changes nothing.
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { ErrorReason, type EditMessageRequest, type Message } from "@narrowcast/gen";
import { fieldInvalid, narrowcastError } from "../errors.js";
import { requireId } from "../ids.js";
import type { Caller, Deps } from "../context.js";
import { StoreConflict } from "../store/types.js";
import { conflictError, requireGroup, requireMember, requireVisibleMessage } from "./common.js";
import { takeGroupToken, validateContent } from "./messaging.js";

export async function editMessage(deps: Deps, caller: Caller, req: EditMessageRequest): Promise<Message> {
  const { appId, userId } = caller;
  requireId(req.groupId, "group_id");
  if (!req.messageId) throw fieldInvalid("message_id", "message_id is required");
  validateContent(deps, req.elements, req.customData);
  const group = await requireGroup(deps, appId, req.groupId);
  const member = await requireMember(deps, group, userId);
  const message = await requireVisibleMessage(deps, group, member, req.messageId);
  if (message.senderId !== userId) {
    throw narrowcastError(ErrorReason.EDIT_NOT_ALLOWED, "only the sender may edit a message", { field: "message_id" });
  }
  if (message.recall) throw conflictError(new StoreConflict("already_recalled"));
  const now = deps.now();
  const age = now - (message.serverTime ? timestampMs(message.serverTime) : 0);
  if (age > deps.limits.editWindowMs) {
    throw narrowcastError(ErrorReason.EDIT_WINDOW_EXPIRED, "the edit window has passed", { field: "message_id" });
  }
  // EDT-5: an edit is an event in the group like a send; it draws on the same bucket.
  const giveBack = takeGroupToken(deps, appId, group.groupId);
  let result;
  try {
    result = await deps.store.editMessage(appId, group.groupId, message.messageId, { elements: req.elements, customData: req.customData }, now);
  } catch (err) {
    // A recall that committed since the read above: nothing changed, the bucket neither (EDT-6).
    giveBack();
    throw conflictError(err);
  }
  deps.publish(result.event);
  return result.message;
}
