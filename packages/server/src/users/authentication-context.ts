/**
 * How a user signed in, carried from the SSO session to every token issued under it: `amr`, the
 * methods (RFC 8176), and `acr`, the class of authentication they add up to (OIDC Core §2). See
 * docs/authentication-context.md.
 */

/**
 * RFC 8176 §2 values Latchkey uses: `pwd` password, `otp` one-time code, `hwk` / `swk` a key in
 * hardware / software (a passkey), `user` user presence and verification, `mfa` more than one factor.
 */
export type AuthenticationMethod = 'pwd' | 'otp' | 'hwk' | 'swk' | 'user' | 'mfa' | 'fed';

/** `fed` (not an RFC 8176 value; RFC 8176 §2 allows others): signed in at an upstream provider (federation/). */
const METHODS: ReadonlySet<string> = new Set<AuthenticationMethod>(['pwd', 'otp', 'hwk', 'swk', 'user', 'mfa', 'fed']);

/**
 * The classes of authentication (`acr` values), weakest first; discovery lists them as
 * `acr_values_supported` (OIDC Discovery §3). `phr` is the OpenID EAP ACR Values 1.0 §2 value for
 * phishing-resistant authentication (a passkey: its signature is bound to the origin).
 */
export const ACR = {
  password: 'urn:latchkey:acr:password',
  mfa: 'urn:latchkey:acr:mfa',
  phishingResistant: 'phr',
} as const;

export type AcrValue = (typeof ACR)[keyof typeof ACR];

/**
 * The classes this server can reach, for discovery: a password, two factors, and a passkey
 * (docs/authentication-context.md).
 */
export const ACR_VALUES_SUPPORTED: readonly AcrValue[] = [ACR.password, ACR.mfa, ACR.phishingResistant];

/** The authentication of a session and of the tokens issued under it. */
export interface Authentication {
  /** OIDC Core §2 `auth_time`: when the user last actively authenticated, in seconds. */
  time: number;
  /** RFC 8176 methods, in the order they were used; never empty. */
  methods: AuthenticationMethod[];
}

/** A sign-in with a password only. */
export const PASSWORD_ONLY: readonly AuthenticationMethod[] = ['pwd'];

/**
 * The `acr` the methods add up to: a passkey is phishing-resistant; two factors (RFC 8176 `mfa`) are
 * multi-factor; anything else is a password.
 */
export function acrOf(methods: readonly AuthenticationMethod[]): AcrValue {
  if (methods.includes('hwk') || methods.includes('swk')) return ACR.phishingResistant;
  if (methods.includes('mfa')) return ACR.mfa;
  return ACR.password;
}

/** OIDC Core §2 / RFC 9068 §2.2.1 claims of an authentication, for ID tokens, access tokens and introspection. */
export interface AuthenticationClaims {
  auth_time: number;
  acr: AcrValue;
  amr: AuthenticationMethod[];
}

export function authenticationClaims(authentication: Authentication): AuthenticationClaims {
  return { auth_time: authentication.time, acr: acrOf(authentication.methods), amr: [...authentication.methods] };
}

/** Whether a sign-in by `methods` meets the class `acr` (a stronger class meets a weaker one). */
export function meetsAcr(acr: string, methods: readonly AuthenticationMethod[]): boolean {
  if (acr === ACR.password) return true;
  if (acr === ACR.mfa) return methods.includes('mfa');
  if (acr === ACR.phishingResistant) return acrOf(methods) === ACR.phishingResistant;
  return false;
}

/**
 * What an authorization request's `acr_values` (OIDC Core §3.1.2.1: "in order of preference") ask the
 * user to add when none of them is met by the session's sign-in: for the first class Latchkey can
 * reach, a second factor (the multi-factor class) or a passkey (`phr`). A request for classes Latchkey
 * does not know is answered with the sign-in as it is: acr_values is voluntary, and the token's `acr`
 * says what it was.
 */
export function stepUpNeeded(acrValues: readonly string[], methods: readonly AuthenticationMethod[]): 'passkey' | 'second-factor' | undefined {
  if (acrValues.some((acr) => meetsAcr(acr, methods))) return undefined;
  for (const acr of acrValues) {
    if (acr === ACR.mfa) return 'second-factor';
    if (acr === ACR.phishingResistant) return 'passkey';
  }
  return undefined;
}

/** Methods as stored: space-separated, like a scope. */
export function formatMethods(methods: readonly AuthenticationMethod[]): string {
  return methods.join(' ');
}

/**
 * Stored methods back. Rows written before methods were recorded (null) were password sign-ins, the
 * only kind there was; an unknown value means the database was written by something else.
 */
export function parseMethods(text: string | null): AuthenticationMethod[] {
  if (text === null) return [...PASSWORD_ONLY];
  const methods = text.split(' ');
  if (methods.length === 0 || !methods.every((m) => METHODS.has(m))) throw new Error('unreadable authentication methods in the database');
  return methods as AuthenticationMethod[];
}
