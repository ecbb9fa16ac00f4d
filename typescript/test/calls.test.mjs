// Typed calls, server messages, tokens, close codes and offline behaviour against a real wsapi server.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { CallError, Client } from "../dist/index.js";
import { AppServer, sleep, until } from "./servers.mjs";

const server = new AppServer();
before(() => server.start());
after(() => server.kill());

function client(options = {}) {
  return new Client(server.ws, { token: "ada", backoff: { initial: 100, max: 400 }, ...options });
}

test("call returns the reply, an ack as undefined, and rejects with the error frame's code", async () => {
  const ada = client();
  await ada.connect();
  try {
    assert.deepEqual(await ada.call("echo", { n: 1 }), { echo: { n: 1 } });
    assert.equal(await ada.call("notify", { text: "x" }), undefined);
    await assert.rejects(ada.call("fail"), (error) => error instanceof CallError && error.code === "nope");
    await assert.rejects(ada.call("no-such-type"), { code: "unknown_type" });
    await assert.rejects(ada.call("slow", "soon"), (error) => {
      assert.equal(error.code, "validation_error");
      assert.deepEqual(error.errors[0].loc, ["data"]);
      return true;
    });
  } finally {
    ada.close();
  }
});

test("a call without a reply in time rejects with timeout; later replies are ignored", async () => {
  const ada = client();
  await ada.connect();
  try {
    const started = Date.now();
    await assert.rejects(ada.call("slow", 1, { timeout: 200 }), { code: "timeout" });
    assert.ok(Date.now() - started < 900);
    assert.deepEqual(await ada.call("echo", 2), { echo: 2 }); // the connection is still fine
  } finally {
    ada.close();
  }
});

test("on() gets the server's messages; send() needs no reply", async () => {
  const ada = client();
  const notices = [];
  ada.on("notice", (data) => notices.push(data));
  await ada.connect();
  try {
    await ada.send("notify", { text: "one" });
    await ada.send("notify", { text: "two" });
    await until(() => notices.length === 2, "two notices");
    assert.deepEqual(notices, [{ text: "one" }, { text: "two" }]);
  } finally {
    ada.close();
  }
});

test("a refused handshake (1008) stops retrying: the client is closed, with the code and reason", async () => {
  const events = [];
  const bad = client({ token: "bad" });
  bad.onState((event) => events.push(event));
  // wsapi accepts a refused handshake to close it with a code a browser can read: connect() may resolve first.
  await bad.connect().catch(() => {});
  await until(() => bad.state === "closed", "the refusal");
  const disconnected = events.find((e) => e.type === "disconnected");
  assert.equal(disconnected.code, 1008);
  assert.equal(disconnected.reason, "bad token");
  assert.equal(disconnected.willRetry, false);
  await assert.rejects(bad.call("echo", 1), { code: "closed" });
  await assert.rejects(bad.send("echo", 1), { code: "closed" });
  await sleep(300);
  assert.ok(!events.some((e) => e.type === "reconnecting"));
});

test("a fresh token on every reconnect; 1012 retries at once, within the first window", async () => {
  let issued = 0;
  const ada = client({ token: async () => `ada-${++issued}`, backoff: { initial: 300, max: 5000 } });
  const events = [];
  ada.onState((event) => events.push({ ...event, at: Date.now() }));
  await ada.connect();
  try {
    await ada.send("close", { code: 1012, reason: "restarting" });
    await until(() => events.filter((e) => e.type === "connected").length === 2, "the reconnection");
    const reconnecting = events.find((e) => e.type === "reconnecting");
    assert.ok(reconnecting.delay < 300, `delay ${reconnecting.delay}`);
    assert.deepEqual(
      events.map((e) => e.type),
      ["connecting", "connected", "disconnected", "reconnecting", "connecting", "connected"],
    );
    assert.equal(events[2].code, 1012);
    const tokens = await server.tokens();
    assert.ok(tokens.includes("ada-1") && tokens.includes("ada-2"), String(tokens));
  } finally {
    ada.close();
  }
});

test("offline: calls in flight reject, new ones wait for the connection (bounded) or fail fast when asked", async () => {
  const down = new AppServer();
  await down.start();
  const waiting = new Client(down.ws, { token: "w", backoff: { initial: 100, max: 300 } });
  const failing = new Client(down.ws, { token: "f", backoff: { initial: 100, max: 300 }, offline: "fail" });
  await Promise.all([waiting.connect(), failing.connect()]);
  try {
    const inFlight = assert.rejects(waiting.call("slow", 5, { timeout: 10_000 }), { code: "disconnected" });
    await sleep(50);
    await down.kill();
    await inFlight;
    await until(() => waiting.state !== "connected" && failing.state !== "connected", "both to notice");
    await assert.rejects(failing.call("echo", 1), { code: "offline" });
    await assert.rejects(waiting.call("echo", 1, { timeout: 150 }), { code: "timeout" });
    const later = waiting.call("echo", "after restart", { timeout: 15_000 });
    await down.start();
    assert.deepEqual(await later, { echo: "after restart" });
  } finally {
    waiting.close();
    failing.close();
    await down.kill();
  }
});

test("what waits for a connection fails with closed when the client gives up", async () => {
  const nowhere = new Client("ws://127.0.0.1:1/channels", { retry: () => "stop" });
  const queued = [
    assert.rejects(nowhere.send("echo", 1), { code: "closed" }),
    assert.rejects(nowhere.call("echo", 1), { code: "closed" }),
    assert.rejects(nowhere.connect(), { code: "closed" }),
  ];
  await Promise.all(queued);
  assert.equal(nowhere.state, "closed");
});

test("a server that accepts and closes at once sees the delays grow, even for a code that retries", async () => {
  const expired = client({ token: "expired", backoff: { initial: 20, max: 1000 } });
  const reconnecting = [];
  expired.onState((event) => event.type === "reconnecting" && reconnecting.push(event));
  await expired.connect().catch(() => {});
  await until(() => reconnecting.length >= 4, "four retries");
  expired.close();
  assert.deepEqual(reconnecting.slice(0, 4).map((e) => e.attempt), [1, 2, 3, 4]);
  reconnecting.slice(0, 4).forEach((event, n) => assert.ok(event.delay < 20 * 2 ** n, `delay ${event.delay}`));
});
