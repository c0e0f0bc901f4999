// The chat page: plain HTML and JavaScript, no build step, served by the worker at "/".
// ?room=<name>&user=<name> joins directly; otherwise a form asks. The socket reconnects by itself
// and pings every 20 s ("ping" is answered "pong" by the runtime without waking the room).
export const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>sourdough chat</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { font: 15px/1.4 system-ui, sans-serif; max-width: 42rem; margin: 2rem auto; padding: 0 1rem; }
  #log { list-style: none; padding: 0; height: 24rem; overflow-y: auto; border: 1px solid #ccc; border-radius: 4px; }
  #log li { padding: .2rem .5rem; } #log .user { font-weight: 600; } #log .dm { color: #6a1b9a; } #log .error { color: #b00020; }
  #status[data-state="open"] { color: #2e7d32; } #status[data-state="closed"] { color: #b00020; }
  form { display: flex; gap: .5rem; } form input[type=text] { flex: 1; }
</style>
</head>
<body>
<h1>Room <span id="room"></span></h1>
<form id="join" hidden><input id="join-user" type="text" placeholder="your name" required pattern="[A-Za-z0-9_.\\-]{1,32}"><input id="join-room" type="text" placeholder="room" value="lobby" required><button>Join</button></form>
<p>You are <b id="me"></b> · <span id="status" data-state="connecting">connecting…</span> · online: <span id="online"></span></p>
<ul id="log"></ul>
<form id="send"><input id="text" type="text" autocomplete="off" placeholder="message, or /dm name text" maxlength="2000"><button>Send</button></form>
<script>
"use strict";
const params = new URLSearchParams(location.search);
const room = params.get("room"), user = params.get("user");
const $ = (id) => document.getElementById(id);
if (!room || !user) {
  $("join").hidden = false; $("send").hidden = true;
  $("join").addEventListener("submit", (e) => { e.preventDefault(); location.search = "?room=" + encodeURIComponent($("join-room").value) + "&user=" + encodeURIComponent($("join-user").value); });
} else {
  $("room").textContent = room; $("me").textContent = user;
  let socket, retry = 0, pinger;
  const seen = new Set();
  let online = new Set();
  const showOnline = () => { $("online").textContent = [...online].sort().join(", "); };
  const line = (cls, who, text, id) => {
    if (id !== undefined) { if (seen.has(id)) return; seen.add(id); }
    const li = document.createElement("li"); li.className = cls; if (id !== undefined) li.dataset.id = id;
    if (who) { const b = document.createElement("span"); b.className = "user"; b.textContent = who + ": "; li.append(b); }
    li.append(text); $("log").append(li); $("log").scrollTop = $("log").scrollHeight;
  };
  const status = (state, text) => { $("status").dataset.state = state; $("status").textContent = text; };
  const connect = () => {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    socket = new WebSocket(scheme + "//" + location.host + "/room/" + encodeURIComponent(room) + "/ws?user=" + encodeURIComponent(user));
    socket.addEventListener("open", () => { retry = 0; document.body.dataset.connects = String(Number(document.body.dataset.connects ?? 0) + 1); status("open", "connected"); pinger = setInterval(() => socket.send("ping"), 20000); });
    socket.addEventListener("message", (event) => {
      if (event.data === "pong") { document.body.dataset.lastPong = String(Date.now()); return; }
      const frame = JSON.parse(event.data);
      if (frame.type === "history") for (const m of frame.messages) line("message", m.user, m.text, m.id);
      else if (frame.type === "message") line("message", frame.user, frame.text, frame.id);
      else if (frame.type === "dm") line("dm", frame.from + " → you", frame.text);
      else if (frame.type === "presence") { online = new Set(frame.online); showOnline(); }
      else if (frame.type === "join") { online.add(frame.user); showOnline(); }
      else if (frame.type === "leave") { online.delete(frame.user); showOnline(); }
      else if (frame.type === "error") line("error", "", frame.message);
    });
    socket.addEventListener("close", (event) => {
      clearInterval(pinger);
      status("closed", "disconnected (" + event.code + (event.reason ? " " + event.reason : "") + "), reconnecting…");
      setTimeout(connect, Math.min(5000, 250 * 2 ** retry++));
    });
  };
  connect();
  window.chatPing = () => socket.send("ping");
  $("send").addEventListener("submit", (e) => {
    e.preventDefault();
    const text = $("text").value.trim(); if (!text || socket.readyState !== WebSocket.OPEN) return;
    const dm = /^\\/dm\\s+(\\S+)\\s+(.+)$/.exec(text);
    socket.send(JSON.stringify(dm ? { type: "dm", to: dm[1], text: dm[2] } : { type: "message", text }));
    $("text").value = "";
  });
}
</script>
</body>
</html>
`;
