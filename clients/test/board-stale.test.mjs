// The odds board greys a stale source's prices, names it, and leaves it out of the favourite,
// in headless Chromium, against a server whose sources go stale after 1 s of silence.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';

import { chromium } from 'playwright-core';

import { GRAPHQL_HTTP, HTTP, RACE_ID, RUNNER_IDS, TOKEN, storeOdds, subscribed } from './support.mjs';

const CHROMIUM = process.env.RACEWIRE_CHROMIUM ?? '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--no-first-run', '--disable-sync'];

let profile;
let context;

before(async () => {
  profile = await mkdtemp(join(tmpdir(), 'racewire-chromium-'));
  context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: FLAGS });
  await context.route('**/*', (route) => (new URL(route.request().url()).hostname === '127.0.0.1' ? route.continue() : route.abort()));
});

after(async () => {
  await context?.close();
  if (profile) await rm(profile, { recursive: true, force: true });
});

async function heartbeat(source) {
  const response = await fetch(GRAPHQL_HTTP, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify({ query: 'mutation($s: String!) { feedHeartbeat(source: $s) { status } }', variables: { s: source } }),
  });
  const body = await response.json();
  assert.equal(body.errors, undefined, JSON.stringify(body.errors));
}

test('a silent source greys on the board, is named, leaves the favourite, and recovers', async () => {
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (error) => problems.push(error.message));
  await page.goto(`${HTTP}/?race=${RACE_ID}`);
  const row = (n) => page.locator(`tr[data-runner-id="${RUNNER_IDS[n]}"]`);
  await row(0).locator('.horse').waitFor({ timeout: 15_000 });
  await subscribed(2);

  // The bookmaker keeps beating; the exchange falls silent after its prices.
  const beating = setInterval(() => heartbeat('bookie').catch(() => {}), 250);
  try {
    await storeOdds(4.0, RUNNER_IDS[0], 'bookie');
    await storeOdds(5.0, RUNNER_IDS[0], 'exchange');
    await storeOdds(2.0, RUNNER_IDS[1], 'exchange');
    await row(1).locator('.price[data-decimal="2"]').waitFor({ timeout: 15_000 });
    assert.equal(await row(1).locator('.fav').isVisible(), true);

    await page.locator('#stale').getByText('exchange').waitFor({ timeout: 15_000 });
    await row(0).locator('.price[data-decimal="4"]:not(.stale)').waitFor({ timeout: 15_000 }); // the live bookie's
    await row(1).locator('.price.stale').waitFor({ timeout: 15_000 });
    assert.equal(await row(1).locator('.src').textContent(), 'exchange (stale)');
    assert.equal(await row(1).locator('.fav').isVisible(), false);
    assert.equal(await row(0).locator('.fav').isVisible(), true); // the favourite among live prices

    await storeOdds(2.2, RUNNER_IDS[1], 'exchange'); // back
    await row(1).locator('.price[data-decimal="2.2"]:not(.stale)').waitFor({ timeout: 15_000 });
    assert.equal(await row(1).locator('.fav').isVisible(), true);
  } finally {
    clearInterval(beating);
  }
  assert.deepEqual(problems, []);
});
