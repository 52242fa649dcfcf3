import type { messages as english } from '../en/account.ts';

/** Deutsch: account. */
export const messages: Record<keyof typeof english, string> = {
};
