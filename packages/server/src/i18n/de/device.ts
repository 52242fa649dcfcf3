import type { messages as english } from '../en/device.ts';

/** Deutsch: device. */
export const messages: Record<keyof typeof english, string> = {
};
