// One log line per failed RPC, with its code and reason (pino, structured), and the one place
// where an untyped failure becomes what the client may see (errors.ts publicError): a backend
// outage is Unavailable BACKEND_UNAVAILABLE (rule ERR-6), anything else untyped a bare Internal.
// Only Internal and Unknown are error-level; an outage, which every request meets at once, is
// logged at warn at most once per interval per logger, with the count it stood for.
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { ErrorReason } from "@narrowcast/gen";
import type { Logger } from "pino";
import { publicError, reasonName, reasonOf } from "../errors.js";

const OUTAGE_LOG_INTERVAL_MS = 5_000;
const outageLog = new WeakMap<Logger, { at: number; suppressed: number }>();

function logOutage(log: Logger, fields: object, err: unknown): void {
  const now = Date.now();
  const state = outageLog.get(log);
  if (state && now - state.at < OUTAGE_LOG_INTERVAL_MS) {
    state.suppressed++;
    return;
  }
  log.warn({ ...fields, err, suppressed: state?.suppressed ?? 0 }, "backend unreachable");
  outageLog.set(log, { at: now, suppressed: 0 });
}

/**
 * Logs a failed RPC and returns the error to send; shared by the interceptor and the Subscribe
 * fast path.
 */
export function logRpcFailure(log: Logger, procedure: string, err: unknown): ConnectError {
  const ce = publicError(err);
  const reason = reasonOf(ce);
  const fields = { procedure, code: Code[ce.code], reason, message: ce.rawMessage };
  if (reason === reasonName(ErrorReason.BACKEND_UNAVAILABLE)) logOutage(log, fields, err);
  else if (ce.code === Code.Internal || ce.code === Code.Unknown) log.error({ ...fields, err }, "rpc failed");
  else log.info(fields, "rpc failed");
  return ce;
}

export function loggingInterceptor(log: Logger): Interceptor {
  return (next) => async (req) => {
    const procedure = `${req.service.typeName}/${req.method.name}`;
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
            throw logRpcFailure(log, procedure, err);
          }
        })(),
      };
    } catch (err) {
      throw logRpcFailure(log, procedure, err);
    }
  };
}
