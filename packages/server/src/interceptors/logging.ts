// One log line per failed RPC, with its code and reason (pino, structured). Only failures an
// outsider cannot cause at will (Internal, Unknown) are error-level; the rest are info.
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import type { Logger } from "pino";
import { reasonOf } from "../errors.js";

/** Logs a failed RPC; shared by the interceptor and the Subscribe fast path. */
export function logRpcFailure(log: Logger, procedure: string, err: unknown): void {
  const ce = ConnectError.from(err);
  const fields = { procedure, code: Code[ce.code], reason: reasonOf(ce), message: ce.rawMessage };
  if (ce.code === Code.Internal || ce.code === Code.Unknown) log.error({ ...fields, err }, "rpc failed");
  else log.info(fields, "rpc failed");
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
            logRpcFailure(log, procedure, err);
            throw err;
          }
        })(),
      };
    } catch (err) {
      logRpcFailure(log, procedure, err);
      throw err;
    }
  };
}
