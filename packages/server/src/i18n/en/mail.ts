/** English: the mail messages (docs/languages.md). */
export const messages = {
} as const;
