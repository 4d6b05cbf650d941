// A page of the suite's own (page.html) and everything it talks to, none of it Duplex's lab: a cookie set by
// the server, an NDJSON stream in 5 chunks, a plain WebSocket the server closes with a code and a reason,
// and Node's own socket.io serving the official browser bundle (polling first, then the upgrade).
// Prints {"port": N}; exits when its stdin closes. tests/e2e/test_browser_page.py compares what the page
// logs of itself with what Duplex recorded.
const http = require("http");
const fs = require("fs");
const path = require("path");
const peers = path.join(__dirname, "..", "socketio_recovery", "node_modules");
const { Server } = require(path.join(peers, "socket.io"));
const { WebSocketServer } = require(path.join(peers, "ws"));

const page = fs.readFileSync(path.join(__dirname, "page.html"));
const server = http.createServer((req, res) => {
  const url = new URL(req.url, "http://x");
  if (url.pathname === "/") {
    res.writeHead(200, { "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store" });
    res.end(page);
  } else if (url.pathname === "/login") {
    res.writeHead(200, { "Content-Type": "application/json",
                         "Set-Cookie": "srv=abc; Path=/; HttpOnly; SameSite=Lax; Max-Age=3600" });
    res.end(JSON.stringify({ ok: true, cookie: req.headers.cookie || "" }));
  } else if (url.pathname === "/whoami") {
    res.writeHead(200, { "Content-Type": "application/json" });
    res.end(JSON.stringify({ cookie: req.headers.cookie || "" }));
  } else if (url.pathname === "/ndjson") {
    // 5 lines, one chunk each, 60 ms apart: a fetch reading its body as it comes
    res.writeHead(200, { "Content-Type": "application/x-ndjson", "Cache-Control": "no-store" });
    let i = 0;
    const next = () => {
      i += 1;
      res.write(JSON.stringify({ n: i, text: `line ${i}` }) + "\n");
      if (i < 5) setTimeout(next, 60); else res.end();
    };
    next();
  } else if (url.pathname === "/events") {
    // an event stream read by fetch (as SDKs read a chat completion): 3 events, 50 ms apart
    res.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-store" });
    let i = 0;
    const next = () => {
      i += 1;
      res.write(`id: ${i}\nevent: ${i === 2 ? "price" : "message"}\ndata: {"k":${i}}\n\n`);
      if (i < 3) setTimeout(next, 50); else res.end();
    };
    next();
  } else {
    res.writeHead(404, { "Content-Type": "text/plain" });
    res.end("not found");
  }
});
const wss = new WebSocketServer({ noServer: true });
wss.on("connection", (ws) => {
  ws.on("message", (data) => {
    const text = String(data);
    if (text === "bye") ws.close(4000, "done by server");
    else ws.send("echo " + text);
  });
});
server.on("upgrade", (req, socket, head) => {
  if (new URL(req.url, "http://x").pathname === "/ws") {
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit("connection", ws, req));
  }
});
const io = new Server(server, { destroyUpgrade: false, pingInterval: 2000, pingTimeout: 2000 });
io.on("connection", (socket) => {
  // six events at once: they leave over polling, before the upgrade
  for (let n = 1; n <= 6; n++) socket.emit("tick", { n });
  socket.on("hello", (name, ack) => { if (typeof ack === "function") ack({ hi: name }); });
  socket.on("upgraded", () => socket.emit("over", { via: socket.conn.transport.name }));
});
server.listen(0, "127.0.0.1", () => process.stdout.write(JSON.stringify({ port: server.address().port }) + "\n"));
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
