// The load client: N graphql-transport-ws subscribers, E storeOdds over HTTP, latency from
// sending each mutation to each subscriber receiving its update. Prints one JSON line.
// --deflate=1: every connection offers permessage-deflate as Chrome does.
// --protocol=socketio: the same against bench/socketio/server.mjs, speaking socket.io v5 over
// engine.io v4's WebSocket transport on the raw client (as socket.io-client does with
// transports: ["websocket"]): join the race's room, updates stored by POST /odds.
import { readFileSync } from "node:fs";

import { connect, wire } from "./wsclient.mjs";

const args = Object.fromEntries(process.argv.slice(2).map((a) => a.replace(/^--/, "").split("=")));
const connections = Number(args.connections ?? 1000);
const events = Number(args.events ?? 20);
const raceIds = args.races.split(",");
const runners = JSON.parse(args.runners); // raceId -> [runnerId, ...]
const wsUrl = args.ws;
const httpUrl = args.http;
const serverPids = String(args.pid).split(",").map(Number); // with workers: every process of the server
const token = args.token ?? "";
const deflate = args.deflate === "1";
const socketio = args.protocol === "socketio";
const extensions = new Map(); // negotiated Sec-WebSocket-Extensions -> connections
const query = `subscription($ids: [ID!]!) { oddsUpdated(raceIds: $ids) { raceId seq prices { runnerId decimal fractional } } }`;

const ticks = 100; // USER_HZ, the unit of /proc/<pid>/stat times on Linux
const sum = (values) => values.reduce((a, b) => a + b, 0);
const cpuSeconds = (pids) => sum(pids.map((pid) => {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) / ticks;
}));
const rssKib = (pids) => sum(pids.map((pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))[1])));

const sent = new Map(); // `${race}:${seq}` -> send time
const lastSeq = new Map(); // race -> the newest seq seen
const latencies = [];
let delivered = 0;
let waiting = null; // { race, key (null: any update of the race), remaining, resolve }

function onMessage(text) {
  if (socketio ? !text.startsWith('42["odds_update"') : text.charCodeAt(9) !== 110 && !text.includes('"next"')) return;
  const seq = /"seq":(\d+)/.exec(text);
  const race = /"raceId":"(\d+)"/.exec(text);
  if (!seq || !race) return;
  const key = `${race[1]}:${seq[1]}`;
  const at = sent.get(key);
  delivered += 1;
  if (at !== undefined) latencies.push(performance.now() - at);
  if (Number(seq[1]) > (lastSeq.get(race[1]) ?? 0)) lastSeq.set(race[1], Number(seq[1]));
  const mine = waiting && (waiting.key === key || (waiting.key === null && waiting.race === race[1]));
  if (mine && --waiting.remaining === 0) waiting.resolve();
}

async function openSocketio(index) {
  let acked;
  const ack = new Promise((resolve) => { acked = resolve; });
  // engine.io v4: the server opens with "0{sid,…}" and pings with "2" (answered "3"); socket.io v5:
  // "40" connects to the main namespace, answered "40{sid}"; "42[event, …]" is an event.
  const ws = await connect(`${wsUrl}?EIO=4&transport=websocket`, null, (text, socket) => {
    if (text === "2") socket.send("3");
    else if (text.startsWith("40")) acked();
    else if (text.startsWith("42")) onMessage(text);
    else if (text.startsWith("44")) throw new Error(`socket.io refused the connection: ${text}`);
  }, { deflate });
  const agreed = ws.extension?.header ?? "none";
  extensions.set(agreed, (extensions.get(agreed) ?? 0) + 1);
  ws.send("40");
  await Promise.race([ack, ws.closed.then(() => { throw new Error("closed before the namespace connect"); })]);
  ws.send(`42${JSON.stringify(["subscribe_race", raceIds[index % raceIds.length]])}`);
  return ws;
}

async function open(index) {
  if (socketio) return openSocketio(index);
  let acked;
  const ack = new Promise((resolve) => { acked = resolve; });
  const ws = await connect(wsUrl, "graphql-transport-ws", (text, socket) => {
    if (text.includes('"connection_ack"')) acked();
    else if (text.includes('"ping"')) socket.send('{"type":"pong"}');
    else onMessage(text);
  }, { deflate });
  const agreed = ws.extension?.header ?? "none";
  extensions.set(agreed, (extensions.get(agreed) ?? 0) + 1);
  ws.send(JSON.stringify({ type: "connection_init", payload: {} }));
  await Promise.race([ack, ws.closed.then(() => { throw new Error("closed before connection_ack"); })]);
  const race = raceIds[index % raceIds.length];
  ws.send(JSON.stringify({ id: "1", type: "subscribe", payload: { query, variables: { ids: [race] } } }));
  return ws;
}

