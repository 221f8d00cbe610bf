// Racewire composed into a partner's graph: Apollo's composition and gateway join a live Racewire
// (its subgraph SDL read from `_service { sdl }`) with a tipster subgraph that extends Runner with tips.
// The partner's token goes to Racewire through the gateway; the same token opens Racewire's own
// live endpoints (graphql-ws and SSE), as a federated deployment's subscriptions do.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';

import { composeServices } from '@apollo/composition';
import { ApolloGateway, RemoteGraphQLDataSource } from '@apollo/gateway';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { parse } from 'graphql';
import { createHandler } from 'graphql-http/lib/use/http';
import { createClient as createSseClient } from 'graphql-sse';
import { createClient as createWsClient } from 'graphql-ws';
import WebSocket from 'ws';

import { GRAPHQL_HTTP, GRAPHQL_WS, RACE_ID, RUNNER_IDS, storeOdds } from './support.mjs';

const PARTNER_TOKEN = process.env.RACEWIRE_PARTNER_TOKEN;
const SUBGRAPH_FILE = new URL('../../graphql/subgraph.graphql', import.meta.url);

// The tipster's own service: its tips are keyed by Racewire's runner ids.
const TIPSTER_SDL = `
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.4", import: ["@key"])

  type Query {
    "The tipster's strongest tips, best first."
    topTips(limit: Int! = 2): [Tip!]!
  }

  "A tipster's view of one runner."
  type Tip {
    tipster: String!
    confidence: Int!
    runner: Runner!
  }

  type Runner @key(fields: "id") {
    id: ID!
    tips: [Tip!]!
  }
`;

const TIPS = RUNNER_IDS.map((id, index) => ({ runnerId: id, tipster: 'Newsboy', confidence: 90 - index * 10 }));
const tipsFor = (runnerId) => TIPS.filter((tip) => tip.runnerId === runnerId);
const resolvers = {
  Query: { topTips: (_, { limit }) => TIPS.slice(0, limit) },
  Tip: { runner: (tip) => ({ __typename: 'Runner', id: tip.runnerId }) },
  Runner: {
    __resolveReference: (reference) => ({ id: reference.id }),
    tips: (runner) => tipsFor(runner.id),
  },
};

let tipster;
let tipsterUrl;

before(async () => {
  const schema = buildSubgraphSchema([{ typeDefs: parse(TIPSTER_SDL), resolvers }]);
  tipster = http.createServer(createHandler({ schema }));
  await new Promise((resolve) => tipster.listen(0, '127.0.0.1', resolve));
  tipsterUrl = `http://127.0.0.1:${tipster.address().port}/graphql`;
});

after(() => new Promise((resolve) => tipster.close(resolve)));

