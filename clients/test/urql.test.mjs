// urql over graphql-ws: the race card, live odds, and a resume across a server restart.
import { test } from 'node:test';

import { Client, fetchExchange, gql, subscriptionExchange } from '@urql/core';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

import { GRAPHQL_HTTP, GRAPHQL_WS, ODDS, RACE_CARD, followsOddsAcrossARestart } from './support.mjs';

test('urql queries a race card, follows its odds and resumes after a restart', async () => {
  // retryAttempts 0: a dropped socket ends the subscription, and followOdds resubscribes from its cursor.
  const ws = createClient({ url: GRAPHQL_WS, webSocketImpl: WebSocket, retryAttempts: 0 });
  const client = new Client({
    url: GRAPHQL_HTTP,
    exchanges: [
      fetchExchange,
      subscriptionExchange({
        forwardSubscription(request) {
          const input = { ...request, query: request.query || '' };
          return { subscribe: (sink) => ({ unsubscribe: ws.subscribe(input, sink) }) };
        },
      }),
    ],
  });
  try {
    await followsOddsAcrossARestart({
      async raceCard(raceId) {
        const result = await client.query(gql(RACE_CARD), { raceId }, { requestPolicy: 'network-only' }).toPromise();
        if (result.error) throw result.error;
        return result.data.race;
      },
      subscribe(variables, sink) {
        const { unsubscribe } = client.subscription(gql(ODDS), variables).subscribe((result) => {
          if (result.error) sink.end();
          else if (result.data) sink.next(result.data.oddsUpdated);
        });
        return unsubscribe;
      },
    });
  } finally {
    await ws.dispose();
  }
});
