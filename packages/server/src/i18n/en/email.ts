/** English: the email messages (docs/languages.md). */
export const messages = {
} as const;
