// Subscriptions for clients without WebSocket: graphql-sse, and Apollo Client's multipart HTTP protocol.
import { createHmac } from 'node:crypto';
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { ApolloClient, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { createClient } from 'graphql-sse';

import { GRAPHQL_HTTP, ODDS, RACE_ID, Inbox, storeOdds, subscribed } from './support.mjs';

async function firstUpdateArrives(subscribe) {
  const updates = new Inbox();
  const stop = subscribe({ raceIds: [RACE_ID] }, (update) => updates.push(update));
  try {
    await subscribed(1);
    const stored = await storeOdds(6.0);
    const update = await updates.next();
    assert.equal(update.seq, stored.seq);
    assert.equal(update.prices[0].fractional, '5/1');
    const next = await storeOdds(11.0);
    assert.equal((await updates.next()).seq, next.seq);
  } finally {
    stop();
  }
  await subscribed(0);
}

test('graphql-sse receives oddsUpdated over server-sent events', async () => {
  const client = createClient({ url: GRAPHQL_HTTP });
  await firstUpdateArrives((variables, push) => client.subscribe({ query: ODDS, variables }, {
    next: (result) => push(result.data.oddsUpdated),
    error: (error) => push(Promise.reject(error)),
    complete: () => {},
  }));
  client.dispose();
});

test("Apollo Client's HttpLink receives oddsUpdated over multipart HTTP", async () => {
  const client = new ApolloClient({ link: new HttpLink({ uri: GRAPHQL_HTTP }), cache: new InMemoryCache() });
  await firstUpdateArrives((variables, push) => {
    const subscription = client.subscribe({ query: gql(ODDS), variables, fetchPolicy: 'no-cache' }).subscribe({
      next: (result) => push(result.error ? Promise.reject(result.error) : result.data.oddsUpdated),
      error: (error) => push(Promise.reject(error)),
    });
    return () => subscription.unsubscribe();
  });
  client.stop();
});

// A token that expires in `seconds`, signed as the server's tests sign theirs (HS256).
function expiringToken(subject, seconds) {
  const part = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const input = `${part({ alg: 'HS256', typ: 'JWT' })}.${part({ sub: subject, iat: now, exp: now + seconds })}`;
  const signature = createHmac('sha256', process.env.RACEWIRE_TEST_SECRET).update(input).digest('base64url');
  return `${input}.${signature}`;
}

const NOTIFICATIONS = 'subscription { notifications { seq } }';

function assertExpired(errors) {
  assert.equal(errors.length, 1);
  assert.equal(errors[0].extensions.code, 'UNAUTHENTICATED');
  assert.match(errors[0].message, /token expired/);
}

test('graphql-sse sees UNAUTHENTICATED, then the end, when its token expires', async () => {
  const client = createClient({
    url: GRAPHQL_HTTP,
    headers: { authorization: `Bearer ${expiringToken('node-sse-expiry', 3)}` },
    retryAttempts: 0,
  });
  const errors = await new Promise((resolve, reject) => {
    const seen = [];
    client.subscribe({ query: NOTIFICATIONS }, {
      next: (result) => seen.push(...(result.errors ?? [])),
      error: reject,
      complete: () => resolve(seen),
    });
  });
  assertExpired(errors);
  client.dispose();
});

test("Apollo Client's HttpLink sees UNAUTHENTICATED, then the end, when its token expires", async () => {
  const link = new HttpLink({ uri: GRAPHQL_HTTP, headers: { authorization: `Bearer ${expiringToken('node-apollo-expiry', 3)}` } });
  const client = new ApolloClient({ link, cache: new InMemoryCache() });
  const errors = await new Promise((resolve, reject) => {
    const seen = [];
    client.subscribe({ query: gql(NOTIFICATIONS), fetchPolicy: 'no-cache' }).subscribe({
      next: (result) => seen.push(...(result.error?.errors ?? [])),
      error: reject,
      complete: () => resolve(seen),
    });
  });
  assertExpired(errors);
  client.stop();
});
