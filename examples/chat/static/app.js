// The chat's browser client: typed requests out, channel frames in, resume from the last position on reconnect.
"use strict";

const $ = (id) => document.getElementById(id);
const rooms = new Map(); // name -> {joined, since, messages: [...], members: Map(clientId -> name), unread}
let socket = null;
let current = null;
let nextId = 1;
let retryDelay = 500;
const pending = new Map(); // request id -> what to do with the answer

function room(name) {
  if (!rooms.has(name)) {
    rooms.set(name, { joined: false, since: null, messages: [], members: new Map(), unread: 0 });
  }
  return rooms.get(name);
}

function request(type, data, onAnswer) {
  const id = nextId++;
  if (onAnswer) pending.set(id, onAnswer);
  socket.send(JSON.stringify({ type, id, data }));
}

function connect(name) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  socket = new WebSocket(`${scheme}://${location.host}/ws?name=${encodeURIComponent(name)}`);
  let opened = false;
  socket.onopen = () => {
    opened = true;
    retryDelay = 500;
    setStatus(true);
    request("rooms", undefined, (frame) => {
      for (const r of frame.data) room(r.name);
      renderRooms();
    });
    const wanted = [...rooms.entries()].filter(([, r]) => r.joined).map(([n]) => n);
    for (const roomName of wanted.length ? wanted : ["lobby"]) join(roomName, false);
  };
  socket.onmessage = (event) => handle(JSON.parse(event.data));
  socket.onclose = (event) => {
    setStatus(false);
    if (!opened || event.code === 1008) {
      // Refused: a bad name, for instance. Show why and ask again.
      $("login-error").textContent = event.reason || `Connection refused (${event.code})`;
      $("chat").hidden = true;
      $("login").hidden = false;
      return;
    }
    setTimeout(() => connect(name), retryDelay); // and rejoin every room from where it was
    retryDelay = Math.min(retryDelay * 2, 10000);
  };
}

function join(name, focus = true) {
  const r = room(name);
  r.joined = true;
  request("join", { room: name, since: r.since }, (frame) => {
    if (frame.type === "error") return showError(frame);
    r.members = new Map(); // presence events from here on keep it current
    for (const member of frame.data.members) r.members.set(`initial:${member}`, member);
    if (focus || current === null) select(name);
    renderRooms();
  });
}

function leave(name) {
  const r = room(name);
  r.joined = false;
  r.since = null;
  r.messages = [];
  r.members.clear();
  request("leave", { room: name });
  const other = [...rooms.entries()].find(([, x]) => x.joined);
  select(other ? other[0] : null);
}

function roomOf(channel) {
  return channel.startsWith("room:") ? channel.slice(5) : null;
}

function handle(frame) {
  if (frame.id !== undefined && pending.has(frame.id)) {
    const onAnswer = pending.get(frame.id);
    pending.delete(frame.id);
    return onAnswer(frame);
  }
  if (frame.type === "error") return showError(frame);
  const name = frame.channel && roomOf(frame.channel);
  if (!name) return;
  const r = room(name);
  if (frame.type === "subscribed") {
    if (r.since && !frame.recovered) {
      r.messages = [{ event: "Some messages could not be recovered; showing what came after." }];
    }
    r.since = `${frame.epoch}:${frame.offset}`;
  } else if (frame.type === "message") {
    r.since = `${frame.epoch}:${frame.offset}`;
    r.messages.push(frame.data);
    if (name !== current) r.unread += 1;
  } else if (frame.type === "join" || frame.type === "leave") {
    const who = frame.client.info.name;
    for (const [key, member] of r.members) if (key.startsWith("initial:") && member === who) r.members.delete(key);
    if (frame.type === "join") r.members.set(frame.client.id, who);
    else r.members.delete(frame.client.id);
    r.messages.push({ event: `${who} ${frame.type === "join" ? "joined" : "left"}` });
  }
  if (name === current) renderRoom();
  renderRooms();
}

function showError(frame) {
  const data = frame.data || {};
  const detail = (data.errors || []).map((e) => `${e.loc.join(".")}: ${e.msg}`).join("; ");
  $("error").textContent = detail || data.message || data.code;
}

function select(name) {
  current = name;
  if (name) room(name).unread = 0;
  renderRoom();
  renderRooms();
}

function setStatus(online) {
  $("status").textContent = online ? "online" : "offline";
  $("status").className = `status ${online ? "online" : "offline"}`;
}

function renderRooms() {
  const list = $("rooms");
  list.replaceChildren();
  for (const [name, r] of [...rooms.entries()].sort()) {
    const item = document.createElement("li");
    item.dataset.room = name;
    item.className = [r.joined ? "joined" : "", name === current ? "current" : ""].join(" ").trim();
    const label = document.createElement("span");
    label.className = "name";
    label.textContent = name;
    const unread = document.createElement("span");
    unread.className = "unread";
    unread.textContent = r.unread ? String(r.unread) : "";
    item.append(label, unread);
    item.onclick = () => (r.joined ? select(name) : join(name));
    list.append(item);
  }
}

function renderRoom() {
  const r = current ? room(current) : null;
  $("room-title").textContent = current ? `# ${current}` : "";
  const messages = $("messages");
  messages.replaceChildren();
  for (const message of r ? r.messages : []) {
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
  const members = $("members");
  members.replaceChildren();
  for (const name of r ? [...new Set(r.members.values())].sort() : []) {
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
  connect(name);
};

$("say").onsubmit = (event) => {
  event.preventDefault();
  const text = $("text").value;
  if (!text || !current) return;
  $("error").textContent = "";
  request("say", { room: current, text }, (frame) => {
    if (frame.type === "error") showError(frame);
  });
  $("text").value = "";
};

$("new-room").onsubmit = (event) => {
  event.preventDefault();
  const name = $("new-room-name").value.trim();
  if (name) join(name);
  $("new-room-name").value = "";
};

$("leave").onclick = () => current && leave(current);
