// The exact checker: for each device, what it should have received (every acknowledged message
// whose audience includes its user) against what it did receive, plus timing and client errors.
import type { Device, Group } from "./load.js";
import { errorLabel, isUntyped, type ClientError, type SentMessage } from "./records.js";

export interface Window {
  start: number;
  end: number;
}

export interface Finding {
  device: string;
  clientMessageId: string;
  groupId: string;
  seq?: string;
  /** Nodes the device's copies came from (duplicates) or the device's streams' nodes (missed). */
  detail: string;
}

export interface CheckResult {
  acknowledged: number;
  unacknowledged: number;
  expectedDeliveries: number;
  missed: Finding[];
  /** "sent via node A → device on node B" → missed deliveries (B: the node of the device's last stream). */
  missedByPath: Map<string, number>;
  duplicates: Finding[];
  orderViolations: Finding[];
  wronglyDelivered: Finding[];
  /** Seconds from the fault's end until every message first sent during the fault reached everyone; null if some never did. */
  catchUpSeconds: number | null;
  latencyDuring: { p50: number; p99: number; n: number };
  latencyAfter: { p50: number; p99: number; n: number };
  /** "rpc Code/REASON" → count. */
  clientErrors: Map<string, number>;
  untypedErrors: ClientError[];
}

/** Whether `userId` may see the message: every member for an ordinary one, sender and receivers for a targeted one. */
function inAudience(userId: string, m: { senderId: string; receiverIds: readonly string[] }, group: Group | undefined): boolean {
  if (m.receiverIds.length > 0) return m.senderId === userId || m.receiverIds.includes(userId);
  return group?.members.includes(userId) ?? false;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

function stats(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), n: sorted.length };
}

export function check(sent: SentMessage[], devices: Device[], groups: Group[], fault: Window, sendErrors: ClientError[]): CheckResult {
  const groupOf = new Map(groups.map((g) => [g.groupId, g]));
  const acked = sent.filter((m) => m.messageId !== undefined);
  const byId = new Map(acked.map((m) => [m.messageId!, m]));
  const result: CheckResult = {
    acknowledged: acked.length,
    unacknowledged: sent.length - acked.length,
    expectedDeliveries: 0,
    missed: [],
    missedByPath: new Map(),
    duplicates: [],
    orderViolations: [],
    wronglyDelivered: [],
    catchUpSeconds: null,
    latencyDuring: stats([]),
    latencyAfter: stats([]),
    clientErrors: new Map(),
    untypedErrors: [],
  };
  const latencyDuring: number[] = [];
  const latencyAfter: number[] = [];
  // When each message first sent during the fault had reached its last expected device.
  const duringFault = new Set(acked.filter((m) => m.firstAttemptAt >= fault.start && m.firstAttemptAt <= fault.end).map((m) => m.messageId!));
  const reachedAll = new Map<string, number>();

  for (const device of devices) {
    const copies = new Map<string, number[]>();
    const lastSeq = new Map<string, bigint>();
    for (const d of device.deliveries) {
      const nodes = copies.get(d.messageId) ?? [];
      nodes.push(d.node);
      copies.set(d.messageId, nodes);
      const finding = { device: device.name, clientMessageId: d.clientMessageId, groupId: d.groupId, seq: String(d.seq) };
      const last = lastSeq.get(d.groupId);
      if (last !== undefined && d.seq <= last) result.orderViolations.push({ ...finding, detail: `seq ${d.seq} after ${last} (node ${d.node}${d.replay ? ", replay" : ""})` });
      else lastSeq.set(d.groupId, d.seq);
      const record = byId.get(d.messageId);
      if (!inAudience(device.userId, d, groupOf.get(d.groupId)) || (record && !inAudience(device.userId, record, groupOf.get(record.groupId)))) {
        result.wronglyDelivered.push({ ...finding, detail: `receivers ${d.receiverIds.join(",") || "(all)"}` });
      }
      if (nodes.length === 1) {
        if (d.serverTime > fault.end) latencyAfter.push(d.at - d.serverTime);
        else if (d.serverTime >= fault.start) latencyDuring.push(d.at - d.serverTime);
        if (duringFault.has(d.messageId)) reachedAll.set(d.messageId, Math.max(reachedAll.get(d.messageId) ?? 0, d.at));
      }
    }
    for (const m of acked) {
      if (!inAudience(device.userId, m, groupOf.get(m.groupId))) continue;
      result.expectedDeliveries++;
      const nodes = copies.get(m.messageId!);
      if (!nodes) {
        const path = `sent via node ${m.ackNode} → device on node ${device.nodesUsed.at(-1)}`;
        result.missedByPath.set(path, (result.missedByPath.get(path) ?? 0) + 1);
        result.missed.push({ device: device.name, clientMessageId: m.clientMessageId, groupId: m.groupId, detail: `sent via node ${m.ackNode}; device's streams on nodes ${device.nodesUsed.join(",")}` });
        if (duringFault.has(m.messageId!)) reachedAll.set(m.messageId!, Infinity);
      } else if (nodes.length > 1) {
        result.duplicates.push({ device: device.name, clientMessageId: m.clientMessageId, groupId: m.groupId, detail: `copies from nodes ${nodes.join(",")}` });
      }
    }
  }

  const last = Math.max(fault.end, ...reachedAll.values());
  result.catchUpSeconds = Number.isFinite(last) ? (last - fault.end) / 1000 : null;
  result.latencyDuring = stats(latencyDuring);
  result.latencyAfter = stats(latencyAfter);
  for (const e of [...sendErrors, ...devices.flatMap((d) => d.errors)]) {
    result.clientErrors.set(errorLabel(e), (result.clientErrors.get(errorLabel(e)) ?? 0) + 1);
    if (isUntyped(e)) result.untypedErrors.push(e);
  }
  return result;
}
