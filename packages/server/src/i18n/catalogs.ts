import { messages as deMessages } from './de/index.ts';
import { messages as enMessages } from './en/index.ts';
import type { Catalog } from './translator.ts';

/** Every message Latchkey shows or sends, by key (the English catalog defines the keys). */
export type MessageKey = keyof typeof enMessages;

/** The keys of messages with plural forms: `x.one` and `x.other` give `x`. */
export type PluralKey = MessageKey extends infer K ? (K extends `${infer Base}.other` ? Base : never) : never;

/** English: the default, and what a catalog without a message falls back to. */
export const ENGLISH: Catalog = { locale: 'en', dir: 'ltr', messages: enMessages };

/** The languages Latchkey ships complete; an operator adds or changes others (i18n/operator-catalogs.ts). */
export const BUILT_IN_CATALOGS: readonly Catalog[] = [ENGLISH, { locale: 'de', dir: 'ltr', messages: deMessages }];
