import type { Client } from "@connectrpc/connect";
import { durationMs } from "@bufbuild/protobuf/wkt";
import { AdminService } from "@narrowcast/gen/admin";
import { bearerAuth } from "./auth.js";
import type { MessageDraft } from "./builders.js";
import { NarrowcastError, required } from "./errors.js";
import { refuseWhenClosed } from "./lifecycle.js";
import { toApp, toDeadLetter, toGroup, toGroupMember, toMessage, toUser, toWebhook, webhookInit } from "./model.js";
import type { App, DeadLetter, Group, GroupMember, Message, User, Webhook, WebhookConfig } from "./model.js";
import { parseGroupType, parsePlan, parseRole } from "./names.js";
import type { GroupTypeInit, PlanInit, RoleInit } from "./names.js";
import { walkPages } from "./paging.js";
import type { Page, PageOptions } from "./paging.js";
import { withRetries } from "./retry.js";
import type { RetryOptions } from "./retry.js";
import { toSendMessageRequest } from "./send-request.js";
import type { SendOptions } from "./send-request.js";
import { createServiceClient } from "./service-client.js";
import type { ConnectionOptions, TransportFactory } from "./transport.js";
import { checkSendMessageRequest } from "./validate.js";

/** Options of `createAdminClient`. */
export interface AdminClientOptions extends ConnectionOptions {
  /** The server's admin key (rule AUTH-4). */
  adminKey: string;
  /** Retries of `sendMessage` after transient failures; `false` disables them. */
  retry?: RetryOptions | false;
}

/** Send options of the admin API: as `senderId` (a member), or as the system when empty. */
export interface AdminSendOptions extends SendOptions {
  senderId?: string;
  signal?: AbortSignal;
}

/** What the endpoint answered to `testWebhook` (rule HOOK-14). */
export interface WebhookTestResult {
  /** The HTTP status; 0 when the endpoint did not answer. */
  httpStatus: number;
  /** Empty for a 2xx answer; otherwise what went wrong. */
  error: string;
  /** How long the request took. */
  latencyMs: number;
}

/**
 * The app backend's client (narrowcast.admin.v1.AdminService): apps and their plans and
 * secrets, users, tokens, groups, system messages and webhooks. Every method throws NarrowcastError.
 * Lists come as one page (`listUsers`, `listGroups`, `listMembers`, `listDeadLetters`) or as an
 * async iterator over every page (`users`, `groups`, `members`, `deadLetters`), as in the user client.
 */
export interface NarrowcastAdminClient {
  /** Creates an app; the result carries its token-signing secret (rule ADM-1). Default plan: standard. */
  createApp(init?: { name?: string; plan?: PlanInit }): Promise<App>;
  /** An app without its secret (rule ADM-7). */
  getApp(appId: string): Promise<App>;
  /** Moves the app to a plan; applies to every later request (rule ADM-8). */
  setAppPlan(appId: string, plan: PlanInit): Promise<App>;
  /**
   * Replaces the app's secret; the result carries the new one. Tokens signed with the old secret
   * stop working at once, or after `previousSecretGraceSeconds` (0 to 30 days; rule ADM-9).
   */
  rotateAppSecret(appId: string, options?: { previousSecretGraceSeconds?: number }): Promise<App>;

  /** Creates or updates users (a string is a user ID without nickname); resolves to them as stored. */
  importUsers(appId: string, users: readonly (string | { userId: string; nickname?: string })[]): Promise<User[]>;
  getUser(appId: string, userId: string): Promise<User>;
  /** One page of the app's users, by user ID. */
  listUsers(appId: string, options?: PageOptions): Promise<Page<User>>;
  users(appId: string, options?: PageOptions): AsyncIterableIterator<User>;
  /** Deletes a user: memberships end, tokens stop working; sent messages stay (rule ADM-11). */
  deleteUser(appId: string, userId: string): Promise<void>;
  /** Issues a user token (rule ADM-3); `ttlSeconds` 0 means one day. */
  issueUserToken(appId: string, userId: string, ttlSeconds?: number): Promise<string>;

  createGroup(
    appId: string,
    init: { type: GroupTypeInit; groupId?: string; name?: string; ownerId?: string; memberIds?: readonly string[] },
  ): Promise<Group>;
  getGroup(appId: string, groupId: string): Promise<Group>;
  /** One page of the app's groups, by group ID. */
  listGroups(appId: string, options?: PageOptions): Promise<Page<Group>>;
  groups(appId: string, options?: PageOptions): AsyncIterableIterator<Group>;
  /** One page of any group's members, by user ID. */
  listMembers(appId: string, groupId: string, options?: PageOptions): Promise<Page<GroupMember>>;
  members(appId: string, groupId: string, options?: PageOptions): AsyncIterableIterator<GroupMember>;
  addMembers(appId: string, groupId: string, userIds: readonly string[]): Promise<GroupMember[]>;
  removeMembers(appId: string, groupId: string, userIds: readonly string[]): Promise<void>;
  /** Sets any role, OWNER included (the previous owner becomes ADMIN); resolves to the member. */
  setMemberRole(appId: string, groupId: string, userId: string, role: RoleInit): Promise<GroupMember>;
  dismissGroup(appId: string, groupId: string): Promise<void>;

