/** English: the device messages (docs/languages.md). */
export const messages = {
} as const;
