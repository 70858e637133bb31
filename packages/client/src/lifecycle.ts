import { Code, ConnectError } from "@connectrpc/connect";
import type { Interceptor } from "@connectrpc/connect";

/**
 * An interceptor that fails every call once `closed` is aborted: a closed client must not
 * quietly open a new connection (connect-node would reconnect on the next call).
 */
export function refuseWhenClosed(closed: AbortSignal): Interceptor {
  return (next) => async (req) => {
    if (closed.aborted) {
      throw new ConnectError("the client was closed", Code.Canceled);
    }
    return next(req);
  };
}
