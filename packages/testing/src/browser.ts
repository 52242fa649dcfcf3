import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/**
 * Chromium for the browser end-to-end tests: Debian's package (`apt-get install -y chromium`), driven by
 * playwright-core. Playwright's own browser downloads are never used.
 */
export const CHROMIUM_PATH = '/usr/bin/chromium';

/** The flags every launch uses: headless, no sandbox (containers, root), and no background traffic. */
export const CHROMIUM_ARGS: readonly string[] = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

function inCi(): boolean {
  const ci = process.env.CI;
  return ci !== undefined && ci !== '' && ci !== '0' && ci.toLowerCase() !== 'false';
}

/**
 * For `test(name, { skip: chromiumSkip() }, ...)`: a reason to skip when Chromium is not installed, else false.
 * In CI it is never a skip: the test runs and `launchChromium()` fails it.
 */
export function chromiumSkip(): string | false {
  if (existsSync(CHROMIUM_PATH) || inCi()) return false;
  return `Chromium is not installed at ${CHROMIUM_PATH} (apt-get install -y chromium); browser tests skipped`;
}

/**
 * Launches headless Chromium. `chromium.launch` gives every browser a fresh temporary profile and removes it
 * on close. Throws when Chromium is missing (in CI that is a failure, never a skip).
 */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `Chromium is required${inCi() ? ' in CI' : ''} but ${CHROMIUM_PATH} is missing: apt-get install -y chromium`,
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [...CHROMIUM_ARGS],
    timeout: 60_000,
  });
}
