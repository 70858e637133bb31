// `narrowcast admin webhook …`: an app backend's webhook configuration, its signing secret, a
// test request and the dead letters (section 16 of the spec).
import { toJson } from "@bufbuild/protobuf";
import { DeadLetterSchema, WebhookSchema } from "@narrowcast/gen/admin";
import { Command, InvalidArgumentError, Option } from "commander";
import type { NarrowcastAdminClient, WebhookTestResult } from "../admin.js";
import { toProto } from "../convert.js";
import { toWebhookProto } from "../model.js";
import type { DeadLetter, Webhook } from "../model.js";
import { WEBHOOK_EVENT_TYPE_NAMES, parseWebhookEventType } from "../names.js";
import type { WebhookEventTypeName } from "../names.js";
import type { Page, PageOptions } from "../paging.js";

interface PagingFlags {
  pageSize?: number;
  pageToken?: string;
  all?: boolean;
}

/** What the webhook commands use of cli.ts, so that they run and print like every admin command. */
export interface AdminCommandKit {
  withAdmin(command: Command, body: (admin: NarrowcastAdminClient, appId: string) => Promise<void>): Promise<void>;
  print(command: Command, text: string, json: unknown): void;
  appOption(): Option;
  paged(command: Command): Command;
  fetchList<T>(flags: PagingFlags, fetchPage: (page: PageOptions) => Promise<Page<T>>): Promise<Page<T>>;
  printPage<T>(
    command: Command,
    key: string,
    page: Page<T>,
    line: (item: T) => string,
    json: (item: T) => unknown,
    none?: string,
  ): void;
}

/** `--events a,b --events c`: checked names, in order, without repeats. */
function eventTypes(value: string, previous: WebhookEventTypeName[] = []): WebhookEventTypeName[] {
  const names = value.split(",").map((s) => s.trim()).filter(Boolean);
  for (const name of names) {
    try {
      parseWebhookEventType(name);
    } catch (e) {
      throw new InvalidArgumentError((e as Error).message);
    }
  }
  return [...new Set([...previous, ...(names as WebhookEventTypeName[])])];
}

function integer(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n)) {
    throw new InvalidArgumentError("not an integer");
  }
  return n;
}

const webhookJson = (webhook: Webhook) => toJson(WebhookSchema, toWebhookProto(webhook));
const deadLetterJson = (d: DeadLetter) => toJson(DeadLetterSchema, toProto(DeadLetterSchema, d));

export function describeWebhook(appId: string, w: Webhook): string {
  const lines = [
    `webhook of app ${appId}`,
    `  url: ${w.url}`,
    `  events: ${w.eventTypes.join(", ") || "(none)"}`,
    `  push requests to: ${w.pushUrl || "the url"}${w.pushExcludedFromUnread ? ", also for messages excluded from unread" : ""}`,
    w.beforeSendUrl
      ? `  before-send: ${w.beforeSendUrl} (timeout ${w.beforeSendTimeoutMs} ms, on failure ${w.beforeSendFailureAction})`
      : "  before-send: off",
    `  concurrent deliveries per endpoint: ${w.maxConcurrentDeliveries}`,
  ];
  if (w.secret) {
    lines.push(`  secret: ${w.secret}  (shown only now: verify requests with it)`);
  }
  if (w.previousSecretExpireTime) {
    lines.push(`  the previous secret signs requests too until ${w.previousSecretExpireTime.toISOString()}`);
  }
  return lines.join("\n");
}

/** e.g. `msg_1 message.sent, 10 attempts, last 2026-…: HTTP 500 → https://…`. */
export function formatDeadLetter(d: DeadLetter): string {
  const last = d.lastAttemptTime ? `, last ${d.lastAttemptTime.toISOString()}` : "";
  return `${d.deliveryId} ${d.type}, ${d.attempts} attempts${last}: ${d.lastError || "(no error)"} → ${d.url}`;
}

export function formatTestResult(r: WebhookTestResult): string {
  const latency = `${Math.round(r.latencyMs)} ms`;
  const answer = r.httpStatus === 0 ? `no answer after ${latency}` : `HTTP ${r.httpStatus} in ${latency}`;
  return r.error ? `${answer}: ${r.error}` : answer;
}

