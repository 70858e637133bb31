// Reactions (rules RCT-1 to RCT-8), a derived item (DRV-1): whoever may see a message reacts to
// it and sees its reactions; anyone else gets the same MESSAGE_NOT_FOUND as for one that does not
// exist. Checks run in section 9.5's order; a rejected change changes nothing.
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  MessageService,
  ReactionSchema,
  type ListReactionsRequest,
  type Message,
  type Reaction,
} from "@narrowcast/gen";
import { fieldInvalid } from "../errors.js";
import { requireId } from "../ids.js";
import type { Caller, Deps } from "../context.js";
import { LIST_SIZES, isIdKey, openPage } from "../paging.js";
import { reactionProblem } from "../rules/index.js";
import { StoreConflict, type GroupRecord, type MemberRecord, type ReactionRecord } from "../store/types.js";
import { conflictError, requireGroup, requireMember, requireVisibleMessage } from "./common.js";
import { takeGroupToken } from "./messaging.js";
import { shownTo } from "./shown.js";

const LIST_RPC = `${MessageService.typeName}/${MessageService.method.listReactions.name}`;

interface ReactionRequest {
  groupId: string;
  messageId: string;
  reaction: string;
}

/** RCT-2: `reaction` as a valid reaction, or FIELD_INVALID. */
function requireReaction(reaction: string): string {
  const problem = reactionProblem(reaction);
  if (problem) throw fieldInvalid("reaction", problem);
  return reaction;
}

/** ListReactions keys: (create time, reaction, user ID), RCT-6. */
function isReactionKey(a: unknown): a is ReactionRecord {
  if (typeof a !== "object" || a === null) return false;
  const { createdAt, reaction, userId } = a as Record<string, unknown>;
  return Number.isSafeInteger(createdAt) && typeof reaction === "string" && !reactionProblem(reaction) && isIdKey(userId);
}

/**
 * Checks 2 to 4 of section 9.5: the group, the caller's membership, and a stored message the
 * caller may see (DRV-1: anything else is MESSAGE_NOT_FOUND, exactly as for no message at all).
 */
async function visibleMessage(
  deps: Deps,
  caller: Caller,
  groupId: string,
  messageId: string,
): Promise<{ group: GroupRecord; member: MemberRecord; message: Message }> {
  const group = await requireGroup(deps, caller.appId, groupId);
  const member = await requireMember(deps, group, caller.userId);
  return { group, member, message: await requireVisibleMessage(deps, group, member, messageId) };
}

/** AddReaction (added = true) and RemoveReaction: RCT-1 to RCT-4, RCT-7, in section 9.5's order. */
export async function changeReaction(deps: Deps, caller: Caller, req: ReactionRequest, added: boolean): Promise<Message> {
  requireId(req.groupId, "group_id");
  if (!req.messageId) throw fieldInvalid("message_id", "message_id is required");
  const reaction = requireReaction(req.reaction);
  const { group, member, message } = await visibleMessage(deps, caller, req.groupId, req.messageId);
  if (message.recall) throw conflictError(new StoreConflict("already_recalled"));
  // RCT-3: a change draws on the group's send bucket; one that changes nothing gives it back.
  const giveBack = takeGroupToken(deps, caller.appId, group.groupId);
  let result;
  try {
    result = await deps.store.changeReaction(caller.appId, group.groupId, message.messageId, { userId: caller.userId, reaction, added }, deps.now());
  } catch (err) {
    giveBack();
    throw conflictError(err);
  }
  if (result.event) deps.publish(result.event);
  else giveBack();
  const [shown] = await shownTo(deps, group, member, [message]);
  return shown!;
}

/** ListReactions (RCT-6): checks 1 to 4 of section 9.5; a recalled message has none left (RCT-8). */
export async function listReactions(deps: Deps, caller: Caller, req: ListReactionsRequest): Promise<{ reactions: Reaction[]; nextPageToken: string }> {
  requireId(req.groupId, "group_id");
  if (!req.messageId) throw fieldInvalid("message_id", "message_id is required");
  const reaction = req.reaction === "" ? undefined : requireReaction(req.reaction);
  const page = openPage(
    req,
    { rpc: LIST_RPC, appId: caller.appId, caller: caller.userId, groupId: req.groupId, filters: `${req.messageId}|${reaction ?? ""}` },
    LIST_SIZES,
    isReactionKey,
  );
  const { group, message } = await visibleMessage(deps, caller, req.groupId, req.messageId);
  const found = await deps.store.listReactions(caller.appId, group.groupId, Number(message.seq), reaction, { after: page.after, limit: page.size + 1 });
  const { items, nextPageToken } = page.finish(found, (r) => r);
  return {
    reactions: items.map((r) => create(ReactionSchema, { reaction: r.reaction, userId: r.userId, createTime: timestampFromMs(r.createdAt) })),
    nextPageToken,
  };
}
