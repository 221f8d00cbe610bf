// GraphiQL and the live odds board in headless Chromium, with every non-loopback request refused.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';

import { chromium } from 'playwright-core';

import { HTTP, RACE_ID, RUNNER_IDS, storeOdds, subscribed } from './support.mjs';

const ARTIFACTS = process.env.RACEWIRE_ARTIFACTS ?? new URL('../../test-artifacts/', import.meta.url).pathname;
const CHROMIUM = process.env.RACEWIRE_CHROMIUM ?? '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--no-first-run', '--disable-sync'];

let profile;
let context;
const offsite = [];

before(async () => {
  await mkdir(ARTIFACTS, { recursive: true });
  profile = await mkdtemp(join(tmpdir(), 'racewire-chromium-'));
  context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: FLAGS });
  // No internet: anything not served by the API itself is refused, and remembered to fail the test.
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (url.hostname === '127.0.0.1' || url.protocol === 'data:' || url.protocol === 'blob:') return route.continue();
    offsite.push(url.href);
    return route.abort();
  });
});

after(async () => {
  await context?.close();
  if (profile) await rm(profile, { recursive: true, force: true });
});

async function open(path) {
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (error) => problems.push(error.message));
  page.on('console', (message) => message.type() === 'error' && console.error(`${path}: ${message.text()}`));
  await page.goto(`${HTTP}${path}`);
  return { page, problems };
}

test('GraphiQL opens on Racewire examples, takes #query= links into the tab in front, and runs a live subscription', async () => {
  const { page, problems } = await open('/graphql');
  const editor = page.locator('.graphiql-query-editor');
  const result = page.locator('.result-window');
  // A first visit: today's open races in front, a subscription tab beside it, no stock welcome.
  await page.locator('.graphiql-tab', { hasText: 'OpenRaces' }).waitFor({ timeout: 15_000 });
  await page.locator('.graphiql-tab', { hasText: 'LiveOdds' }).waitFor();
  await editor.getByText('query OpenRaces').waitFor();
  assert.equal(await page.getByText('Welcome to GraphiQL').count(), 0);
  await page.locator('.graphiql-execute-button').click();
  await result.getByText('"races"').waitFor({ timeout: 15_000 });
  await page.screenshot({ path: join(ARTIFACTS, 'graphiql-welcome.png') });

  // A link's operation replaces what the tab in front shows, with no reload and no new tab.
  const tabs = await page.locator('.graphiql-tab').count();
  await page.goto(`${HTTP}/graphql#query=${encodeURIComponent('query LinkedCard { race(id: "' + RACE_ID + '") { name runners { horse } } }')}`);
  await editor.getByText('runners { horse }').waitFor({ timeout: 15_000 });
  await page.locator('.graphiql-tab-active', { hasText: 'LinkedCard' }).waitFor(); // GraphiQL has read it
  assert.equal(await page.locator('.graphiql-tab').count(), tabs);
  await page.locator('.graphiql-execute-button').click();
  await result.getByText('Horse 1-1').waitFor({ timeout: 15_000 });

  const query = `subscription LinkedOdds { oddsUpdated(raceIds: ["${RACE_ID}"]) { raceId seq prices { runnerId decimal fractional } } }`;
  await page.goto(`${HTTP}/graphql#query=${encodeURIComponent(query)}`);
  await page.locator('.graphiql-tab-active', { hasText: 'LinkedOdds' }).waitFor({ timeout: 15_000 });
  await page.locator('.graphiql-execute-button').click();
  await subscribed(1);
  await storeOdds(7.5);
  await result.getByText('"13/2"').waitFor({ timeout: 15_000 });
  await page.screenshot({ path: join(ARTIFACTS, 'graphiql-subscription.png') });

  assert.deepEqual(problems, []);
  assert.deepEqual(offsite, []);
  await page.close();
});

test('the odds board at / shows each runner and moves prices as storeOdds arrive', async () => {
  const { page, problems } = await open(`/?race=${RACE_ID}`);
  const row = page.locator(`tr[data-runner-id="${RUNNER_IDS[0]}"]`);
  await row.locator('.horse').getByText('Horse 1-1').waitFor({ timeout: 15_000 });
  await page.locator('#status').getByText('Live').waitFor();
  await subscribed(1);

  await storeOdds(4.0);
  await row.locator('.price[data-decimal="4"]').waitFor({ timeout: 15_000 });
  await storeOdds(5.0);
  await row.locator('.price[data-decimal="5"]').waitFor({ timeout: 15_000 });
  assert.equal(await row.getAttribute('data-move'), 'out');
  await storeOdds(3.0);
  await row.locator('.price[data-decimal="3"]').waitFor({ timeout: 15_000 });
  assert.equal(await row.getAttribute('data-move'), 'in');
  assert.equal(await row.locator('.price').textContent(), '2/1 (3.00)');
  await page.screenshot({ path: join(ARTIFACTS, 'odds-board.png') });

  assert.deepEqual(problems, []);
  assert.deepEqual(offsite, []);
  await page.close();
});
