// Proves the socket.io stack with the real socket.io-client before bench/run.py measures it with
// its raw engine.io v4 load client: connect as a browser does (polling, then the upgrade to
// WebSocket), join a race's room, store an update, receive it as `odds_update`. Exits 0 or 1.
//   node bench/socketio/check.mjs <port>
import { spawn } from "node:child_process";
import { once } from "node:events";

import { io } from "socket.io-client";

const port = Number(process.argv[2] ?? 22000);
const server = spawn(process.execPath, [new URL("./server.mjs", import.meta.url).pathname],
  { env: { ...process.env, SOCKETIO_PORT: String(port) }, stdio: ["ignore", "inherit", "inherit"] });
const fail = (why) => { console.error(`socket.io check: ${why}`); server.kill(); process.exit(1); };
setTimeout(() => fail("no update within 10 s"), 10000).unref();

let socket;
for (let attempt = 0; ; attempt++) {
  socket = io(`http://127.0.0.1:${port}`, { reconnection: false, timeout: 2000 });
  const [outcome] = await Promise.race([once(socket, "connect").then(() => ["ok"]), once(socket, "connect_error")]);
  if (outcome === "ok") break;
  socket.close();
  if (attempt === 50) fail("cannot connect");
  await new Promise((resolve) => setTimeout(resolve, 100));
}
const ack = await socket.timeout(2000).emitWithAck("subscribe_race", "7");
if (!ack?.ok) fail(`subscribe_race answered ${JSON.stringify(ack)}`);
if (socket.io.engine.transport.name !== "websocket") await once(socket.io.engine, "upgrade");
const update = once(socket, "odds_update");
const stored = await (await fetch(`http://127.0.0.1:${port}/odds`, { method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ raceId: "7", prices: [{ runnerId: "1", decimal: 2.05 }] }) })).json();
const [odds] = await update;
const expected = JSON.stringify({ raceId: "7", seq: stored.seq, prices: [{ runnerId: "1", decimal: 2.05, fractional: "21/20" }] });
if (JSON.stringify(odds) !== expected) fail(`received ${JSON.stringify(odds)}, expected ${expected}`);
const transport = socket.io.engine.transport.name;
socket.close();
server.kill();
console.log(`socket.io check: update received over ${transport}`);
process.exit(0);