let price = 2.0;
async function store(race) {
  price = price >= 30 ? 2.0 : Math.round((price + 0.1) * 100) / 100;
  const prices = runners[race].slice(0, 10).map((r, n) => ({ runnerId: r, decimal: Math.round((price + n) * 100) / 100 }));
  if (socketio) {
    const response = await fetch(httpUrl, { method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ raceId: race, prices }) });
    const answer = await response.json();
    if (answer?.seq == null) throw new Error(`POST /odds failed: ${JSON.stringify(answer)}`);
    return { key: `${race}:${answer.seq}` };
  }
  const body = {
    query: "mutation($i: StoreOddsInput!) { storeOdds(input: $i) { seq } }",
    variables: { i: { raceId: race, source: "bench", observedAt: new Date().toISOString(),
      prices } },
  };
  const response = await fetch(httpUrl, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${token}` }, body: JSON.stringify(body) });
  const answer = await response.json();
  const seq = answer?.data?.storeOdds?.seq;
  if (seq == null) throw new Error(`storeOdds failed: ${JSON.stringify(answer)}`);
  return { key: `${race}:${seq}` };
}

async function deliver(race, count, timeoutMs) {
  // Frames can arrive before the mutation's answer, so the next seq is expected in advance.
  const key = lastSeq.has(race) ? `${race}:${lastSeq.get(race) + 1}` : null;
  const done = new Promise((resolve) => { waiting = { race, key, remaining: count, resolve }; });
  if (key) sent.set(key, performance.now());
  const stored = await store(race);
  if (key && stored.key !== key) throw new Error(`expected ${key}, stored ${stored.key}`);
  let timer;
  await Promise.race([done, new Promise((resolve) => { timer = setTimeout(resolve, timeoutMs); })]);
  clearTimeout(timer);
}

const rssBefore = rssKib(serverPids);
const connectCpuStart = cpuSeconds(serverPids);
const connectClientCpuStart = process.cpuUsage();
const connectStart = performance.now();
const sockets = [];
let nextConnection = 0;
async function opener() { // 100 handshakes in flight at all times, not in waves of 100
  while (nextConnection < connections) sockets.push(await open(nextConnection++));
}
await Promise.all(Array.from({ length: Math.min(100, connections) }, opener));
// A first update proves every subscription is live before anything is measured.
const perRace = new Map(raceIds.map((r) => [r, 0]));
for (let i = 0; i < connections; i++) perRace.set(raceIds[i % raceIds.length], perRace.get(raceIds[i % raceIds.length]) + 1);
for (const race of raceIds) await deliver(race, perRace.get(race), 30000);
const connectSeconds = (performance.now() - connectStart) / 1000;
const connectServerCpu = cpuSeconds(serverPids) - connectCpuStart;
const connectClientCpu = process.cpuUsage(connectClientCpuStart);
const rssAfter = rssKib(serverPids);
// Two more updates settle the load client: V8 handles each socket's first messages about three
// times slower than later ones, which would otherwise put the client's warm-up into the server's p99.
for (let w = 0; w < 2; w++) for (const race of raceIds) await deliver(race, perRace.get(race), 30000);
latencies.length = 0;
delivered = 0;

const cpuStart = cpuSeconds(serverPids);
const wireStart = wire.bytes;
const clientCpuStart = process.cpuUsage();
const start = performance.now();
for (let e = 0; e < events; e++) {
  const race = raceIds[e % raceIds.length];
  await deliver(race, perRace.get(race), 10000);
}
const seconds = (performance.now() - start) / 1000;
const serverCpu = cpuSeconds(serverPids) - cpuStart;
const wireBytes = wire.bytes - wireStart;
const clientCpu = process.cpuUsage(clientCpuStart);
const expected = Array.from({ length: events }, (_, e) => perRace.get(raceIds[e % raceIds.length])).reduce((a, b) => a + b, 0);
latencies.sort((a, b) => a - b);
const pct = (p) => latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] : null;
console.log(JSON.stringify({
  connections, events, expected, delivered, lost: expected - delivered,
  p50_ms: pct(50), p90_ms: pct(90), p99_ms: pct(99), max_ms: latencies.at(-1) ?? null,
  deliveries_per_s: delivered / seconds,
  server_cpu_us_per_delivery: delivered ? (serverCpu * 1e6) / delivered : null,
  server_rss_kib_per_connection: (rssAfter - rssBefore) / connections,
  // every byte the subscribers read from their sockets while measured (frames of other kinds too)
  wire_bytes_per_delivery: delivered ? wireBytes / delivered : null,
  offered: deflate ? "permessage-deflate; client_max_window_bits" : "none",
  extensions: Object.fromEntries(extensions),
  connect_per_s: connections / connectSeconds,
  // the connect phase (connect, connection_init, subscribe, a first update): who was busy
  connect_server_cpu_us_per_connection: (connectServerCpu * 1e6) / connections,
  connect_client_cpu_share: (connectClientCpu.user + connectClientCpu.system) / 1e6 / connectSeconds,
  client_cpu_share: (clientCpu.user + clientCpu.system) / 1e6 / seconds,
}));
for (const ws of sockets) ws.terminate();
process.exit(0);
