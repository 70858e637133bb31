// Authentication (rules AUTH-1 to AUTH-7) as a connect-es interceptor. User tokens are HS256
// JWTs signed with the app's secret: `iss` app ID, `sub` user ID, `exp` required, `nbf` honoured.
// AdminService takes the server's admin key as a bearer token; ServerService takes nothing.
//
// Every request re-reads the app and the user (rules ADM-9, ADM-11), so a rotation or a deletion
// takes effect on the very next request on every node; only signature checks are cached, keyed by
// token and by the secret that verified it.
// Before any lookup, a token's shape is checked (checkTokenShape): a claim of the wrong JSON type
// or beyond the ID syntax is TOKEN_INVALID, never a store error.
import { timingSafeEqual } from "node:crypto";
import type { Interceptor } from "@connectrpc/connect";
import { SignJWT, errors as joseErrors, jwtVerify } from "jose";
import { ErrorReason, ServerService } from "@narrowcast/gen";
import { AdminService } from "@narrowcast/gen/admin";
import { narrowcastError } from "./errors.js";
import { HealthService } from "./ops/health-service.js";
import { isValidId } from "./ids.js";
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

/** Longest bearer token looked at (characters); a real token is about 200. */
export const MAX_TOKEN_LENGTH = 8 * 1024;

/** One JWS compact segment: base64url without padding, of a length base64 can have. */
const SEGMENT = /^[A-Za-z0-9_-]+$/;

/** The claims of a token whose shape was checked (not yet its signature). */
interface TokenClaims {
  iss: string;
  sub: string;
}

/** The JSON object a segment encodes, or undefined (bad base64url, bad UTF-8, bad JSON, not an object). */
function segmentObject(segment: string): Record<string, unknown> | undefined {
  if (!SEGMENT.test(segment) || segment.length % 4 === 1) return undefined;
  try {
    const value: unknown = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(Buffer.from(segment, "base64url")));
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

const isNumericDate = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);

/**
 * Checks a token's shape before anything is looked up with its claims (rule AUTH-2, section
 * 4.2): at most MAX_TOKEN_LENGTH, three base64url segments, a JSON-object header with `alg`
 * HS256, a JSON-object payload whose `iss` and `sub` are IDs of GRP-8's syntax and whose `exp`
 * (required), `nbf` and `iat` (optional) are finite numbers. Anything else is TOKEN_INVALID, so
 * no claim of another type (`iss: true`, an object `sub`) ever reaches the store. The payload is
 * decoded exactly as jose decodes it (strict UTF-8, JSON.parse: a duplicated claim's last value
 * wins in both), so the claims checked here are the ones jose then verifies.
 */
export function checkTokenShape(token: string): TokenClaims {
  if (token.length > MAX_TOKEN_LENGTH) throw invalid();
  const parts = token.split(".");
  if (parts.length !== 3) throw invalid();
  const header = segmentObject(parts[0]);
  if (header?.alg !== "HS256") throw invalid();
  if (!SEGMENT.test(parts[2]) || parts[2].length % 4 === 1) throw invalid();
  const payload = segmentObject(parts[1]);
  if (!payload) throw invalid();
  const { iss, sub, exp, nbf, iat } = payload;
  if (typeof iss !== "string" || !isValidId(iss)) throw invalid();
  if (typeof sub !== "string" || !isValidId(sub)) throw invalid();
  if (!isNumericDate(exp)) throw invalid();
  if (nbf !== undefined && !isNumericDate(nbf)) throw invalid();
  if (iat !== undefined && !isNumericDate(iat)) throw invalid();
  return { iss, sub };
}

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
  iss: string;
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
    // A token verified before had its shape checked then; any other is checked before its
    // claims are used to look anything up.
    const hit = this.verified.get(token);
    const claims = hit ?? checkTokenShape(token);
    // The app and the user in one read. `sub` is read before the signature is checked, but only
    // used once it is: checkTokenShape decodes the payload exactly as jose does.
    const { app, userExists } = await this.store.getAppAndUser(claims.iss, claims.sub);
    if (!app) throw invalid();
    const now = this.now();
    const userId = (await this.cachedClaims(token, app, now)) ?? (await this.verifySignedClaims(token, app, now));
    // Rule ADM-11: a deleted user's tokens fail at once (TOKEN_INVALID: unknown user).
    const exists = userId === claims.sub ? userExists : (await this.store.existingUsers(app.appId, [userId])).has(userId);
    if (!exists) throw invalid();
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
        // checkTokenShape saw this payload: `sub` is an ID, `exp` a finite number.
        const sub = payload.sub!;
        if (this.verified.size >= MAX_VERIFIED_TOKENS) this.verified.clear();
        this.verified.set(token, { secret, iss: app.appId, sub, exp: payload.exp!, nbf: payload.nbf });
        return sub;
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
        case HealthService.typeName:
          break; // grpc.health.v1, for load balancers and probes: no authentication.
        default:
          req.contextValues.set(callerKey, await this.verifyUser(req.header));
      }
      return next(req);
    };
  }
}
