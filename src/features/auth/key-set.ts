import type { HonoJsonWebKey } from "hono/utils/jwt/jws";
import type { SignatureAlgorithm } from "hono/utils/jwt/jwa";
import type { Config, JwtKeyConfig } from "../../core/config.ts";

export interface VerificationKey {
  kid: string;
  /** Pinned per key: the token's `alg` header must equal it, it never chooses the key type. */
  alg: SignatureAlgorithm;
  key: CryptoKey;
}

export interface KeySet {
  byKid: Map<string, VerificationKey>;
  /** The signing key as a JWK carrying `kid` and `alg`, so hono/jwt writes both into the header. */
  signing: HonoJsonWebKey & { kid: string; alg: SignatureAlgorithm };
  /** Public JWKs of the asymmetric keys, for /.well-known/jwks.json. */
  publicJwks: HonoJsonWebKey[];
}

const IMPORT_PARAMS: Record<string, SubtleCryptoImportKeyAlgorithm> = {
  HS256: { name: "HMAC", hash: "SHA-256" },
  HS384: { name: "HMAC", hash: "SHA-384" },
  HS512: { name: "HMAC", hash: "SHA-512" },
  ES256: { name: "ECDSA", namedCurve: "P-256" },
  EdDSA: { name: "Ed25519" },
};

function toJwk(key: JwtKeyConfig, use: "sign" | "verify"): HonoJsonWebKey {
  if ("secret" in key) return { kty: "oct", k: key.secret, alg: key.alg, kid: key.kid };
  const source = use === "sign" ? key.privateJwk : key.publicJwk;
  // Only the public members reach a verification key or the JWKS, whatever the config held.
  const { d: _private, ...publicPart } = (source ?? {}) as Record<string, unknown>;
  return { ...(use === "sign" ? source : publicPart), alg: key.alg, kid: key.kid } as HonoJsonWebKey;
}

async function importVerificationKey(key: JwtKeyConfig): Promise<VerificationKey> {
  const params = IMPORT_PARAMS[key.alg];
  if (!params) throw new Error(`JWT_KEYS: unsupported alg ${key.alg} for kid ${key.kid}`);
  const jwk = toJwk(key, "verify");
  delete jwk.key_ops;
  const cryptoKey = await crypto.subtle.importKey("jwk", jwk, params, false, ["verify"]);
  return { kid: key.kid, alg: key.alg, key: cryptoKey };
}

// Importing a key costs more than verifying with it, so each config's keys are imported once per
// isolate. Keyed by the (immutable, memoised) Config object: no state a request can change.
const cache = new WeakMap<Config, Promise<KeySet>>();

export function keySetFor(config: Config): Promise<KeySet> {
  let keys = cache.get(config);
  if (!keys) {
    keys = buildKeySet(config);
    cache.set(config, keys);
    keys.catch(() => cache.delete(config));
  }
  return keys;
}

async function buildKeySet(config: Config): Promise<KeySet> {
  const imported = await Promise.all(config.JWT_KEYS.map(importVerificationKey));
  const signingConfig =
    (config.JWT_SIGNING_KID && config.JWT_KEYS.find((k) => k.kid === config.JWT_SIGNING_KID)) || config.JWT_KEYS[0];
  if (!signingConfig) throw new Error("JWT_KEYS is empty");
  return {
    byKid: new Map(imported.map((k) => [k.kid, k])),
    signing: toJwk(signingConfig, "sign") as KeySet["signing"],
    publicJwks: config.JWT_KEYS.filter((k) => !("secret" in k)).map((k) => ({ ...toJwk(k, "verify"), use: "sig" })),
  };
}
