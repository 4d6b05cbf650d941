// Node's socket.io 4.8 with connection-state recovery, for comparing Duplex with the official client.
// Every client (auth {name}) gets "hello", then ticks {n} every 20 ms. Once `clients` (argv[2], default 1)
// have received 20 ticks each, the ticks pause and every client is asked `ask("question?", ack)`; when all
// have acked, the server drops them (right after an acked event, the case where the offset matters): a
// polling client's Engine.IO session is closed by the server ("forced close", recoverable), then every TCP
// connection is destroyed (a WebSocket client's drop), and the ticks go on. (Destroying only the TCP
// connections of polling clients wedged this server now and then under load: no client got anything after.) Prints {"port": N}; logs acks, connections
// and the drop as JSON lines; exits when its stdin closes.
const http = require("http");
const { Server } = require("socket.io");

const expected = Number(process.argv[2] || 1);
const server = http.createServer();
const sockets = new Set();
server.on("connection", (s) => { sockets.add(s); s.on("close", () => sockets.delete(s)); });
const io = new Server(server, {
  connectionStateRecovery: { maxDisconnectionDuration: 60000, skipMiddlewares: true },
  pingInterval: 1000, pingTimeout: 1000,
});
const log = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");
let n = 0, paused = false, asked = false, dropped = false;
const seen = new Map();  // name -> ticks received (as emitted to it)
const acked = new Set();
io.on("connection", (socket) => {
  const name = (socket.handshake.auth && socket.handshake.auth.name) || socket.id;
  log({ connection: name, recovered: socket.recovered, transport: socket.conn.transport.name });
  if (!socket.recovered) socket.emit("hello", { name });
  if (!seen.has(name)) seen.set(name, 0);
});
process.on("uncaughtException", (err) => log({ uncaught: String(err && err.stack || err).slice(0, 800) }));
setInterval(() => {
  if (paused) return;
  n += 1;
  io.emit("tick", { n });
  if (dropped && n % 25 === 0) log({ tick: n, clients: io.of("/").sockets.size });
  for (const [name, count] of seen) seen.set(name, count + 1);
  if (!asked && seen.size >= expected && [...seen.values()].every((c) => c >= 20)) {
    asked = true; paused = true;
    for (const [, socket] of io.of("/").sockets) {
      const name = (socket.handshake.auth && socket.handshake.auth.name) || socket.id;
      socket.emit("ask", "question?", (...args) => {
        log({ ack: name, args });
        acked.add(name);
        if (acked.size >= expected && !dropped) {
          dropped = true;
          // on the next turn, not inside the ack's own request handler (destroying the socket a request is
          // being handled on, from within it, wedged the server now and then)
          setImmediate(() => {
            log({ drop: sockets.size });
            for (const [, socket] of io.of("/").sockets) {
              if (socket.conn.transport.name === "polling") socket.conn.close();  // Engine.IO's own close
            }
            for (const s of sockets) s.destroy();  // and every TCP connection (WebSocket clients: the drop)
            paused = false;
            log({ resumed: n });
          });
        }
      });
    }
  }
}, 20);
server.listen(0, "127.0.0.1", () => log({ port: server.address().port }));
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
