// storeOdds load: W writers over HTTP keep-alive send M mutations of 10 prices in all, spread
// over the given races. Prints one JSON line: the rate, and this client's own CPU share.
import http from "node:http";

const args = Object.fromEntries(process.argv.slice(2).map((a) => a.replace(/^--/, "").split("=")));
const url = new URL(args.http);
const mutations = Number(args.mutations ?? 2000);
const writers = Number(args.writers ?? 32);
const runners = JSON.parse(args.runners); // raceId -> [runnerId, ...]
const races = Object.keys(runners);
const start = Date.now() - 5 * 3600 * 1000;
const agent = new http.Agent({ keepAlive: true, maxSockets: writers });
const query = "mutation($i: StoreOddsInput!) { storeOdds(input: $i) { seq } }";

function post(n) {
  const race = races[n % races.length];
  const body = JSON.stringify({ query, variables: { i: {
    raceId: race, source: `feed${n % writers}`, observedAt: new Date(start + n).toISOString(),
    prices: runners[race].slice(0, 10).map((r, i) => ({ runnerId: r, decimal: 2 + ((n + i) % 40) / 10 })),
  } } });
  return new Promise((resolve, reject) => {
    const request = http.request(url, { method: "POST", agent, headers: {
      "content-type": "application/json", "content-length": Buffer.byteLength(body),
      authorization: `Bearer ${args.token}`,
    } }, (response) => {
      const chunks = [];
      response.on("data", (c) => chunks.push(c));
      response.on("end", () => {
        const answer = JSON.parse(Buffer.concat(chunks).toString());
        if (answer.errors) reject(new Error(JSON.stringify(answer.errors)));
        else resolve();
      });
    });
    request.on("error", reject);
    request.end(body);
  });
}

let next = 0;
async function writer() {
  while (next < mutations) await post(next++);
}

const cpu = process.cpuUsage();
const began = process.hrtime.bigint();
await Promise.all(Array.from({ length: writers }, writer));
const seconds = Number(process.hrtime.bigint() - began) / 1e9;
const used = process.cpuUsage(cpu);
console.log(JSON.stringify({ rate: mutations / seconds, client_cpu_share: (used.user + used.system) / 1e6 / seconds }));
agent.destroy();
