// storeOdds load: W writers send M mutations of 10 prices in all, spread over the given races,
// over HTTP keep-alive, or (--transport=ws) as graphql-transport-ws operations on one connection
// per 8 writers. Prints one JSON line: the rate, and this client's own CPU share.
import http from "node:http";
import { createRequire } from "node:module";

const require = createRequire(new URL("../clients/package.json", import.meta.url));
const WebSocket = require("ws");

const args = Object.fromEntries(process.argv.slice(2).map((a) => a.replace(/^--/, "").split("=")));
const url = new URL(args.http);
const mutations = Number(args.mutations ?? 2000);
const writers = Number(args.writers ?? 32);
const runners = JSON.parse(args.runners); // raceId -> [runnerId, ...]
const races = Object.keys(runners);
const start = Date.now() - 5 * 3600 * 1000;
const agent = new http.Agent({ keepAlive: true, maxSockets: writers });
const query = "mutation($i: StoreOddsInput!) { storeOdds(input: $i) { seq } }";

function variables(n) {
  const race = races[n % races.length];
  return { i: {
    raceId: race, source: `feed${n % writers}`, observedAt: new Date(start + n).toISOString(),
    prices: runners[race].slice(0, 10).map((r, i) => ({ runnerId: r, decimal: 2 + ((n + i) % 40) / 10 })),
  } };
}

function post(n) {
  const body = JSON.stringify({ query, variables: variables(n) });
  return new Promise((resolve, reject) => {
    const request = http.request(url, { method: "POST", agent, headers: {
      "content-type": "application/json", "content-length": Buffer.byteLength(body),
      authorization: `Bearer ${args.token}`,
    } }, (response) => {
      const chunks = [];
      response.on("data", (c) => chunks.push(c));
      response.on("end", () => {
        const answer = JSON.parse(Buffer.concat(chunks).toString());
        if (answer.errors) failed(answer.errors);
        resolve();
      });
    });
    request.on("error", reject);
    request.end(body);
  });
}

async function connect() {
  const socket = new WebSocket(args.http.replace(/^http/, "ws"), "graphql-transport-ws");
  const pending = new Map();
  await new Promise((resolve, reject) => {
    socket.on("open", () => socket.send(JSON.stringify({ type: "connection_init", payload: { token: args.token } })));
    socket.on("error", reject);
    socket.on("close", (code, reason) => reject(new Error(`closed ${code} ${reason}`)));
    socket.on("message", (data) => {
      const message = JSON.parse(data.toString());
      if (message.type === "connection_ack") resolve();
      else if (message.type === "next" && message.payload.errors) failed(message.payload.errors);
      else if (message.type === "error") { failed(message.payload); pending.get(message.id)?.resolve(); }
      else if (message.type === "complete") pending.get(message.id)?.resolve();
      else if (message.type === "ping") socket.send(JSON.stringify({ type: "pong" }));
    });
  });
  const send = (n) => new Promise((resolve, reject) => {
    pending.set(String(n), { resolve: () => { pending.delete(String(n)); resolve(); }, reject });
    socket.send(JSON.stringify({ id: String(n), type: "subscribe", payload: { query, variables: variables(n) } }));
  });
  return { socket, send };
}

const sockets = args.transport === "ws"
  ? await Promise.all(Array.from({ length: Math.ceil(writers / 8) }, connect)) : [];
let next = 0;
let failures = 0;
let firstFailure = null;
function failed(errors) {
  failures += 1;
  firstFailure ??= JSON.stringify(errors).slice(0, 300);
}
async function writer(_, index) {
  const send = args.transport === "ws" ? sockets[index % sockets.length].send : post;
  while (next < mutations) await send(next++);
}

const cpu = process.cpuUsage();
const began = process.hrtime.bigint();
await Promise.all(Array.from({ length: writers }, writer));
const seconds = Number(process.hrtime.bigint() - began) / 1e9;
const used = process.cpuUsage(cpu);
console.log(JSON.stringify({
  rate: (mutations - failures) / seconds, failed: failures, first_failure: firstFailure,
  client_cpu_share: (used.user + used.system) / 1e6 / seconds,
}));
agent.destroy();
for (const { socket } of sockets) socket.terminate();
