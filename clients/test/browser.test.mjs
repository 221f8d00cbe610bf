// GraphiQL and the live odds board in headless Chromium, with every non-loopback request refused.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';

import { chromium } from 'playwright-core';

import { HTTP, RACE_ID, RUNNER_IDS, restartServer, steward, storeOdds, subscribed } from './support.mjs';

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

const SET_STATUS = `mutation($id: ID!, $status: RaceStatus!, $result: [ID!]) {
  setRaceStatus(raceId: $id, status: $status, result: $result) { id status }
}`;
const LOAD = `mutation($meetings: [MeetingCardInput!]!) { loadRaceCards(meetings: $meetings) { races { id runners { id } } } }`;
const setStatus = (id, status, result = null) => steward(SET_STATUS, { id, status, result });

/** A second meeting with a race taking prices: what the board offers once the first race is off. */
async function anotherOpenRace() {
  const post = new Date(Date.now() + 2 * 3600_000);
  const runners = [1, 2, 3, 4, 5, 6].map((n) => ({ number: n, horse: `Kempton Runner ${n}`, jockey: `K ${n}` }));
  const [{ races: [race] }] = (await steward(LOAD, { meetings: [{
    venue: 'Kempton', country: 'GB', date: post.toISOString().slice(0, 10), going: 'Standard',
    races: [{ number: 1, name: 'Racewire Novice Stakes', postTime: post.toISOString(), distanceMeters: 1400, runners }],
  }] })).loadRaceCards;
  await setStatus(race.id, 'BETTING_OPEN');
  return race;
}

const text = (page, selector) => page.locator(selector).textContent();

