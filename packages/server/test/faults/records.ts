// What the load records: every send, every delivery, every error a client saw.
import { Code, ConnectError } from "@connectrpc/connect";
import { ErrorInfoSchema } from "@narrowcast/gen";

export interface SentMessage {
  clientMessageId: string;
  senderId: string;
  groupId: string;
  /** Empty for an ordinary message. */
  receiverIds: string[];
  firstAttemptAt: number;
  ackAt?: number;
  /** The node that acknowledged it (where it was committed and published from). */
  ackNode?: number;
  messageId?: string;
  /** Commit time the server put in the message (ms). */
  serverTime?: number;
}

export interface Delivery {
  messageId: string;
  clientMessageId: string;
  senderId: string;
  groupId: string;
  seq: bigint;
  receiverIds: string[];
  serverTime: number;
  at: number;
  node: number;
  /** Sent before `ready` on its stream (a replay after a cursor) rather than live. */
  replay: boolean;
}

export interface ClientError {
  rpc: "send" | "subscribe";
  node: number;
  code: Code | "ended";
  reason: string;
  message: string;
  at: number;
}

/** Turns anything a client call threw into a ClientError. */
export function clientError(rpc: ClientError["rpc"], node: number, e: unknown): ClientError {
  const ce = ConnectError.from(e);
  const reason = ce.findDetails(ErrorInfoSchema)[0]?.reason ?? "";
  return { rpc, node, code: ce.code, reason, message: ce.rawMessage, at: Date.now() };
}

// What connect-node reports, without any detail from the server, when a connection is refused,
// reset or closed under a call (e.g. the node was killed): the client's own view, not a server answer.
const CONNECTION_LOST = /ECONNREFUSED|ECONNRESET|EPIPE|socket hang up|stream closed with error code|session (closed|destroyed)|GOAWAY|premature close/i;

/** Whether the error is the client's own report (lost connection, own timeout) rather than a server's answer. */
export function isConnectionLoss(e: ClientError): boolean {
  if (e.code === "ended" || e.reason) return false;
  return e.code === Code.DeadlineExceeded || CONNECTION_LOST.test(e.message) || (e.code === Code.Unavailable && !e.reason);
}

/**
 * Errors a client cannot act on: Internal or Unknown, or any other code without a reason that is
 * not a connection loss (e.g. Canceled sent by a server).
 */
export function isUntyped(e: ClientError): boolean {
  if (e.code === "ended") return false;
  if (e.code === Code.Internal || e.code === Code.Unknown) return true;
  return !e.reason && !isConnectionLoss(e);
}

export function errorLabel(e: ClientError): string {
  const code = e.code === "ended" ? "ended-cleanly" : Code[e.code];
  const origin = e.reason ? `/${e.reason}` : e.code === Code.DeadlineExceeded ? " (client timeout)" : isConnectionLoss(e) ? " (connection lost)" : " (no reason)";
  return `${e.rpc} ${code}${origin} @node${e.node}`;
}
