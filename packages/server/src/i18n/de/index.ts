import { messages as account } from './account.ts';
import { messages as device } from './device.ts';
import { messages as email } from './email.ts';
import { messages as mail } from './mail.ts';
import { messages as pages } from './pages.ts';

/** Every message of this language (i18n/catalogs.ts): the parts' catalogs together. */
export const messages = { ...pages, ...account, ...device, ...email, ...mail };
