import type { messages as english } from '../en/mail.ts';

/** Deutsch: mail. */
export const messages: Record<keyof typeof english, string> = {
};
