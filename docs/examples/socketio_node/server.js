// A small Socket.IO server, as people write one with Node's socket.io: every 20 ms it emits "tick" {seq}
// to every client, and connection-state recovery (Socket.IO 4.6+) replays what a client missed while it
// was away for up to two minutes.
//
//   node server.js [--port 3000] [--state FILE]
//
// It prints "listening on http://127.0.0.1:PORT" once it listens (--port 0: a port the OS picks). With
// --state, the last seq is kept in FILE, so a restarted server numbers on from it. Socket.IO keeps what it
// would replay in memory: after a restart it cannot recover a session, and says so (socket.recovered false).
const fs = require("fs");
const http = require("http");
const { Server } = require("socket.io");

const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
};
const port = Number(opt("--port", "3000"));
const stateFile = opt("--state", null);

let seq = 0;
if (stateFile && fs.existsSync(stateFile)) {
  seq = Number(fs.readFileSync(stateFile, "utf8")) || 0;
}

const server = http.createServer();
const io = new Server(server, {
  connectionStateRecovery: { maxDisconnectionDuration: 2 * 60 * 1000, skipMiddlewares: true },
  pingInterval: 5000,
  pingTimeout: 5000,
});
io.on("connection", (socket) => {
  socket.on("echo", (text, ack) => { if (typeof ack === "function") ack({ echo: text }); });
});
setInterval(() => {
  seq += 1;
  io.emit("tick", { seq, at: Date.now() });
  if (stateFile) fs.writeFileSync(stateFile, String(seq));
}, 20);
server.listen(port, "127.0.0.1", () => {
  process.stdout.write(`listening on http://127.0.0.1:${server.address().port}\n`);
});
process.on("SIGTERM", () => process.exit(0));
