// The live odds board at /: a race picker, one race's card with its best prices ticking as oddsUpdated
// arrives, and its status (urql + graphql-ws). `/?race=<id>` picks the race.
import { Client, fetchExchange, subscriptionExchange } from '@urql/core';
import { createClient } from 'graphql-ws';

const endpoint = new URL('/graphql', window.location.href).href;
const connection = { state: 'connecting', opened: false, resumedAfter: null };
const ws = createClient({
  url: endpoint.replace(/^http/, 'ws'),
  retryAttempts: 0, // each subscription resubscribes itself from its last cursor (see follow)
  on: {
    connected: () => {
      connection.resumedAfter = board.lastSeq;
      setConnection(connection.opened ? 'resumed' : 'live');
      connection.opened = true;
    },
    closed: () => setConnection('reconnecting'),
  },
});
const client = new Client({
  url: endpoint,
  exchanges: [fetchExchange, subscriptionExchange({
    forwardSubscription(request) {
      const input = { ...request, query: request.query || '' };
      return { subscribe: (sink) => ({ unsubscribe: ws.subscribe(input, sink) }) };
    },
  })],
});

const TRADING = new Set(['SCHEDULED', 'BETTING_OPEN', 'SUSPENDED']);
const STATUS_TEXT = {
  SCHEDULED: 'Scheduled', BETTING_OPEN: 'Betting open', SUSPENDED: 'Suspended', OFF: 'Off',
  FINISHED: 'Finished', RESULTED: 'Resulted', ABANDONED: 'Abandoned',
};
const RACE = `query Race($id: ID!) {
  race(id: $id) {
    id number name postTime distanceMeters status resultRunnerIds
    meeting { id venue date going }
    runners { id number horse jockey trainer scratched }
  }
}`;
const MEETINGS = `query Meetings($date: Date!) {
  meetings(date: $date) { id venue date going races { id number name postTime status } }
}`;
const OPEN = `query Open { races(filter: { status: [BETTING_OPEN, SUSPENDED] }, first: 5) {
  edges { node { id name postTime status meeting { id venue date going } } }
} }`;
const SCHEDULED = `query Soon { races(filter: { status: [SCHEDULED] }, first: 1) { edges { node { id } } } }`;
const ODDS = `subscription Board($ids: [ID!]!, $after: String) {
  oddsUpdated(raceIds: $ids, after: $after, snapshot: true) {
    seq cursor snapshot marketStale prices { runnerId source decimal fractional stale } scratchedRunnerIds
  }
}`;
const STATUS = `subscription Statuses($after: String) {
  raceStatus(after: $after) { raceId status resultRunnerIds cursor }
}`;

const $ = (selector) => document.querySelector(selector);
const board = {
  race: null, // the race on show, as the RACE query returned it, kept current by raceStatus
  meetings: [], // the picker's meetings (today's, and the race's own if on another day)
  quotes: new Map(), // runnerId -> Map(source -> {decimal, fractional, source})
  shown: new Map(), // runnerId -> the decimal on screen
  scratched: new Set(),
  lastSeq: null, // the race's last odds update seen: where a reconnection resumes from
};

async function main() {
  const asked = new URLSearchParams(window.location.search).get('race');
  const id = asked ?? (await firstOpenRace());
  const today = new Date().toISOString().slice(0, 10);
  if (!id) {
    await loadPicker(today);
    return notFound(null);
  }
  const { data, error } = await client.query(RACE, { id }).toPromise();
  const race = data?.race ?? null;
  board.race = race;
  await loadPicker(today, race?.meeting);
  if (!race) return notFound(id, error);
  for (const runner of race.runners) if (runner.scratched) board.scratched.add(runner.id);
  renderCard();
  renderStatus();
  follow(ODDS, { ids: [race.id] }, (update) => applyOdds(update.oddsUpdated));
  follow(STATUS, {}, (update) => applyStatus(update.raceStatus));
}

async function firstOpenRace() {
  for (const query of [OPEN, SCHEDULED]) {
    const { data } = await client.query(query, {}).toPromise();
    const first = data?.races.edges[0]?.node.id;
    if (first) return first;
  }
  return null;
}

