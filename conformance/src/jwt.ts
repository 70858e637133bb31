// Minimal HS256 JWT minting, so cases can build tokens the way an app backend would (AUTH-2) and
// forge the bad ones (wrong key, missing exp, expired) that a server must refuse.
import { createHmac, randomBytes } from "node:crypto";

export interface TokenClaims {
  iss?: string;
  sub?: string;
  exp?: number;
  iat?: number;
  [claim: string]: unknown;
}

/** Signs claims as an HS256 JWT with a base64url-encoded secret (as App.secret is). */
export function signToken(claims: TokenClaims, secretBase64Url: string): string {
  return signTokenWithKey(claims, Buffer.from(secretBase64Url, "base64url"));
}

/** Signs claims as an HS256 JWT with raw key bytes. */
export function signTokenWithKey(claims: TokenClaims, key: Uint8Array): string {
  const header = base64url(JSON.stringify({ alg: "HS256", typ: "JWT" }));
  const payload = base64url(JSON.stringify(claims));
  const signature = createHmac("sha256", key).update(`${header}.${payload}`).digest("base64url");
  return `${header}.${payload}.${signature}`;
}

/** Signs claims with another JWS algorithm than HS256 (HS384, HS512), or none (empty signature). */
export function signTokenWithAlgorithm(claims: TokenClaims, secretBase64Url: string, alg: "HS384" | "HS512" | "none"): string {
  const header = base64url(JSON.stringify({ alg, typ: "JWT" }));
  const payload = base64url(JSON.stringify(claims));
  if (alg === "none") return `${header}.${payload}.`;
  const hash = alg === "HS384" ? "sha384" : "sha512";
  const signature = createHmac(hash, Buffer.from(secretBase64Url, "base64url")).update(`${header}.${payload}`).digest("base64url");
  return `${header}.${payload}.${signature}`;
}

/** A random key that no server knows. */
export function randomKey(): Uint8Array {
  return randomBytes(32);
}

/** Seconds since the epoch. */
export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/** Decodes a JWT's claims without verifying it. */
export function decodeClaims(token: string): TokenClaims {
  const payload = token.split(".")[1] ?? "";
  return JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as TokenClaims;
}

function base64url(text: string): string {
  return Buffer.from(text, "utf8").toString("base64url");
}
