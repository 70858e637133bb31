// One log line per failed RPC, with its code and reason (pino, structured), and the one place
// where an untyped failure becomes what the client may see (errors.ts publicError): a backend
// outage is Unavailable BACKEND_UNAVAILABLE (rule ERR-6), anything else untyped a bare Internal.
// Only Internal and Unknown are error-level; an outage, which every request meets at once, is
// logged at warn at most once per interval per logger, with the count it stood for.
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { ErrorReason } from "@narrowcast/gen";
import type { Logger } from "pino";
import { publicError, reasonName, reasonOf } from "../errors.js";
import { REQUEST_ID_HEADER, requestLogger } from "../ops/request-id.js";

const OUTAGE_LOG_INTERVAL_MS = 5_000;
const outageLog = new WeakMap<object, { at: number; suppressed: number }>();

function logOutage(log: Logger, throttleKey: object, fields: object, err: unknown): void {
  const now = Date.now();
  const state = outageLog.get(throttleKey);
  if (state && now - state.at < OUTAGE_LOG_INTERVAL_MS) {
    state.suppressed++;
    return;
  }
  log.warn({ ...fields, err, suppressed: state?.suppressed ?? 0 }, "backend unreachable");
  outageLog.set(throttleKey, { at: now, suppressed: 0 });
}

/**
 * Logs a failed RPC to `log` (the request's logger) and returns the error to send; shared by the
 * interceptor and the Subscribe fast path. Outage lines are throttled per `throttleKey` (the
 * server's base logger), not per request.
 */
export function logRpcFailure(log: Logger, procedure: string, err: unknown, throttleKey: object = log): ConnectError {
  const ce = publicError(err);
  const reason = reasonOf(ce);
  const fields = { procedure, code: Code[ce.code], reason, message: ce.rawMessage };
  if (reason === reasonName(ErrorReason.BACKEND_UNAVAILABLE)) logOutage(log, throttleKey, fields, err);
  else if (ce.code === Code.Internal || ce.code === Code.Unknown) log.error({ ...fields, err }, "rpc failed");
  else log.info(fields, "rpc failed");
  return ce;
}

export function loggingInterceptor(log: Logger): Interceptor {
  return (next) => async (req) => {
    const procedure = `${req.service.typeName}/${req.method.name}`;
    const fail = (err: unknown) => logRpcFailure(requestLogger(log, req.header.get(REQUEST_ID_HEADER)), procedure, err, log);
    try {
      const res = await next(req);
      if (!res.stream) return res;
      const inner = res.message;
      return {
        ...res,
        message: (async function* () {
          try {
            yield* inner;
          } catch (err) {
            throw fail(err);
          }
        })(),
      };
    } catch (err) {
      throw fail(err);
    }
  };
}