// The picker: meetings as tabs, the chosen meeting's races as chips with their time and status.
async function loadPicker(today, own) {
  const { data } = await client.query(MEETINGS, { date: today }).toPromise();
  board.meetings = [...(data?.meetings ?? [])];
  if (own && !board.meetings.some((m) => m.id === own.id)) {
    const { data: day } = await client.query(MEETINGS, { date: own.date }).toPromise();
    const meeting = day?.meetings.find((m) => m.id === own.id);
    if (meeting) board.meetings.unshift({ ...meeting, antePost: own.date > today });
  }
  renderPicker(own?.id ?? board.meetings[0]?.id);
}

function renderPicker(meetingId) {
  const tabs = board.meetings.map((meeting) => {
    const tab = element('button', 'meeting', meeting.antePost ? `${meeting.venue} · ante-post` : meeting.venue);
    tab.type = 'button';
    tab.dataset.meetingId = meeting.id;
    tab.setAttribute('aria-pressed', String(meeting.id === meetingId));
    tab.addEventListener('click', () => renderPicker(meeting.id));
    return tab;
  });
  $('#meetings').replaceChildren(...tabs);
  const meeting = board.meetings.find((m) => m.id === meetingId);
  const chips = (meeting?.races ?? []).map((race) => {
    const chip = element('a', 'race-chip', '');
    chip.href = `/?race=${encodeURIComponent(race.id)}`;
    chip.dataset.raceId = race.id;
    chip.dataset.status = race.status;
    chip.title = `${race.name} · ${STATUS_TEXT[race.status]}`;
    chip.append(element('span', 'chip-time', clock(race.postTime)), element('span', 'chip-status', STATUS_TEXT[race.status]));
    if (race.id === board.race?.id) chip.setAttribute('aria-current', 'page');
    return chip;
  });
  $('#races').replaceChildren(...chips);
  $('#picker').hidden = board.meetings.length === 0;
}

function notFound(id, error) {
  $('#race').textContent = id === null ? 'No race to show yet' : 'Race not found';
  $('#race-when').textContent = '';
  $('#race-meta').textContent = '';
  $('#race-status').hidden = true;
  $('#card').hidden = true;
  const why = error?.graphQLErrors?.[0]?.message;
  notice('unknown', id === null
    ? 'There is no race on today\'s cards yet.'
    : `There is no race with id “${id}”${why ? ` (${why})` : ''}. Pick one of today's races above.`);
  setConnection('idle');
}

function renderCard() {
  const { race } = board;
  const when = race.meeting.date > new Date().toISOString().slice(0, 10)
    ? `${new Date(race.postTime).toLocaleDateString([], { day: 'numeric', month: 'short', year: 'numeric' })} ${clock(race.postTime)}`
    : clock(race.postTime);
  $('#race-when').textContent = `${when} · ${race.meeting.venue}`;
  $('#race').textContent = race.name;
  $('#race').dataset.raceId = race.id;
  document.title = `${clock(race.postTime)} ${race.meeting.venue} · Racewire`;
  const furlongs = Math.round(race.distanceMeters / 201.168);
  const miles = Math.floor(furlongs / 8);
  const distance = `${miles ? `${miles}m` : ''}${furlongs % 8 ? `${furlongs % 8}f` : ''}`;
  const running = race.runners.filter((r) => !r.scratched).length;
  $('#race-meta').textContent = [distance, race.meeting.going, `${running} runners`].filter(Boolean).join(' · ');
  const rows = race.runners.map((runner) => {
    const row = document.createElement('tr');
    row.dataset.runnerId = runner.id;
    row.innerHTML = `<td class="number"></td>
      <td class="runner"><span class="horse"></span><span class="fav" hidden>Fav</span><span class="nr" hidden>NR</span>
        <span class="jockey"></span></td>
      <td class="price" data-decimal=""><span class="frac">–</span><span class="dec"></span><span class="src"></span></td>
      <td class="move"><span class="arrow"></span><span class="move-text"></span></td>`;
    row.querySelector('.number').textContent = runner.number;
    row.querySelector('.horse').textContent = runner.horse;
    row.querySelector('.jockey').textContent = [runner.jockey, runner.trainer].filter(Boolean).join(' · ');
    return row;
  });
  $('#runners').replaceChildren(...rows);
  markScratched();
}

function follow(query, variables, next) {
  let cursor = null;
  let attempts = 0;
  const start = () => {
    let ended = false;
    const { unsubscribe } = client.subscription(query, { ...variables, after: cursor }).subscribe((result) => {
      if (result.error) {
        if (ended) return;
        ended = true;
        unsubscribe?.();
        attempts += 1;
        setConnection('reconnecting');
        setTimeout(start, Math.min(250 * 2 ** attempts, 5000)); // resumes from the cursor: nothing missed
        return;
      }
      attempts = 0;
      cursor = Object.values(result.data)[0].cursor;
      next(result.data);
    });
  };
  start();
}

