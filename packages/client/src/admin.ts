import type { Client } from "@connectrpc/connect";
import { AdminService } from "@narrowcast/gen";
import type { App, Group, GroupMember, Message } from "@narrowcast/gen";
import { bearerAuth } from "./auth.js";
import type { MessageDraft } from "./builders.js";
import { NarrowcastError, required } from "./errors.js";
import { parseEdition, parseGroupType } from "./names.js";
import type { EditionInit, GroupTypeInit } from "./names.js";
import { withRetries } from "./retry.js";
import type { RetryOptions } from "./retry.js";
import { toSendMessageRequest } from "./send-request.js";
import type { SendOptions } from "./send-request.js";
import { refuseWhenClosed } from "./lifecycle.js";
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

/**
 * The app backend's client (AdminService): apps, users, tokens, groups and system
 * messages. Every method throws NarrowcastError.
 */
export interface NarrowcastAdminClient {
  createApp(init?: { name?: string; edition?: EditionInit }): Promise<App>;
  /** Creates or updates users; a string is a user ID without nickname. */
  importUsers(appId: string, users: readonly (string | { userId: string; nickname?: string })[]): Promise<void>;
  /** Issues a user token (rule ADM-3); `ttlSeconds` 0 means one day. */
  issueUserToken(appId: string, userId: string, ttlSeconds?: number): Promise<string>;
  createGroup(
    appId: string,
    init: { type: GroupTypeInit; groupId?: string; name?: string; ownerId?: string; memberIds?: readonly string[] },
  ): Promise<Group>;
  addMembers(appId: string, groupId: string, userIds: readonly string[]): Promise<GroupMember[]>;
  removeMembers(appId: string, groupId: string, userIds: readonly string[]): Promise<void>;
  dismissGroup(appId: string, groupId: string): Promise<void>;
  /** Sends a draft as a member or as the system (rules ADM-5, MSG-13), with the same checks and retries as the user client. */
  sendMessage(appId: string, message: MessageDraft, options?: AdminSendOptions): Promise<Message>;
  recallMessage(appId: string, groupId: string, messageId: string): Promise<Message>;
  /** The raw generated client, for everything else. */
  readonly service: Client<typeof AdminService>;
  close(): Promise<void>;
}

export function createAdminClientWith(factory: TransportFactory, options: AdminClientOptions): NarrowcastAdminClient {
  const lifetime = new AbortController();
  const { transport, close } = factory({
    ...options,
    interceptors: [refuseWhenClosed(lifetime.signal), ...(options.interceptors ?? []), bearerAuth(() => options.adminKey)],
  });
  const service = createServiceClient(AdminService, transport);
  return {
    async createApp(init = {}) {
      const response = await service.createApp({
        name: init.name ?? "",
        edition: init.edition === undefined ? undefined : parseEdition(init.edition),
      });
      return required(response.app, "app");
    },
    async importUsers(appId, users) {
      await service.importUsers({
        appId,
        users: users.map((u) => (typeof u === "string" ? { userId: u } : { userId: u.userId, nickname: u.nickname ?? "" })),
      });
    },
    async issueUserToken(appId, userId, ttlSeconds = 0) {
      return (await service.issueUserToken({ appId, userId, ttlSeconds })).token;
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
      return required(response.group, "group");
    },
    async addMembers(appId, groupId, userIds) {
      return (await service.addMembers({ appId, groupId, userIds: [...userIds] })).members;
    },
    async removeMembers(appId, groupId, userIds) {
      await service.removeMembers({ appId, groupId, userIds: [...userIds] });
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
        return required(response.message, "message");
      } catch (e) {
        throw NarrowcastError.from(e);
      }
    },
    async recallMessage(appId, groupId, messageId) {
      return required((await service.recallMessage({ appId, groupId, messageId })).message, "message");
    },
    service,
    async close() {
      lifetime.abort();
      close();
    },
  };
}