test('the odds board shows the race, its status, the favourite and moves; says when it is off, resulted or unknown; fits a phone', async () => {
  const next = await anotherOpenRace();
  const nextId = next.id;
  await setStatus(RACE_ID, 'BETTING_OPEN');
  await steward('mutation($id: ID!) { scratchRunner(runnerId: $id) { id } }', { id: RUNNER_IDS[3] });
  const { page, problems } = await open(`/?race=${RACE_ID}`);
  await page.setViewportSize({ width: 1000, height: 760 });
  const row = (n) => page.locator(`tr[data-runner-id="${RUNNER_IDS[n]}"]`);
  await row(0).locator('.horse').getByText('Horse 1-1').waitFor({ timeout: 15_000 });
  await page.locator('#race-status').getByText('Betting open').waitFor();
  await page.locator('#connection').getByText('Live').waitFor();
  await subscribed(2); // the race's odds and every race's status
  // The picker: today's meetings, the race in front among its meeting's races.
  await page.locator('.meeting', { hasText: 'Kempton' }).waitFor();
  assert.equal(await page.locator('.race-chip[aria-current="page"]').count(), 1);

  // Non-runner struck through; best price is the longest across sources, with its source; favourite marked.
  assert.equal(await row(3).getAttribute('class'), 'scratched');
  assert.equal(await text(page, `tr[data-runner-id="${RUNNER_IDS[3]}"] .nr`), 'NR');
  await storeOdds(4.0);
  await storeOdds(4.5, RUNNER_IDS[0], 'exchange');
  await storeOdds(2.5, RUNNER_IDS[1]);
  await storeOdds(8.0, RUNNER_IDS[2]);
  await row(0).locator('.price[data-decimal="4.5"]').waitFor({ timeout: 15_000 });
  assert.equal(await text(page, `tr[data-runner-id="${RUNNER_IDS[0]}"] .price .frac`), '7/2');
  assert.equal(await text(page, `tr[data-runner-id="${RUNNER_IDS[0]}"] .price .src`), 'exchange');
  await row(2).locator('.price[data-decimal="8"]').waitFor({ timeout: 15_000 });
  assert.equal(await row(1).locator('.fav').isVisible(), true);
  assert.equal(await row(0).locator('.fav').isVisible(), false);
  await storeOdds(5.0, RUNNER_IDS[0], 'exchange');
  await row(0).locator('.price[data-decimal="5"]').waitFor({ timeout: 15_000 });
  assert.equal(await row(0).getAttribute('data-move'), 'out');
  await storeOdds(3.0, RUNNER_IDS[2]);
  await row(2).locator('.price[data-decimal="3"]').waitFor({ timeout: 15_000 });
  assert.equal(await row(2).getAttribute('data-move'), 'in');
  const shown = row(2).locator('.price');
  assert.deepEqual([await shown.locator('.frac').textContent(), await shown.locator('.dec').textContent()], ['2/1', '3.00']);
  await page.screenshot({ path: join(ARTIFACTS, 'odds-board-open.png') });

  // The server restarts: the board says it is reconnecting, then resumes from its cursor with what it missed.
  const missed = await restartServer(2);
  await page.locator('#connection').getByText(`resumed after update ${missed[0] - 1}`).waitFor({ timeout: 20_000 });
  await row(1).locator('.price[data-decimal="6"]').waitFor({ timeout: 15_000 }); // the second price stored while down
  await subscribed(2);

  // Off: the status says so, "Live" is gone, and the next race taking prices is offered.
  await setStatus(RACE_ID, 'OFF');
  await page.locator('#race-status').getByText('Off').waitFor({ timeout: 15_000 });
  await page.locator('#notice .next-race').waitFor({ timeout: 15_000 });
  assert.equal(await page.locator('#notice .next-race').getAttribute('href'), `/?race=${nextId}`);
  assert.match(await text(page, '#connection'), /^Connected/); // no longer "Live": the race takes no prices
  await page.screenshot({ path: join(ARTIFACTS, 'odds-board-off.png') });

  // Resulted: the placings, in finishing order.
  await setStatus(RACE_ID, 'FINISHED');
  await setStatus(RACE_ID, 'RESULTED', [RUNNER_IDS[2], RUNNER_IDS[0], RUNNER_IDS[1]]);
  await page.locator('#race-status').getByText('Resulted').waitFor({ timeout: 15_000 });
  await page.locator('#runners tr:first-child .number').getByText('1st').waitFor();
  assert.equal(await text(page, '#notice .notice-text'), 'Result: 1st Horse 1-3, 2nd Horse 1-1, 3rd Horse 1-2.');
  assert.equal(await page.locator('#runners tr:first-child').getAttribute('data-runner-id'), RUNNER_IDS[2]);
  assert.equal(await text(page, '#runners tr:nth-child(2) .number'), '2nd');
  await page.screenshot({ path: join(ARTIFACTS, 'odds-board-resulted.png') });
  await page.close();

  // An unknown race says so, and the picker is still there to choose another.
  const unknown = await open('/?race=987654');
  await unknown.page.setViewportSize({ width: 1000, height: 600 });
  await unknown.page.locator('#race').getByText('Race not found').waitFor({ timeout: 15_000 });
  assert.match(await text(unknown.page, '#notice'), /no race with id “987654”/);
  await unknown.page.locator('.race-chip').first().waitFor();
  await unknown.page.screenshot({ path: join(ARTIFACTS, 'odds-board-unknown.png') });
  await unknown.page.close();

  // A 390 px phone: the open race fits without sideways scrolling.
  const phone = await open(`/?race=${nextId}`);
  await phone.page.setViewportSize({ width: 390, height: 844 });
  await phone.page.locator('#race-status').getByText('Betting open').waitFor({ timeout: 15_000 });
  await phone.page.locator('#notice').getByText('No prices yet').waitFor();
  await subscribed(2);
  const prices = [3.25, 5.5, 7.0, 11.0, 2.1, 26.0];
  for (const [n, runner] of next.runners.entries()) await storeOdds(prices[n], runner.id, 'bet365', nextId);
  await phone.page.locator(`tr[data-runner-id="${next.runners[5].id}"] .price[data-decimal="26"]`).waitFor({ timeout: 15_000 });
  assert.equal(await phone.page.locator('#notice').isHidden(), true);
  assert.equal(await phone.page.locator(`tr[data-runner-id="${next.runners[4].id}"] .fav`).isVisible(), true);
  assert.ok(await phone.page.evaluate(() => document.documentElement.scrollWidth <= 390), 'the board overflows 390 px');
  await phone.page.screenshot({ path: join(ARTIFACTS, 'odds-board-phone.png'), fullPage: true });
  await phone.page.close();

  assert.deepEqual([...problems, ...unknown.problems, ...phone.problems], []);
  assert.deepEqual(offsite, []);
});
