// What every client test shares: the live server the pytest side started, and its controls.
import assert from 'node:assert/strict';

export const HTTP = required('RACEWIRE_HTTP');
export const GRAPHQL_HTTP = `${HTTP}/graphql`;
export const GRAPHQL_WS = `${HTTP.replace(/^http/, 'ws')}/graphql`;
export const TOKEN = required('RACEWIRE_TOKEN');
export const RACE_ID = required('RACEWIRE_RACE_ID');
export const RUNNER_IDS = required('RACEWIRE_RUNNER_IDS').split(',');
const CONTROL = process.env.RACEWIRE_CONTROL;

export const RACE_CARD = `query RaceCard($raceId: ID!) {
  race(id: $raceId) { id name status runners { id number horse } }
}`;
export const ODDS = `subscription OddsUpdated($raceIds: [ID!]!, $after: String) {
  oddsUpdated(raceIds: $raceIds, after: $after) { raceId seq cursor prices { runnerId decimal fractional } }
}`;
const STORE = `mutation StoreOdds($input: StoreOddsInput!) { storeOdds(input: $input) { seq cursor } }`;

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: these tests are run by tests/clients/ in pytest`);
  return value;
}

let observed = 0;

/** Stores one price for the race's first runner over plain HTTP, as a price feed does. */
export async function storeOdds(decimal, runnerId = RUNNER_IDS[0], source = 'node-feed', raceId = RACE_ID) {
  observed = Math.max(Date.now(), observed + 1); // newer than any earlier quote, so never stale
  const response = await fetch(GRAPHQL_HTTP, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify({
      query: STORE,
      variables: { input: { raceId, source, observedAt: new Date(observed).toISOString(),
                            prices: [{ runnerId, decimal }] } },
    }),
  });
  const body = await response.json();
  assert.equal(body.errors, undefined, JSON.stringify(body.errors));
  return body.data.storeOdds;
}

/** A races:write call (setRaceStatus, loadRaceCards, scratchRunner), as a steward's tool makes it. */
export async function steward(query, variables) {
  const response = await fetch(GRAPHQL_HTTP, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${required('RACEWIRE_RACES_TOKEN')}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  assert.equal(body.errors, undefined, JSON.stringify(body.errors));
  return body.data;
}

/** Resolves once the server counts `count` active subscriptions, so no update is sent before they listen. */
export async function subscribed(count, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ready = await fetch(`${HTTP}/ready`).then((r) => r.json()).catch(() => null);
    if (ready && ready.subscriptions >= count) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`the server never counted ${count} subscriptions`);
}

/**
 * Asks the pytest side to stop the server, store `missed` prices straight into its database while it is
 * down, and start it again on the same port. Resolves, once it is up, with the seqs stored meanwhile.
 */
export async function restartServer(missed) {
  assert.ok(CONTROL, 'RACEWIRE_CONTROL is not set');
  const response = await fetch(`${CONTROL}/restart?missed=${missed}`, { method: 'POST' });
  const body = await response.text();
  assert.equal(response.status, 200, body);
  return JSON.parse(body).seqs;
}

/** A queue of values pushed by a subscription, awaited one at a time with a timeout. */
export class Inbox {
  #items = [];
  #waiters = [];

  push(item) {
    const waiter = this.#waiters.shift();
    if (waiter) waiter(item);
    else this.#items.push(item);
  }

  next(timeoutMs = 10_000) {
    if (this.#items.length) return Promise.resolve(this.#items.shift());
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no update within the timeout')), timeoutMs);
      this.#waiters.push((item) => { clearTimeout(timer); resolve(item); });
    });
  }
}

/**
 * Follows oddsUpdated across disconnects the way an application does: keeps the last cursor and,
 * when the stream ends, subscribes again with `after: lastCursor` (retrying while the server is away),
 * so the server replays exactly what was missed. `subscribe(variables, {next, end})` returns a stop function.
 */
export function followOdds(subscribe, raceIds) {
  const updates = new Inbox();
  let lastCursor = null;
  let stop = () => {};
  let stopped = false;
  let attempts = 0;
  const start = () => {
    if (stopped) return;
    let ended = false; // a client may report one ending twice (error, then complete)
    stop = subscribe({ raceIds, after: lastCursor }, {
      next(update) {
        attempts = 0;
        lastCursor = update.cursor;
        updates.push(update);
      },
      end() {
        if (ended) return;
        ended = true;
        attempts += 1;
        setTimeout(start, Math.min(50 * 2 ** attempts, 1000));
      },
    });
  };
  start();
  return {
    updates,
    get lastCursor() { return lastCursor; },
    close() { stopped = true; stop(); },
  };
}

/**
 * The journey every WebSocket client must manage: read the race card, follow its odds, see a stored
 * price arrive, survive a server restart and resume from the last cursor with exactly what was missed.
 * `client.raceCard(raceId)` resolves with the race; `client.subscribe` is as for followOdds.
 */
export async function followsOddsAcrossARestart(client) {
  const race = await client.raceCard(RACE_ID);
  assert.equal(race.id, RACE_ID);
  assert.deepEqual(race.runners.map((r) => r.id), RUNNER_IDS);

  const odds = followOdds(client.subscribe, [RACE_ID]);
  try {
    await subscribed(1);
    const stored = await storeOdds(2.5);
    const first = await odds.updates.next();
    assert.equal(first.seq, stored.seq);
    const prices = first.prices.map(({ runnerId, decimal, fractional }) => ({ runnerId, decimal, fractional }));
    assert.deepEqual(prices, [{ runnerId: RUNNER_IDS[0], decimal: 2.5, fractional: '6/4' }]);

    const missed = await restartServer(2);
    const replayed = [await odds.updates.next(20_000), await odds.updates.next()];
    assert.deepEqual(replayed.map((u) => u.seq), missed);

    await subscribed(1);
    const live = await storeOdds(4.33);
    const after = await odds.updates.next();
    assert.equal(after.seq, live.seq);
    assert.equal(after.seq, missed.at(-1) + 1, 'no gap and no duplicate after the resume');
    assert.equal(after.prices[0].fractional, '10/3');
  } finally {
    odds.close();
  }
}

