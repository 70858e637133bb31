// ServerService.GetServerInfo (rule SRV-1): what this server enforces, read from the same
// configuration the services use, so the declaration cannot drift from the behaviour. Needs no
// token (rule AUTH-7).
import type { ServiceImpl } from "@connectrpc/connect";
import { create } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { ServerInfoSchema, ServerService, type ServerInfo } from "@narrowcast/gen";
import type { Limits } from "../context.js";
import { GROUP_TYPES } from "../group-limits.js";
import { SERVER_VERSION } from "../version.js";

export function serverInfo(limits: Limits): ServerInfo {
  return create(ServerInfoSchema, {
    serverVersion: `narrowcast-reference/${SERVER_VERSION}`,
    groupTypeLimits: GROUP_TYPES.map((type) => {
      const l = limits.groupLimits(type);
      return { type, maxMembers: l.maxMembers, memberEventsMaxMembers: l.memberEventsMaxMembers };
    }),
    sendRatePerGroup: limits.sendRatePerGroup,
    sendRatePerGroupBound: limits.sendRatePerGroup * limits.rateLimitNodes,
    recallWindow: durationFromMs(limits.recallWindowMs),
    editWindow: durationFromMs(limits.editWindowMs),
    idempotencyWindow: durationFromMs(limits.idempotencyWindowMs),
    eventRetention: durationFromMs(limits.eventRetentionSeconds * 1000),
    // Rule MSG-16: the reference keeps history until the group is dismissed.
    messageRetention: undefined,
  });
}

export function serverService(limits: Limits): ServiceImpl<typeof ServerService> {
  const info = serverInfo(limits);
  return {
    getServerInfo() {
      return { serverInfo: info };
    },
  };
}
