// JWT keys made fresh for each benchmark run (never committed): an HS256 secret that signs access
// tokens (the production default: the first key signs), plus Ed25519 and P-256 pairs that verify.
const b64url = (bytes: Uint8Array): string => Buffer.from(bytes).toString("base64url");

export interface BenchJwtKeys {
  /** The JWT_KEYS binding value. */
  json: string;
  list: Array<Record<string, unknown>>;
}

export async function makeJwtKeys(): Promise<BenchJwtKeys> {
  const ed = (await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"])) as CryptoKeyPair;
  const ec = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
    "sign",
    "verify",
  ])) as CryptoKeyPair;
  const list = [
    { kid: "bench-hs256", alg: "HS256", secret: b64url(crypto.getRandomValues(new Uint8Array(32))) },
    {
      kid: "bench-ed25519",
      alg: "EdDSA",
      privateJwk: await crypto.subtle.exportKey("jwk", ed.privateKey),
      publicJwk: await crypto.subtle.exportKey("jwk", ed.publicKey),
    },
    {
      kid: "bench-es256",
      alg: "ES256",
      privateJwk: await crypto.subtle.exportKey("jwk", ec.privateKey),
      publicJwk: await crypto.subtle.exportKey("jwk", ec.publicKey),
    },
  ];
  return { json: JSON.stringify(list), list };
}
