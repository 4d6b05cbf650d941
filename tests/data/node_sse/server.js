// A plain Node `http` SSE server no one at Duplex wrote the protocol of: numeric ids, Last-Event-ID resume.
// GET /events: events `id: n` / `data: {"n": n}` every 20 ms, from Last-Event-ID + 1 (or 1); after `drop`
// events on a connection (default 10) it destroys the TCP socket, at most `drops` times (default 2).
// ?skip=1: the first resumed connection starts one id later (one event is never sent: lost 1).
// Prints {"port": N} once it listens on 127.0.0.1; logs each request's Last-Event-ID on stdout; exits when
// its stdin closes.
const http = require("http");

let dropped = 0;
let skipped = false;
const server = http.createServer((req, res) => {
  const url = new URL(req.url, "http://x");
  if (url.pathname !== "/events") { res.writeHead(404); res.end(); return; }
  const drop = Number(url.searchParams.get("drop") || 10);
  const drops = Number(url.searchParams.get("drops") || 2);
  const last = req.headers["last-event-id"];
  process.stdout.write(JSON.stringify({ request: req.url, last_event_id: last === undefined ? null : last }) + "\n");
  let n = last !== undefined && /^\d+$/.test(last) ? Number(last) : 0;
  if (last !== undefined && url.searchParams.get("skip") === "1" && !skipped) { skipped = true; n += 1; }
  res.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-cache" });
  res.write("retry: 100\n\n");
  let sent = 0;
  const timer = setInterval(() => {
    n += 1; sent += 1;
    const last = sent >= drop && dropped < drops;
    // the drop comes once the event is written to the socket (the client has it): no event dies in flight
    res.write(`id: ${n}\ndata: {"n": ${n}}\n\n`, last ? () => req.socket.destroy() : undefined);
    if (last) { dropped += 1; clearInterval(timer); }
  }, 20);
  req.on("close", () => clearInterval(timer));
});
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(JSON.stringify({ port: server.address().port }) + "\n");
});
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
