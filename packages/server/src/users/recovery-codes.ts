import { randomBytes } from 'node:crypto';
import type { ServerContext } from '../context.ts';
import { sha256 } from '../lib/random.ts';

/**
 * Recovery codes: ten single-use codes the user keeps on paper for the day their authenticator app is
 * gone (NIST SP 800-63B §5.1.2 look-up secrets). 80 random bits each, shown once, stored as SHA-256
 * only (the entropy makes a slow hash unnecessary, as for refresh tokens).
 */

export const RECOVERY_CODE_COUNT = 10;
const CODE_BYTES = 10;

/** xxxxx-xxxxx-xxxxx-xxxxx: 20 hex digits in groups of five, easy to copy by hand. */
function formatCode(hex: string): string {
  return hex.match(/.{5}/g)!.join('-');
}

/** What a typed code is compared as: lower case, without spaces and dashes; undefined if it cannot be one. */
export function normalizeRecoveryCode(typed: string): string | undefined {
  const bare = typed.toLowerCase().replace(/[\s-]/g, '');
  return /^[0-9a-f]{20}$/.test(bare) ? bare : undefined;
}

/** New codes for the user, replacing every earlier one; the only time they exist in clear. */
export async function issueRecoveryCodes(ctx: ServerContext, userId: string): Promise<string[]> {
  const codes = Array.from({ length: RECOVERY_CODE_COUNT }, () => randomBytes(CODE_BYTES).toString('hex'));
  await ctx.storage.recoveryCodes.replace(userId, codes.map(sha256), ctx.now());
  return codes.map(formatCode);
}

/** Spends a recovery code of the user; false when it is not one of theirs or was used before. */
export async function useRecoveryCode(ctx: ServerContext, userId: string, typed: string): Promise<boolean> {
  const code = normalizeRecoveryCode(typed);
  return code !== undefined && ctx.storage.recoveryCodes.use(userId, sha256(code), ctx.now());
}
