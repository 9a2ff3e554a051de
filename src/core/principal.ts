import type { ProfileClaims } from "../features/auth/access-token.ts";

/** Who is calling, as proven by a verified access token. Set on `c.var.principal` by the auth guards. */
export interface Principal {
  userId: string;
  roles: string[];
  /** Refresh-token family (the `sid` claim): one sign-in. */
  sessionId: string;
  /** The access token's `jti`. */
  tokenId: string;
  /** Access token expiry, epoch seconds. */
  expiresAt: number;
  /** The account as it was when the token was minted (what /v1/auth/me answers); absent on tokens minted without it. */
  profile?: ProfileClaims;
}

export const isAdmin = (p: Principal | undefined): boolean => p?.roles.includes("admin") ?? false;
