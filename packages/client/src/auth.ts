import type { Interceptor } from "@connectrpc/connect";

/** Returns the bearer token to send; called once per request, so it may refresh tokens. */
export type TokenSource = () => string | Promise<string>;

/** Resolves the `token` / `getToken` pair of the options into one token source. */
export function tokenSource(options: { token?: string; getToken?: TokenSource }, what: string): TokenSource {
  if (options.getToken) {
    return options.getToken;
  }
  const token = options.token;
  if (token === undefined) {
    throw new TypeError(`${what}: pass token or getToken`);
  }
  return () => token;
}

/**
 * An interceptor that sets `Authorization: Bearer <token>` on every request (rule AUTH-1 for
 * user tokens, AUTH-4 for the admin key).
 */
export function bearerAuth(getToken: TokenSource): Interceptor {
  return (next) => async (req) => {
    const token = await getToken();
    if (token !== "") {
      req.header.set("Authorization", `Bearer ${token}`);
    }
    return next(req);
  };
}

