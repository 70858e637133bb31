// Authentication (rules AUTH-1 to AUTH-4) as a connect-es interceptor. User tokens are HS256
// JWTs signed with the app's secret: `iss` app ID, `sub` user ID, `exp` required. AdminService
// takes the server's admin key as a bearer token.
import { timingSafeEqual } from "node:crypto";
import type { Interceptor } from "@connectrpc/connect";
import { SignJWT, decodeJwt, errors as joseErrors, jwtVerify } from "jose";
import { AdminService, ErrorReason } from "@narrowcast/gen";
import { narrowcastError } from "./errors.js";
import { callerKey, type Caller } from "./context.js";
import type { Store } from "./store/types.js";

const MAX_CACHED_TOKENS = 10_000;

export function secretKey(secret: string): Uint8Array {
  return new Uint8Array(Buffer.from(secret, "base64url"));
}

/** Mints a user token exactly as an app backend would (rule AUTH-2). */
export async function mintUserToken(appId: string, secret: string, userId: string, ttlSeconds: number, now: number) {
  const iat = Math.floor(now / 1000);
  const exp = iat + ttlSeconds;
  const token = await new SignJWT({})
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuer(appId)
    .setSubject(userId)
    .setIssuedAt(iat)
    .setExpirationTime(exp)
    .sign(secretKey(secret));
  return { token, expiresAtMs: exp * 1000 };
}

function bearer(header: Headers): string | undefined {
  const value = header.get("authorization");
  if (!value) return undefined;
  const m = /^Bearer\s+(.+)$/i.exec(value.trim());
  return m ? m[1].trim() : "";
}

export class Authenticator {
  /** Verified tokens, so repeat calls skip the HMAC and the lookups (bounded; expiry rechecked). */
  private readonly verified = new Map<string, { caller: Caller; expMs: number }>();

  constructor(
    private readonly store: Store,
    private readonly adminKey: string,
    private readonly now: () => number,
  ) {}

  checkAdmin(header: Headers): void {
    const token = bearer(header);
    const a = Buffer.from(token ?? "");
    const b = Buffer.from(this.adminKey);
    if (!token || a.length !== b.length || !timingSafeEqual(a, b)) {
      throw narrowcastError(ErrorReason.ADMIN_KEY_INVALID, "AdminService needs the admin key as a bearer token");
    }
  }

  async verifyUser(header: Headers): Promise<Caller> {
    const token = bearer(header);
    if (token === undefined) throw narrowcastError(ErrorReason.TOKEN_MISSING, "missing bearer token");
    const cached = this.verified.get(token);
    if (cached) {
      if (cached.expMs <= this.now()) throw narrowcastError(ErrorReason.TOKEN_EXPIRED, "token expired");
      return cached.caller;
    }
    const invalid = () => narrowcastError(ErrorReason.TOKEN_INVALID, "invalid token");
    let appId: string | undefined;
    try {
      appId = decodeJwt(token).iss;
    } catch {
      throw invalid();
    }
    const app = appId ? await this.store.getApp(appId) : undefined;
    if (!app) throw invalid();
    let payload;
    try {
      ({ payload } = await jwtVerify(token, secretKey(app.secret), {
        algorithms: ["HS256"],
        issuer: app.appId,
        requiredClaims: ["exp", "sub"],
        currentDate: new Date(this.now()),
      }));
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) throw narrowcastError(ErrorReason.TOKEN_EXPIRED, "token expired");
      throw invalid();
    }
    const userId = payload.sub!;
    const exists = await this.store.existingUsers(app.appId, [userId]);
    if (!exists.has(userId)) throw invalid();
    const caller = { appId: app.appId, userId };
    if (this.verified.size >= MAX_CACHED_TOKENS) this.verified.clear();
    this.verified.set(token, { caller, expMs: (payload.exp as number) * 1000 });
    return caller;
  }

  interceptor(): Interceptor {
    return (next) => async (req) => {
      if (req.service.typeName === AdminService.typeName) {
        this.checkAdmin(req.header);
      } else {
        req.contextValues.set(callerKey, await this.verifyUser(req.header));
      }
      return next(req);
    };
  }
}
