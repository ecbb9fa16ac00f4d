// The chat's page: the UI. Connecting, reconnecting with backoff, resuming each room from its last position,
// presence and matching replies to requests are the wsapi client's job (typescript/, served at /client/).
import { Client } from "/client/index.js";

const $ = (id) => document.getElementById(id);
const ROOM = /^[a-z0-9][a-z0-9-]{0,31}$/;
const ROOM_RULE = "Room names are 1 to 32 characters: a-z, 0-9 and '-', starting with a letter or digit.";
const joined = new Map(); // room name -> {subscription, messages, unread}
const offered = new Set(); // the server's default rooms
let client = null;
let current = null;

function enter(name) {
  client = new Client(`/ws?name=${encodeURIComponent(name)}`);
  client.onState(onState);
  client.connect().catch(() => {}); // a refusal arrives as a "disconnected" event that will not retry
  join("lobby");
}

function onState(event) {
  if (event.type === "connected") {
    setStatus("online");
    client.call("rooms").then((rooms) => {
      for (const room of rooms) offered.add(room.name);
      renderRooms();
    }, () => {});
  } else if (event.type === "reconnecting") {
    setStatus(event.delay < 1000 ? "reconnecting…" : `reconnecting in ${Math.round(event.delay / 1000)} s`);
  } else if (event.type === "disconnected") {
    setStatus("offline");
    if (!event.willRetry) refused(event.reason || `Connection refused (${event.code})`);
  }
}

function refused(reason) {
  // The server will not take this connection (a bad name, for instance): say why and ask again.
  joined.clear();
  current = null;
  $("login-error").textContent = reason;
  $("chat").hidden = true;
  $("login").hidden = false;
}

async function join(name) {
  $("error").textContent = "";
  if (!ROOM.test(name)) return showError(ROOM_RULE);
  if (joined.has(name)) return select(name);
  const room = { messages: [], unread: 0, ready: false, subscription: null };
  const render = () => {
    if (room.ready && name === current) renderRoom();
    if (room.ready) renderRooms();
  };
  room.subscription = client.subscribe(
    `room:${name}`,
    {
      message(said) {
        room.messages.push(said);
        if (name !== current) room.unread += 1;
        render();
      },
      subscribed({ recovered, resumed }) {
        if (resumed && !recovered) {
          room.messages.push({ event: "Some messages could not be recovered; showing what came after." });
          render();
        }
      },
      // Presence is per connection: a person is announced when their first connection joins and their last one
      // leaves (a reconnect, which swaps a connection for a new one, or a second tab says nothing).
      join(member) {
        if (room.ready && present(room, member.info.name) === 1) room.messages.push({ event: `${member.info.name} joined` });
        render();
      },
      leave(member) {
        if (present(room, member.info.name) === 0) room.messages.push({ event: `${member.info.name} left` });
        render();
      },
    },
    { history: 50 },
  );
  try {
    await room.subscription.ready();
  } catch (error) {
    if (error.code === "closed") return; // the whole connection was refused: the login form says why
    return showError(error.code === "rate_limited" ? error.message : ROOM_RULE);
  }
  room.ready = true;
  joined.set(name, room);
  select(name);
}

function present(room, name) {
  return [...room.subscription.members.values()].filter((member) => member.info.name === name).length;
}

function leave(name) {
  joined.get(name)?.subscription.unsubscribe();
  joined.delete(name);
  select(joined.keys().next().value ?? null);
}

function showError(problem) {
  if (typeof problem === "string") {
    $("error").textContent = problem;
    return;
  }
  const detail = (problem.errors || []).map((e) => `${e.loc.join(".")}: ${e.msg}`).join("; ");
  $("error").textContent = detail || problem.message || problem.code;
}

function select(name) {
  current = name;
  if (name) joined.get(name).unread = 0;
  renderRoom();
  renderRooms();
}

function setStatus(text) {
  $("status").textContent = text;
  $("status").className = `status ${text === "online" ? "online" : "offline"}`;
}

function renderRooms() {
  const list = $("rooms");
  list.replaceChildren();
  for (const name of [...new Set([...offered, ...joined.keys()])].sort()) {
    const room = joined.get(name);
    const item = document.createElement("li");
    item.dataset.room = name;
    item.className = [room ? "joined" : "", name === current ? "current" : ""].join(" ").trim();
    const label = document.createElement("span");
    label.className = "name";
    label.textContent = name;
    const unread = document.createElement("span");
    unread.className = "unread";
    unread.textContent = room?.unread ? String(room.unread) : "";
    item.append(label, unread);
    item.onclick = () => (room ? select(name) : join(name));
    list.append(item);
  }
}

function renderRoom() {
  const room = current ? joined.get(current) : null;
  $("room-title").textContent = current ? `# ${current}` : "";
  const messages = $("messages");
  messages.replaceChildren();
  for (const message of room ? room.messages : []) {
    const item = document.createElement("li");
    if (message.event) {
      item.className = "event";
      item.textContent = message.event;
    } else {
      const when = document.createElement("span");
      when.className = "when";
      when.textContent = new Date(message.at).toLocaleTimeString();
      const who = document.createElement("span");
      who.className = "who";
      who.textContent = message.name;
      item.append(when, who, document.createTextNode(message.text));
    }
    messages.append(item);
  }
  messages.scrollTop = messages.scrollHeight;
  const names = room ? [...new Set([...room.subscription.members.values()].map((m) => m.info.name))].sort() : [];
  $("here").textContent = room ? `${names.length} here` : "";
  const members = $("members");
  members.replaceChildren();
  for (const name of names) {
    const item = document.createElement("li");
    item.textContent = name;
    members.append(item);
  }
}

$("login").onsubmit = (event) => {
  event.preventDefault();
  const name = $("name").value.trim();
  $("me").textContent = name;
  $("login-error").textContent = "";
  $("login").hidden = true;
  $("chat").hidden = false;
  enter(name);
};

$("say").onsubmit = (event) => {
  event.preventDefault();
  const text = $("text").value;
  if (!text || !current) return;
  $("error").textContent = "";
  client.call("say", { room: current, text }).catch(showError);
  $("text").value = "";
};

$("new-room").onsubmit = (event) => {
  event.preventDefault();
  const name = $("new-room-name").value.trim();
  if (name) join(name);
  $("new-room-name").value = "";
};

$("leave").onclick = () => current && leave(current);