async function post(query, token, variables) {
  const headers = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(GRAPHQL_HTTP, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
  return response.json();
}

/** Composes both subgraphs; a composition error fails the test with its messages. */
async function supergraph() {
  const served = await post('{ _service { sdl } }', PARTNER_TOKEN);
  assert.equal(served.errors, undefined, JSON.stringify(served.errors));
  const sdl = served.data._service.sdl;
  assert.equal(`${sdl}\n`, readFileSync(SUBGRAPH_FILE, 'utf8'), 'the live SDL is the published graphql/subgraph.graphql');
  const composed = composeServices([
    { name: 'racewire', url: GRAPHQL_HTTP, typeDefs: parse(sdl) },
    { name: 'tipster', url: tipsterUrl, typeDefs: parse(TIPSTER_SDL) },
  ]);
  assert.equal(composed.errors, undefined, (composed.errors || []).map((e) => e.message).join('\n'));
  return composed.supergraphSdl;
}

/** The gateway, forwarding the caller's token to every subgraph, as a partner's router is set to. */
async function gateway(supergraphSdl) {
  const gw = new ApolloGateway({
    supergraphSdl,
    buildService: ({ url }) => new RemoteGraphQLDataSource({
      url,
      willSendRequest({ request, context }) {
        if (context.token) request.http.headers.set('authorization', `Bearer ${context.token}`);
      },
    }),
  });
  const { executor } = await gw.load();
  // The gateway's results are null-prototype objects: read back as plain JSON, as a client would.
  const execute = async (query, variables, token) => JSON.parse(JSON.stringify(await executor({
    request: { query, variables },
    document: parse(query),
    queryHash: createHash('sha256').update(query).digest('hex'),
    context: { token },
    metrics: {},
    logger: console,
  })));
  return { execute, stop: () => gw.stop() };
}

const JOIN = `query CardWithTips($raceId: ID!) {
  race(id: $raceId) {
    name
    runners { id horse bestPrice { source decimal fractional } tips { tipster confidence } }
  }
}`;

const TOP_TIPS = `query TopTips {
  topTips(limit: 2) { tipster confidence runner { id horse bestPrice { decimal } } }
}`;

test('the gateway joins a race card, its best prices and a partner\'s tips', async () => {
  assert.ok(PARTNER_TOKEN, 'RACEWIRE_PARTNER_TOKEN is not set');
  await storeOdds(3.5, RUNNER_IDS[0], 'bet365');
  await storeOdds(4.33, RUNNER_IDS[1], 'bet365');
  const { execute, stop } = await gateway(await supergraph());
  try {
    const card = await execute(JOIN, { raceId: RACE_ID }, PARTNER_TOKEN);
    assert.equal(card.errors, undefined, JSON.stringify(card.errors));
    const [first, second, third] = card.data.race.runners;
    assert.deepEqual(first.bestPrice, { source: 'bet365', decimal: 3.5, fractional: '5/2' });
    assert.deepEqual(first.tips, [{ tipster: 'Newsboy', confidence: 90 }]);
    assert.deepEqual(second.bestPrice, { source: 'bet365', decimal: 4.33, fractional: '10/3' });
    assert.deepEqual(second.tips, [{ tipster: 'Newsboy', confidence: 80 }]);
    assert.equal(third.bestPrice, null);
    assert.deepEqual(card.data.race.runners.map((r) => r.id), RUNNER_IDS);

    // The other way round: the tipster names runners, Racewire's _entities fills them in.
    const top = await execute(TOP_TIPS, {}, PARTNER_TOKEN);
    assert.equal(top.errors, undefined, JSON.stringify(top.errors));
    assert.deepEqual(top.data.topTips.map((t) => [t.runner.id, t.runner.bestPrice?.decimal]),
      [[RUNNER_IDS[0], 3.5], [RUNNER_IDS[1], 4.33]]);
    assert.match(top.data.topTips[0].runner.horse, /^Horse /);

    // Without the partner's token Racewire answers nothing through the gateway either.
    const anonymous = await execute(JOIN, { raceId: RACE_ID }, undefined);
    assert.ok(anonymous.errors?.length, 'an anonymous join must fail');
    assert.ok(anonymous.errors.some((e) => e.extensions?.code === 'UNAUTHENTICATED'), JSON.stringify(anonymous.errors));
  } finally {
    await stop();
  }
});

const ODDS = `subscription Odds($raceIds: [ID!]!) { oddsUpdated(raceIds: $raceIds, snapshot: true) { raceId seq snapshot } }`;

/** The first event of a subscription, or the error that ended it. */
function firstEvent(subscribe) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no event within 10 s')), 10_000);
    const dispose = subscribe({
      next(result) { clearTimeout(timer); dispose(); resolve(result); },
      error(error) { clearTimeout(timer); reject(error); },
      complete() {},
    });
  });
}

test('the same partner token opens Racewire\'s own graphql-ws and SSE endpoints for live data', async () => {
  const ws = createWsClient({
    url: GRAPHQL_WS, webSocketImpl: WebSocket, retryAttempts: 0, lazy: true,
    connectionParams: { Authorization: `Bearer ${PARTNER_TOKEN}` },
  });
  const sse = createSseClient({ url: GRAPHQL_HTTP, headers: { authorization: `Bearer ${PARTNER_TOKEN}` }, retryAttempts: 0 });
  try {
    const overWs = await firstEvent((sink) => ws.subscribe({ query: ODDS, variables: { raceIds: [RACE_ID] } }, sink));
    const overSse = await firstEvent((sink) => sse.subscribe({ query: ODDS, variables: { raceIds: [RACE_ID] } }, sink));
    for (const result of [overWs, overSse]) {
      assert.equal(result.errors, undefined, JSON.stringify(result.errors));
      assert.equal(result.data.oddsUpdated.raceId, RACE_ID);
      assert.equal(result.data.oddsUpdated.snapshot, true);
    }
  } finally {
    await ws.dispose();
    sse.dispose();
  }

  // Without it, this server (RACEWIRE_REQUIRE_AUTH=true) refuses both.
  const anonymousWs = createWsClient({ url: GRAPHQL_WS, webSocketImpl: WebSocket, retryAttempts: 0, lazy: true });
  const wsRefusal = await firstEvent((sink) => anonymousWs.subscribe({ query: ODDS, variables: { raceIds: [RACE_ID] } }, sink))
    .then(() => null, (error) => error);
  await anonymousWs.dispose();
  assert.ok(wsRefusal, 'an anonymous WebSocket subscription must be refused');
  const anonymousSse = createSseClient({ url: GRAPHQL_HTTP, retryAttempts: 0 });
  const sseResult = await firstEvent((sink) => anonymousSse.subscribe({ query: ODDS, variables: { raceIds: [RACE_ID] } }, sink))
    .then((result) => result, (error) => ({ thrown: error }));
  anonymousSse.dispose();
  const refused = sseResult.thrown ? String(sseResult.thrown) : JSON.stringify(sseResult.errors);
  assert.match(refused, /UNAUTHENTICATED|token/i, `an anonymous SSE subscription must be refused: ${refused}`);
});
