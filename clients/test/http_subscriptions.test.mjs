// Subscriptions for clients without WebSocket: graphql-sse, and Apollo Client's multipart HTTP protocol.
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
