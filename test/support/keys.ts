/**
 * JWT keys for the test run, made fresh each run (never committed material): an HS256 secret that
 * signs, and an Ed25519 pair that verifies and appears in the JWKS.
 */
const b64url = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64url");

const ed = (await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"])) as CryptoKeyPair;
const edPrivate = await crypto.subtle.exportKey("jwk", ed.privateKey);
const edPublic = await crypto.subtle.exportKey("jwk", ed.publicKey);

export const testJwtKeys = [
  { kid: "test-hs256", alg: "HS256", secret: b64url(crypto.getRandomValues(new Uint8Array(32))) },
  { kid: "test-ed25519", alg: "EdDSA", privateJwk: edPrivate, publicJwk: edPublic },
];
