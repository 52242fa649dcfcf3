/** RFC 6749 §5.1 successful token response. */
export interface TokenResponse {
  access_token: string;
  /** RFC 9449 §5: `DPoP` for a DPoP-bound access token, else `Bearer` (RFC 6750). */
  token_type: 'Bearer' | 'DPoP';
  expires_in: number;
  /** RFC 6749 §5.1; always sent, so the client knows exactly what it got (Spring CVE-2022-31690). */
  scope: string;
  refresh_token?: string;
  /** RFC 8693 §2.2.1: the type of the token issued by a token exchange. */
  issued_token_type?: string;
  id_token?: string;
}
