// The before-send call (rules HOOK-10 to HOOK-12): the app's backend allows, rejects or rewrites a
// message before it is stored. A backend that fails to answer properly is handled by the app's
// `before_send_failure_action`, never by an error of the server's own.
import { fromJsonString } from "@bufbuild/protobuf";
import { ErrorReason, type Message, type MessageElement } from "@narrowcast/gen";
import { BeforeSendAction, BeforeSendFailureAction, BeforeSendResponseSchema } from "@narrowcast/gen/admin";
import type { Logger } from "pino";
import { narrowcastError } from "../errors.js";
import { newId } from "../ids.js";
import type { WebhookRecord } from "../store/webhooks.js";
import { beforeSendBody } from "./payloads.js";
import { postSigned } from "./post.js";

/** HOOK-12's default wait for the answer. */
export const DEFAULT_BEFORE_SEND_TIMEOUT_MS = 2_000;
/** HOOK-11: the most of a rejection's reason the sender reads. */
const MAX_REASON_CHARS = 256;

export interface BeforeSendOptions {
  nowMs: number;
  /** MSG-3, MSG-4 and MSG-6 for a MODIFY's content: throws a typed error for bad content. */
  validateElements: (elements: MessageElement[]) => void;
  /** Where failed calls are reported (warn: a backend's failure is the app's problem, not the server's). */
  log?: Logger;
}

/**
 * Asks the app's backend about a message. Returns undefined to send it as it is, or the elements
 * that replace its content; throws MESSAGE_REJECTED when the backend rejects it, and
 * APP_BACKEND_UNAVAILABLE when the call fails and the app chose to reject then.
 */
export async function askBeforeSend(
  webhook: WebhookRecord,
  message: Message,
  audienceUserIds: readonly string[],
  opts: BeforeSendOptions,
): Promise<MessageElement[] | undefined> {
  const { config } = webhook;
  if (!config.beforeSendUrl) return undefined;
  const timeoutMs = beforeSendTimeoutMs(webhook);
  const body = beforeSendBody(webhook.appId, message, audienceUserIds, opts.nowMs);
  const result = await postSigned(config.beforeSendUrl, webhook, newId("msg"), body, { timeoutMs, nowMs: opts.nowMs });

  const failed = (why: string): undefined => {
    opts.log?.warn({ appId: webhook.appId, url: config.beforeSendUrl, why }, "before-send call failed");
    if (config.beforeSendFailureAction === BeforeSendFailureAction.REJECT) {
      // The sender is told no more: `why` may name the backend's hosts and addresses.
      throw narrowcastError(ErrorReason.APP_BACKEND_UNAVAILABLE, "the app's backend did not answer; try again later");
    }
    return undefined;
  };

  if (result.status === 0) return failed(result.error ?? "no answer");
  if (result.status < 200 || result.status > 299) return failed(`HTTP ${result.status}`);
  let answer;
  try {
    answer = fromJsonString(BeforeSendResponseSchema, result.text ?? "", { ignoreUnknownFields: true });
  } catch {
    return failed("the answer is not a BeforeSendResponse");
  }
  switch (answer.action) {
    case BeforeSendAction.ALLOW:
      return undefined;
    case BeforeSendAction.REJECT:
      throw narrowcastError(ErrorReason.MESSAGE_REJECTED, rejectionText(answer.reason));
    case BeforeSendAction.MODIFY:
      if (answer.elements.length === 0) return failed("MODIFY without elements");
      try {
        opts.validateElements(answer.elements);
      } catch (err) {
        return failed(`MODIFY with invalid elements: ${err instanceof Error ? err.message : String(err)}`);
      }
      return answer.elements;
    default:
      return failed("no action");
  }
}

function beforeSendTimeoutMs(webhook: WebhookRecord): number {
  const d = webhook.config.beforeSendTimeout;
  const ms = d ? Number(d.seconds) * 1000 + d.nanos / 1e6 : 0;
  return ms > 0 ? ms : DEFAULT_BEFORE_SEND_TIMEOUT_MS;
}

/** The backend's reason, whole characters only, or a generic text when it gave none. */
function rejectionText(reason: string): string {
  const chars = Array.from(reason);
  if (chars.length === 0) return "the app's backend rejected the message";
  return chars.slice(0, MAX_REASON_CHARS).join("");
}
