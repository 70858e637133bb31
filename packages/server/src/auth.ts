// Authentication (rules AUTH-1 to AUTH-7) as a connect-es interceptor. User tokens are HS256
// JWTs signed with the app's secret: `iss` app ID, `sub` user ID, `exp` required, `nbf` honoured.
// AdminService takes the server's admin key as a bearer token; ServerService takes nothing.
//
// Every request re-reads the app and the user (rule ADM-9): a verified-token cache would have to
// be invalidated on every node when a secret is rotated or a user deleted, and the two lookups
// are primary-key reads. So a rotation or a deletion takes effect on the very next request.
import { timingSafeEqual } from "node:crypto";
import type { Interceptor } from "@connectrpc/connect";
import { SignJWT, decodeJwt, errors as joseErrors, jwtVerify } from "jose";
import { ErrorReason, ServerService } from "@narrowcast/gen";
import { AdminService } from "@narrowcast/gen/admin";
import { narrowcastError } from "./errors.js";
import { callerKey, type Caller } from "./context.js";
import type { AppRecord, Store } from "./store/types.js";

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

const invalid = () => narrowcastError(ErrorReason.TOKEN_INVALID, "invalid token");

/** When the previous secret (after a rotation with grace) is still accepted, its expiry (ms) (rule ADM-9). */
export function previousSecretExpiry(app: AppRecord, now: number): number | undefined {
  const expires = app.previousSecretExpiresAt;
  return app.previousSecret && expires !== undefined && now < expires ? expires : undefined;
}

/** The secrets a token of `app` may be signed with now: the current one, then a previous one in its grace period. */
function acceptedSecrets(app: AppRecord, now: number): string[] {
  return previousSecretExpiry(app, now) === undefined ? [app.secret] : [app.secret, app.previousSecret!];
}

/** A token whose signature a secret verified, and the claims that keep being checked. */
interface VerifiedToken {
  secret: string;
  sub: string;
  /** Seconds since the epoch, as in the token. */
  exp: number;
  nbf?: number;
}

/** Verified tokens kept per node; the map is simply cleared when full. */
const MAX_VERIFIED_TOKENS = 10_000;

export class Authenticator {
  /**
   * Signature checks are cached (an HMAC and a JSON parse per request otherwise); everything that
   * can change is still checked per request against the store: the secret must still be accepted
   * (a rotation, ADM-9, takes effect at once on every node), `exp`/`nbf` against the clock, and the
   * user must exist (a deletion, ADM-11, too).
   */
  private readonly verified = new Map<string, VerifiedToken>();

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
    let appId: string | undefined;
    try {
      appId = decodeJwt(token).iss;
    } catch {
      throw invalid();
    }
    const app = appId ? await this.store.getApp(appId) : undefined;
    if (!app) throw invalid();
    const now = this.now();
    const userId = (await this.cachedClaims(token, app, now)) ?? (await this.verifySignedClaims(token, app, now));
    // Rule ADM-11: a deleted user's tokens fail at once (TOKEN_INVALID: unknown user).
    const exists = await this.store.existingUsers(app.appId, [userId]);
    if (!exists.has(userId)) throw invalid();
    return { appId: app.appId, userId };
  }

  /**
   * Verifies the signature with each accepted secret and the claims (rules AUTH-2, AUTH-3, ADM-9):
   * `exp` passed → TOKEN_EXPIRED; before `nbf` (no clock skew), bad signature or claims → TOKEN_INVALID.
   */
  private async verifySignedClaims(token: string, app: AppRecord, now: number): Promise<string> {
    for (const secret of acceptedSecrets(app, now)) {
      try {
        const { payload } = await jwtVerify(token, secretKey(secret), {
          algorithms: ["HS256"],
          issuer: app.appId,
          requiredClaims: ["exp", "sub"],
          currentDate: new Date(now),
          clockTolerance: 0,
        });
        if (this.verified.size >= MAX_VERIFIED_TOKENS) this.verified.clear();
        this.verified.set(token, { secret, sub: payload.sub!, exp: payload.exp!, nbf: payload.nbf });
        return payload.sub!;
      } catch (err) {
        if (err instanceof joseErrors.JWSSignatureVerificationFailed) continue; // try the previous secret
        if (err instanceof joseErrors.JWTExpired) throw narrowcastError(ErrorReason.TOKEN_EXPIRED, "token expired");
        throw invalid();
      }
    }
    throw invalid();
  }

  /**
   * The user of a token verified before, if its secret is still accepted and its time claims hold
   * now — checked the way jose checks them (whole seconds, no clock skew); undefined to verify anew.
   */
  private async cachedClaims(token: string, app: AppRecord, now: number): Promise<string | undefined> {
    const hit = this.verified.get(token);
    if (!hit || !acceptedSecrets(app, now).includes(hit.secret)) return undefined;
    const seconds = Math.floor(now / 1000);
    if (hit.nbf !== undefined && hit.nbf > seconds) throw invalid();
    if (hit.exp <= seconds) throw narrowcastError(ErrorReason.TOKEN_EXPIRED, "token expired");
    return hit.sub;
  }

  interceptor(): Interceptor {
    return (next) => async (req) => {
      switch (req.service.typeName) {
        case AdminService.typeName:
          this.checkAdmin(req.header);
          break;
        case ServerService.typeName:
          break; // Rule AUTH-7: no authentication; a token sent is ignored.
        default:
          req.contextValues.set(callerKey, await this.verifyUser(req.header));
      }
      return next(req);
    };
  }
}