function applyOdds(update) {
  if (update.snapshot) board.quotes.clear();
  for (const price of update.prices) {
    if (!board.quotes.has(price.runnerId)) board.quotes.set(price.runnerId, new Map());
    board.quotes.get(price.runnerId).set(price.source, price);
  }
  for (const runnerId of update.scratchedRunnerIds) {
    board.scratched.add(runnerId);
    board.quotes.delete(runnerId);
  }
  markScratched();
  for (const [runnerId, bySource] of board.quotes) show(runnerId, best(bySource));
  markFavourite();
  markStale();
  board.lastSeq = update.seq;
  $('#seq').textContent = `Last update: #${update.seq} of this race's odds stream.`;
  if (update.snapshot || $('#notice').dataset.kind === 'scheduled') renderStatus();
}

// The best live price; a runner priced only by stale sources shows its best stale one, greyed.
function best(bySource) {
  const quotes = [...bySource.values()];
  const live = quotes.filter((quote) => !quote.stale);
  return (live.length ? live : quotes).reduce((a, b) => (b.decimal > a.decimal ? b : a));
}

// Sources silent for too long: named under the card, their prices greyed, the favourite live only.
function markStale() {
  const stale = new Set();
  for (const bySource of board.quotes.values()) for (const quote of bySource.values()) if (quote.stale) stale.add(quote.source);
  const line = $('#stale');
  line.hidden = stale.size === 0;
  line.textContent = stale.size
    ? `Stale: ${[...stale].sort().join(', ')} ${stale.size === 1 ? 'has' : 'have'} gone quiet; ${stale.size === 1 ? 'its' : 'their'} prices are greyed and left out of the favourite.`
    : '';
}

function show(runnerId, price) {
  const row = document.querySelector(`tr[data-runner-id="${runnerId}"]`);
  if (!row) return;
  const before = board.shown.get(runnerId);
  const cell = row.querySelector('.price');
  cell.querySelector('.src').textContent = price.stale ? `${price.source} (stale)` : price.source;
  cell.classList.toggle('stale', Boolean(price.stale));
  if (before === price.decimal) return;
  board.shown.set(runnerId, price.decimal);
  cell.querySelector('.frac').textContent = price.fractional;
  cell.querySelector('.dec').textContent = price.decimal.toFixed(2);
  cell.dataset.decimal = String(price.decimal);
  cell.title = `${price.fractional} is the UK ladder's name for ${price.decimal}; best of ${board.quotes.get(runnerId).size} sources, from ${price.source}`;
  const move = before === undefined ? '' : price.decimal > before ? 'out' : 'in';
  row.dataset.move = move;
  row.querySelector('.arrow').textContent = move === 'out' ? '▲' : move === 'in' ? '▼' : '';
  row.querySelector('.move-text').textContent = move === 'out' ? 'drifting' : move === 'in' ? 'backed' : '';
  row.classList.remove('flash');
  void row.offsetWidth; // restart the highlight animation
  row.classList.add('flash');
}

function markFavourite() {
  const live = (runnerId) => [...(board.quotes.get(runnerId)?.values() ?? [])].some((quote) => !quote.stale);
  const running = [...board.shown].filter(([runnerId]) => !board.scratched.has(runnerId) && live(runnerId));
  const shortest = Math.min(...running.map(([, decimal]) => decimal));
  for (const row of document.querySelectorAll('#runners tr')) {
    const { runnerId } = row.dataset;
    const favourite = board.shown.get(runnerId) === shortest && !board.scratched.has(runnerId) && live(runnerId);
    row.classList.toggle('favourite', favourite);
    row.querySelector('.fav').hidden = !favourite;
  }
}

function markScratched() {
  for (const runnerId of board.scratched) {
    const row = document.querySelector(`tr[data-runner-id="${runnerId}"]`);
    if (!row) continue;
    row.classList.add('scratched');
    row.querySelector('.nr').hidden = false;
    row.querySelector('.frac').textContent = '–';
    row.querySelector('.dec').textContent = '';
    row.querySelector('.src').textContent = '';
    board.shown.delete(runnerId);
  }
}