  /** Sends a draft as a member or as the system (rules ADM-5, MSG-13), with the same checks and retries as the user client. */
  sendMessage(appId: string, message: MessageDraft, options?: AdminSendOptions): Promise<Message>;
  recallMessage(appId: string, groupId: string, messageId: string): Promise<Message>;

  /**
   * Sets the app's whole webhook configuration and returns it with the defaults applied (rule
   * HOOK-1). The app's first call returns the signing secret (`secret`); later calls keep it and
   * return `secret` empty.
   */
  setWebhook(appId: string, config: WebhookConfig): Promise<Webhook>;
  /** The app's webhook configuration, `secret` empty; WEBHOOK_NOT_FOUND without one (rule HOOK-2). */
  getWebhook(appId: string): Promise<Webhook>;
  /** Removes the configuration with its pending deliveries and dead letters (rule HOOK-2). */
  deleteWebhook(appId: string): Promise<void>;
  /**
   * Replaces the signing secret; the result carries the new one. Requests are signed with both
   * secrets for `previousSecretGraceSeconds` (0 to 30 days; rule HOOK-3), so a backend can switch
   * without losing a delivery.
   */
  rotateWebhookSecret(appId: string, options?: { previousSecretGraceSeconds?: number }): Promise<Webhook>;
  /** Sends one signed `webhook.test` request to the endpoint now and says what it answered (rule HOOK-14). */
  testWebhook(appId: string): Promise<WebhookTestResult>;
  /** One page of the app's dead letters, newest first (rule HOOK-9). */
  listDeadLetters(appId: string, options?: PageOptions): Promise<Page<DeadLetter>>;
  deadLetters(appId: string, options?: PageOptions): AsyncIterableIterator<DeadLetter>;
  /**
   * Makes dead letters pending again, with a fresh count of attempts and the same `webhook-id`:
   * the named ones (at most 1,000; DEAD_LETTER_NOT_FOUND names those that are not, and nothing is
   * replayed), or all of the app's when `deliveryIds` is absent or empty. Resolves to how many.
   */
  replayDeadLetters(appId: string, deliveryIds?: readonly string[]): Promise<number>;
  /** The raw generated client, for everything else (wire types: int64 as bigint). */
  readonly service: Client<typeof AdminService>;
  close(): Promise<void>;
}

const pageRequest = (options: PageOptions = {}) => ({ pageSize: options.pageSize ?? 0, pageToken: options.pageToken ?? "" });

/** A grace period in whole seconds; 0 or less is none (ends the previous secret at once). */
const gracePeriod = (seconds = 0) => (seconds > 0 ? { seconds: BigInt(Math.floor(seconds)), nanos: 0 } : undefined);

