// The official socket.io-client, as the reference Duplex is compared with: node official_client.js URL MODE
// NAME. MODE: upgrade (polling then WebSocket, the default), polling or websocket. Logs each connect (with
// `recovered`), disconnect and event (name and arguments, the ack callback answered "answer") as JSON lines;
// exits when its stdin closes.
const { io } = require("socket.io-client");

const [url, mode, name] = process.argv.slice(2);
const transports = mode === "polling" ? ["polling"] : mode === "websocket" ? ["websocket"] : ["polling", "websocket"];
const socket = io(url, { transports, auth: { name }, reconnectionDelay: 200, reconnectionDelayMax: 1000 });
const log = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");
socket.on("connect", () => log({ connect: true, recovered: socket.recovered }));
socket.on("disconnect", (reason) => log({ disconnect: reason }));
socket.onAny((event, ...args) => {
  const last = args[args.length - 1];
  if (typeof last === "function") { args.pop(); last("answer"); }
  log({ event, args });
});
process.stdin.on("end", () => { socket.close(); process.exit(0); });
process.stdin.resume();