export function addWebhookCommands(admin: Command, kit: AdminCommandKit): void {
  const webhook = admin
    .command("webhook")
    .description("the app backend's webhook: events, push requests and before-send calls, signed (spec section 16)");

  webhook
    .command("set")
    .description("set the app's whole webhook configuration (what is not given takes its default); the first time prints the signing secret")
    // Not --url: the global --url (the server's) takes that flag wherever it appears.
    .requiredOption("--webhook-url <url>", "where event deliveries go (absolute http or https URL)")
    .option("--events <types>", `event types, comma-separated: ${WEBHOOK_EVENT_TYPE_NAMES.join(", ")} (default none)`, eventTypes)
    .option("--push-url <url>", "where push requests go instead of --webhook-url")
    .option("--push-excluded-from-unread", "push requests for messages sent with exclude-from-unread too")
    .option("--before-send-url <url>", "ask this endpoint before storing every message")
    .option("--before-send-timeout-ms <ms>", "how long a send waits for the before-send answer (default 2000, at most 10000)", integer)
    .addOption(new Option("--before-send-failure <action>", "on a before-send timeout or error (default allow)").choices(["allow", "reject"]))
    .option("--max-concurrent <n>", "attempts in flight per endpoint and server node (default 16, at most 64)", integer)
    .addOption(kit.appOption())
    .action(
      async (
        opts: {
          webhookUrl: string;
          events?: WebhookEventTypeName[];
          pushUrl?: string;
          pushExcludedFromUnread?: boolean;
          beforeSendUrl?: string;
          beforeSendTimeoutMs?: number;
          beforeSendFailure?: "allow" | "reject";
          maxConcurrent?: number;
        },
        command: Command,
      ) => {
        await kit.withAdmin(command, async (client, appId) => {
          const set = await client.setWebhook(appId, {
            url: opts.webhookUrl,
            eventTypes: opts.events ?? [],
            pushUrl: opts.pushUrl,
            pushExcludedFromUnread: opts.pushExcludedFromUnread,
            beforeSendUrl: opts.beforeSendUrl,
            beforeSendTimeoutMs: opts.beforeSendTimeoutMs,
            beforeSendFailureAction: opts.beforeSendFailure,
            maxConcurrentDeliveries: opts.maxConcurrent,
          });
          kit.print(command, `Set the ${describeWebhook(appId, set)}`, webhookJson(set));
        });
      },
    );

  webhook
    .command("show")
    .description("show the app's webhook configuration (without its secret)")
    .addOption(kit.appOption())
    .action(async (_opts: object, command: Command) => {
      await kit.withAdmin(command, async (client, appId) => {
        const shown = await client.getWebhook(appId);
        kit.print(command, describeWebhook(appId, shown), webhookJson(shown));
      });
    });

  webhook
    .command("test")
    .description("send one signed webhook.test request to the url now; exits with 1 unless it answered 2xx")
    .addOption(kit.appOption())
    .action(async (_opts: object, command: Command) => {
      await kit.withAdmin(command, async (client, appId) => {
        const result = await client.testWebhook(appId);
        kit.print(command, formatTestResult(result), result);
        if (result.httpStatus < 200 || result.httpStatus > 299) {
          process.exitCode = 1;
        }
      });
    });

  webhook
    .command("rotate-secret")
    .description("replace the signing secret; requests stop carrying the old one's signature at once unless --grace-seconds")
    .option("--grace-seconds <seconds>", "sign with the previous secret too this long (at most 30 days)", integer)
    .addOption(kit.appOption())
    .action(async (opts: { graceSeconds?: number }, command: Command) => {
      await kit.withAdmin(command, async (client, appId) => {
        const rotated = await client.rotateWebhookSecret(appId, { previousSecretGraceSeconds: opts.graceSeconds });
        kit.print(command, `Rotated the secret of the ${describeWebhook(appId, rotated)}`, webhookJson(rotated));
      });
    });

  webhook
    .command("delete")
    .description("remove the app's webhook with its pending deliveries and dead letters")
    .addOption(kit.appOption())
    .action(async (_opts: object, command: Command) => {
      await kit.withAdmin(command, async (client, appId) => {
        await client.deleteWebhook(appId);
        kit.print(command, `Deleted the webhook of app ${appId}`, { appId });
      });
    });

  kit
    .paged(webhook.command("dead-letters").description("list deliveries that failed every attempt, newest first"))
    .addOption(kit.appOption())
    .action(async (opts: PagingFlags, command: Command) => {
      await kit.withAdmin(command, async (client, appId) => {
        const page = await kit.fetchList(opts, (p) => client.listDeadLetters(appId, p));
        kit.printPage(command, "deadLetters", page, formatDeadLetter, deadLetterJson, "(no dead letters)");
      });
    });

  webhook
    .command("replay")
    .description("deliver dead letters again (the same webhook-id, fresh attempts): the given ones, or all")
    .argument("[deliveryIds...]", "the dead letters' delivery IDs (default: every dead letter of the app)")
    .addOption(kit.appOption())
    .action(async (deliveryIds: string[], _opts: object, command: Command) => {
      await kit.withAdmin(command, async (client, appId) => {
        const replayed = await client.replayDeadLetters(appId, deliveryIds);
        kit.print(command, `Replayed ${replayed} dead letter${replayed === 1 ? "" : "s"} of app ${appId}`, {
          appId,
          replayedCount: replayed,
        });
      });
    });
}