export function createAdminClientWith(factory: TransportFactory, options: AdminClientOptions): NarrowcastAdminClient {
  const lifetime = new AbortController();
  const { transport, close } = factory({
    ...options,
    interceptors: [refuseWhenClosed(lifetime.signal), ...(options.interceptors ?? []), bearerAuth(() => options.adminKey)],
  });
  const service = createServiceClient(AdminService, transport);

  const listUsers = async (appId: string, page?: PageOptions): Promise<Page<User>> => {
    const response = await service.listUsers({ appId, ...pageRequest(page) });
    return { items: response.users.map(toUser), nextPageToken: response.nextPageToken };
  };
  const listGroups = async (appId: string, page?: PageOptions): Promise<Page<Group>> => {
    const response = await service.listGroups({ appId, ...pageRequest(page) });
    return { items: response.groups.map(toGroup), nextPageToken: response.nextPageToken };
  };
  const listDeadLetters = async (appId: string, page?: PageOptions): Promise<Page<DeadLetter>> => {
    const response = await service.listDeadLetters({ appId, ...pageRequest(page) });
    return { items: response.deadLetters.map(toDeadLetter), nextPageToken: response.nextPageToken };
  };
  const listMembers = async (appId: string, groupId: string, page?: PageOptions): Promise<Page<GroupMember>> => {
    const response = await service.listMembers({ appId, groupId, ...pageRequest(page) });
    return { items: response.members.map(toGroupMember), nextPageToken: response.nextPageToken };
  };

  return {
    async createApp(init = {}) {
      const response = await service.createApp({
        name: init.name ?? "",
        plan: init.plan === undefined ? undefined : parsePlan(init.plan),
      });
      return toApp(required(response.app, "app"));
    },
    async getApp(appId) {
      return toApp(required((await service.getApp({ appId })).app, "app"));
    },
    async setAppPlan(appId, plan) {
      return toApp(required((await service.setAppPlan({ appId, plan: parsePlan(plan) })).app, "app"));
    },
    async rotateAppSecret(appId, rotate = {}) {
      const response = await service.rotateAppSecret({
        appId,
        previousSecretGracePeriod: gracePeriod(rotate.previousSecretGraceSeconds),
      });
      return toApp(required(response.app, "app"));
    },

    async importUsers(appId, users) {
      const response = await service.importUsers({
        appId,
        users: users.map((u) => (typeof u === "string" ? { userId: u } : { userId: u.userId, nickname: u.nickname ?? "" })),
      });
      return response.users.map(toUser);
    },
    async getUser(appId, userId) {
      return toUser(required((await service.getUser({ appId, userId })).user, "user"));
    },
    listUsers,
    users: (appId, page = {}) => walkPages((pageToken) => listUsers(appId, { ...page, pageToken }), page.pageToken),
    async deleteUser(appId, userId) {
      await service.deleteUser({ appId, userId });
    },
    async issueUserToken(appId, userId, ttlSeconds = 0) {
      const ttl = ttlSeconds > 0 ? { seconds: BigInt(Math.floor(ttlSeconds)), nanos: 0 } : undefined;
      return (await service.issueUserToken({ appId, userId, ttl })).token;
    },

    async createGroup(appId, init) {
      const response = await service.createGroup({
        appId,
        type: parseGroupType(init.type),
        groupId: init.groupId ?? "",
        name: init.name ?? "",
        ownerId: init.ownerId ?? "",
        memberIds: [...(init.memberIds ?? [])],
      });
      return toGroup(required(response.group, "group"));
    },
    async getGroup(appId, groupId) {
      return toGroup(required((await service.getGroup({ appId, groupId })).group, "group"));
    },
    listGroups,
    groups: (appId, page = {}) => walkPages((pageToken) => listGroups(appId, { ...page, pageToken }), page.pageToken),
    listMembers,
    members: (appId, groupId, page = {}) =>
      walkPages((pageToken) => listMembers(appId, groupId, { ...page, pageToken }), page.pageToken),
    async addMembers(appId, groupId, userIds) {
      return (await service.addMembers({ appId, groupId, userIds: [...userIds] })).members.map(toGroupMember);
    },
    async removeMembers(appId, groupId, userIds) {
      await service.removeMembers({ appId, groupId, userIds: [...userIds] });
    },
    async setMemberRole(appId, groupId, userId, role) {
      const response = await service.setMemberRole({ appId, groupId, userId, role: parseRole(role) });
      return toGroupMember(required(response.member, "member"));
    },
    async dismissGroup(appId, groupId) {
      await service.dismissGroup({ appId, groupId });
    },

    async sendMessage(appId, message, sendOptions = {}) {
      const request = toSendMessageRequest(message, sendOptions);
      checkSendMessageRequest(request);
      if (request.clientMessageId === "") {
        request.clientMessageId = globalThis.crypto.randomUUID();
      }
      const signal = sendOptions.signal ? AbortSignal.any([sendOptions.signal, lifetime.signal]) : lifetime.signal;
      try {
        const response = await withRetries(
          () => service.sendMessage({ appId, senderId: sendOptions.senderId ?? "", message: request }, { signal }),
          options.retry === false ? { maxAttempts: 1 } : options.retry,
          signal,
        );
        return toMessage(required(response.message, "message"));
      } catch (e) {
        throw NarrowcastError.from(e);
      }
    },
    async recallMessage(appId, groupId, messageId) {
      return toMessage(required((await service.recallMessage({ appId, groupId, messageId })).message, "message"));
    },

    async setWebhook(appId, config) {
      const webhook = webhookInit(config);
      return toWebhook(required((await service.setWebhook({ appId, webhook })).webhook, "webhook"));
    },
    async getWebhook(appId) {
      return toWebhook(required((await service.getWebhook({ appId })).webhook, "webhook"));
    },
    async deleteWebhook(appId) {
      await service.deleteWebhook({ appId });
    },
    async rotateWebhookSecret(appId, rotate = {}) {
      const response = await service.rotateWebhookSecret({
        appId,
        previousSecretGracePeriod: gracePeriod(rotate.previousSecretGraceSeconds),
      });
      return toWebhook(required(response.webhook, "webhook"));
    },
    async testWebhook(appId) {
      const response = await service.testWebhook({ appId });
      const { httpStatus, error, latency } = response;
      return { httpStatus, error, latencyMs: latency ? durationMs(latency) : 0 };
    },
    listDeadLetters,
    deadLetters: (appId, page = {}) => walkPages((pageToken) => listDeadLetters(appId, { ...page, pageToken }), page.pageToken),
    async replayDeadLetters(appId, deliveryIds = []) {
      return (await service.replayDeadLetters({ appId, deliveryIds: [...deliveryIds] })).replayedCount;
    },
    service,
    async close() {
      lifetime.abort();
      close();
    },
  };
}
