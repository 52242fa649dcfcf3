/** English: the account messages (docs/languages.md). */
export const messages = {
} as const;
