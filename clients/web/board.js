// The live odds board at /: one race's runners, prices ticking as oddsUpdated arrives (urql + graphql-ws).
import { Client, fetchExchange, subscriptionExchange } from '@urql/core';
import { createClient } from 'graphql-ws';

const endpoint = new URL('/graphql', window.location.href).href;
const ws = createClient({ url: endpoint.replace(/^http/, 'ws'), retryAttempts: 0 });
const client = new Client({
  url: endpoint,
  exchanges: [fetchExchange, subscriptionExchange({
    forwardSubscription(request) {
      const input = { ...request, query: request.query || '' };
      return { subscribe: (sink) => ({ unsubscribe: ws.subscribe(input, sink) }) };
    },
  })],
});

const OPEN_RACE = `query { races(filter: { status: [BETTING_OPEN, SUSPENDED, SCHEDULED] }, first: 1) { edges { node { id } } } }`;
const RACE = `query Race($id: ID!) {
  race(id: $id) { id name postTime status meeting { venue } runners { id number horse jockey scratched } }
}`;
const ODDS = `subscription Board($ids: [ID!]!, $after: String) {
  oddsUpdated(raceIds: $ids, after: $after, snapshot: true) {
    seq cursor snapshot prices { runnerId source decimal fractional } scratchedRunnerIds
  }
}`;

const $ = (selector) => document.querySelector(selector);
const quotes = new Map(); // runnerId -> Map(source -> {decimal, fractional})
const shown = new Map(); // runnerId -> the decimal on screen
let lastCursor = null;

async function main() {
  const id = new URLSearchParams(window.location.search).get('race') ?? (await firstOpenRace());
  if (!id) return status('No race to show yet.');
  const { data, error } = await client.query(RACE, { id }).toPromise();
  if (error) return status(`Could not load the race: ${error.message}`);
  renderCard(data.race);
  follow(id);
}

async function firstOpenRace() {
  const { data } = await client.query(OPEN_RACE, {}).toPromise();
  return data?.races.edges[0]?.node.id;
}

function renderCard(race) {
  $('#race').textContent = `${race.meeting.venue} ${new Date(race.postTime).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })} · ${race.name}`;
  $('#race').dataset.raceId = race.id;
  const rows = race.runners.map((runner) => {
    const row = document.createElement('tr');
    row.dataset.runnerId = runner.id;
    row.className = runner.scratched ? 'scratched' : '';
    row.innerHTML = `<td class="number"></td><td class="horse"></td><td class="jockey"></td>
      <td class="price" data-decimal="">–</td><td class="move"></td>`;
    row.querySelector('.number').textContent = runner.number;
    row.querySelector('.horse').textContent = runner.horse;
    row.querySelector('.jockey').textContent = runner.jockey ?? '';
    return row;
  });
  $('#runners').replaceChildren(...rows);
}

function follow(id) {
  status('Live');
  const { unsubscribe } = client.subscription(ODDS, { ids: [id], after: lastCursor }).subscribe((result) => {
    if (result.error) {
      unsubscribe?.();
      status('Reconnecting…');
      setTimeout(() => follow(id), 1000); // resumes from lastCursor: nothing missed
      return;
    }
    const update = result.data.oddsUpdated;
    lastCursor = update.cursor;
    apply(update);
  });
}

function apply(update) {
  if (update.snapshot) quotes.clear();
  for (const price of update.prices) {
    if (!quotes.has(price.runnerId)) quotes.set(price.runnerId, new Map());
    quotes.get(price.runnerId).set(price.source, price);
  }
  for (const runnerId of update.scratchedRunnerIds) {
    document.querySelector(`tr[data-runner-id="${runnerId}"]`)?.classList.add('scratched');
  }
  for (const [runnerId, bySource] of quotes) show(runnerId, best(bySource));
  $('#seq').textContent = `update ${update.seq}`;
}

function best(bySource) {
  return [...bySource.values()].reduce((a, b) => (b.decimal > a.decimal ? b : a));
}

function show(runnerId, price) {
  const row = document.querySelector(`tr[data-runner-id="${runnerId}"]`);
  if (!row) return;
  const before = shown.get(runnerId);
  if (before === price.decimal) return;
  shown.set(runnerId, price.decimal);
  const cell = row.querySelector('.price');
  cell.textContent = `${price.fractional} (${price.decimal.toFixed(2)})`;
  cell.dataset.decimal = String(price.decimal);
  const move = before === undefined ? '' : price.decimal > before ? 'out' : 'in';
  row.dataset.move = move;
  row.querySelector('.move').textContent = move === 'out' ? '▲ drifting' : move === 'in' ? '▼ backed' : '';
  row.classList.remove('flash');
  void row.offsetWidth; // restart the highlight animation
  row.classList.add('flash');
}

function status(text) {
  $('#status').textContent = text;
}

main();
