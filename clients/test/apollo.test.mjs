// Apollo Client over graphql-ws: the race card, live odds, and a resume across a server restart.
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { ApolloClient, ApolloLink, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { createPersistedQueryLink } from '@apollo/client/link/persisted-queries';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { getMainDefinition } from '@apollo/client/utilities';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

import { GRAPHQL_HTTP, GRAPHQL_WS, ODDS, RACE_CARD, RACE_ID, followsOddsAcrossARestart } from './support.mjs';

// Node 20 has no global WebSocket; Apollo's GraphQLWsLink looks for one when it classifies errors.
globalThis.WebSocket ??= WebSocket;

function apollo() {
  // retryAttempts 0: a dropped socket ends the subscription, and followOdds resubscribes from its cursor.
  const ws = createClient({ url: GRAPHQL_WS, webSocketImpl: WebSocket, retryAttempts: 0 });
  const isSubscription = ({ query }) => {
    const definition = getMainDefinition(query);
    return definition.kind === 'OperationDefinition' && definition.operation === 'subscription';
  };
  const link = ApolloLink.split(isSubscription, new GraphQLWsLink(ws), new HttpLink({ uri: GRAPHQL_HTTP }));
  return { client: new ApolloClient({ link, cache: new InMemoryCache() }), ws };
}

test('Apollo Client queries a race card, follows its odds and resumes after a restart', async () => {
  const { client, ws } = apollo();
  try {
    await followsOddsAcrossARestart({
      async raceCard(raceId) {
        const { data } = await client.query({ query: gql(RACE_CARD), variables: { raceId }, fetchPolicy: 'network-only' });
        return data.race;
      },
      subscribe(variables, sink) {
        const subscription = client.subscribe({ query: gql(ODDS), variables, fetchPolicy: 'no-cache' }).subscribe({
          next: (result) => (result.error ? sink.end() : sink.next(result.data.oddsUpdated)),
          error: () => sink.end(),
          complete: () => sink.end(),
        });
        return () => subscription.unsubscribe();
      },
    });
  } finally {
    client.stop();
    await ws.dispose();
  }
});

test('Apollo persisted queries send a hash first, then only the hash', async () => {
  const sha256 = (text) => createHash('sha256').update(text).digest('hex');
  const probe = await fetch(GRAPHQL_HTTP, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ extensions: { persistedQuery: { version: 1, sha256Hash: sha256('{ __typename }') } } }),
  }).then((r) => r.text());
  assert.match(probe, /PERSISTED_QUERY_NOT_FOUND/, 'the server answers an unknown hash as Apollo expects');
  const bodies = [];
  const recordingFetch = (uri, options) => {
    bodies.push(JSON.parse(options.body));
    return fetch(uri, options);
  };
  const link = createPersistedQueryLink({ sha256 }).concat(new HttpLink({ uri: GRAPHQL_HTTP, fetch: recordingFetch }));
  const client = new ApolloClient({ link, cache: new InMemoryCache() });
  for (let i = 0; i < 2; i += 1) {
    const { data } = await client.query({ query: gql(RACE_CARD), variables: { raceId: RACE_ID }, fetchPolicy: 'network-only' });
    assert.equal(data.race.id, RACE_ID);
  }
  client.stop();
  // Unknown hash, then hash with the query to register it, then the hash alone.
  assert.deepEqual(bodies.map((b) => b.query === undefined), [true, false, true]);
});
