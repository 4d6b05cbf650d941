// A Socket.IO 4 server with connection-state recovery (pid / offset), for Duplex's client tests.
// Prints {"port": N} once it listens on 127.0.0.1 (a port the OS picks); emits "tick" {n} every 20 ms
// to every client; exits when its stdin closes.
const http = require("http");
const { Server } = require("socket.io");

const server = http.createServer();
const io = new Server(server, {
  connectionStateRecovery: { maxDisconnectionDuration: 60000, skipMiddlewares: true },
  pingInterval: 2000,
  pingTimeout: 2000,
});
io.on("connection", (socket) => {
  socket.emit("hello", { recovered: socket.recovered });
});
let n = 0;
setInterval(() => { n += 1; io.emit("tick", { n }); }, 20);
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(JSON.stringify({ port: server.address().port }) + "\n");
});
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
