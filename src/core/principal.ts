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
}

export const isAdmin = (p: Principal | undefined): boolean => p?.roles.includes("admin") ?? false;