function applyStatus(change) {
  for (const meeting of board.meetings) {
    const race = meeting.races.find((r) => r.id === change.raceId);
    if (race) race.status = change.status;
  }
  const chip = document.querySelector(`.race-chip[data-race-id="${change.raceId}"]`);
  if (chip) {
    chip.dataset.status = change.status;
    chip.querySelector('.chip-status').textContent = STATUS_TEXT[change.status];
  }
  if (change.raceId !== board.race?.id) return;
  board.race.status = change.status;
  if (change.resultRunnerIds) board.race.resultRunnerIds = change.resultRunnerIds;
  renderStatus();
}

async function renderStatus() {
  const { race } = board;
  const badge = $('#race-status');
  badge.hidden = false;
  badge.dataset.status = race.status;
  badge.textContent = STATUS_TEXT[race.status];
  $('#board').dataset.status = race.status;
  setConnection();
  renderResult();
  if (race.status === 'SUSPENDED') return notice('suspended', 'Betting is suspended: prices are paused until the market reopens.');
  if (race.status === 'SCHEDULED') return notice('scheduled', 'Betting has not opened yet: early prices show as they arrive.');
  if (TRADING.has(race.status)) {
    return notice(board.quotes.size ? null : 'scheduled', 'No prices yet: they show here as the books open.');
  }
  const horse = (id) => race.runners.find((r) => r.id === id)?.horse ?? `runner ${id}`;
  const placed = (race.resultRunnerIds ?? []).slice(0, 3).map((id, n) => `${ordinal(n + 1)} ${horse(id)}`).join(', ');
  const said = {
    OFF: `They're off: betting on the ${clock(race.postTime)} at ${race.meeting.venue} has closed.`,
    FINISHED: 'The race is over: waiting for the result.',
    RESULTED: `Result: ${placed}.`,
    ABANDONED: 'This race has been abandoned: bets on it are void.',
  }[race.status];
  notice('closed', said);
  await offerNext();
}

function renderResult() {
  const placings = board.race.resultRunnerIds ?? [];
  const rows = [...document.querySelectorAll('#runners tr')];
  for (const row of rows) {
    const place = placings.indexOf(row.dataset.runnerId);
    row.dataset.place = place >= 0 ? String(place + 1) : '';
    row.querySelector('.number').textContent = place >= 0
      ? ordinal(place + 1)
      : board.race.runners.find((r) => r.id === row.dataset.runnerId).number;
  }
  if (placings.length) {
    const at = (row) => (row.dataset.place ? Number(row.dataset.place) : 999);
    $('#runners').replaceChildren(...rows.sort((a, b) => at(a) - at(b)));
  }
}

async function offerNext() {
  const { data } = await client.query(OPEN, {}, { requestPolicy: 'network-only' }).toPromise();
  const next = data?.races.edges.map((edge) => edge.node).find((race) => race.id !== board.race.id);
  const box = $('#notice');
  if (!next || TRADING.has(board.race.status)) return;
  const link = element('a', 'next-race', `Next to take prices: ${clock(next.postTime)} ${next.meeting.venue} · ${next.name} →`);
  link.href = `/?race=${encodeURIComponent(next.id)}`;
  box.querySelector('.next-race')?.remove();
  box.append(link);
}

function notice(kind, text) {
  const box = $('#notice');
  box.hidden = kind === null;
  box.dataset.kind = kind ?? '';
  box.replaceChildren(element('span', 'notice-text', text ?? ''));
}

// The connection as the reader should read it: "Live" only for a race still taking prices.
function setConnection(state) {
  if (state) connection.state = state;
  const now = board.race === null || TRADING.has(board.race.status) ? 'Live' : 'Connected';
  const text = {
    connecting: 'Connecting…',
    live: now,
    resumed: `${now} · resumed after update ${connection.resumedAfter ?? 0}`,
    reconnecting: 'Reconnecting…',
    idle: '',
  }[connection.state];
  const pill = $('#connection');
  pill.dataset.state = connection.state;
  pill.textContent = text;
  pill.hidden = text === '';
}

function clock(iso) {
  return new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
}

function ordinal(n) {
  const teen = n % 100 >= 11 && n % 100 <= 13;
  return `${n}${teen ? 'th' : { 1: 'st', 2: 'nd', 3: 'rd' }[n % 10] ?? 'th'}`;
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  node.className = className;
  node.textContent = text;
  return node;
}

main();
