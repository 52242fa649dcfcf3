import type { messages as english } from '../en/email.ts';

/** Deutsch: email. */
export const messages: Record<keyof typeof english, string> = {
};
