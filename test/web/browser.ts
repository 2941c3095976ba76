/**
 * Debian's chromium driven by playwright-core, for the console's real-browser tests. Without chromium
 * the tests say so in one line and are skipped, except under CI (`CI=true`), where that is a failure.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { REPO } from './consoleSetup.js';

export const CHROMIUM = '/usr/bin/chromium';
/** Where each page's screenshot goes (git-ignored), for a person to look at. */
export const ARTIFACTS = path.join(REPO, 'test', 'artifacts');

/** In a `before` hook: skips the suite without chromium, or throws under CI. */
export function requireChromium(ctx: Mocha.Context): void {
  if (existsSync(CHROMIUM)) return;
  const line = `needs Debian's chromium at ${CHROMIUM} (apt-get install -y chromium; .ci/run installs it)`;
  if (process.env.CI === 'true' || process.env.CI === '1') throw new Error(`CI: ${line}`);
  process.stderr.write(`    skipped: ${line}\n`);
  ctx.skip();
}

/** A headless chromium with a fresh profile; close() removes the profile. */
export interface Browser {
  readonly context: BrowserContext;
  newPage(): Promise<Page>;
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<Browser> {
  const profile = mkdtempSync(path.join(os.tmpdir(), 'drivetrain-chromium-'));
  // playwright-core takes the user-data-dir as launchPersistentContext's first argument, not as a flag.
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
    viewport: { width: 1400, height: 900 },
  });
  return {
    context,
    newPage: async () => {
      const page = await context.newPage();
      // Every confirmation the console asks for is accepted: the tests are the user saying yes.
      page.on('dialog', (d) => void d.accept());
      return page;
    },
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Saves a full-page screenshot as test/artifacts/<name>.png. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
