// Subscriptions over the standard channels route: order, presence, refusals, resume across server restarts.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Client } from "../dist/index.js";
import { AppServer, RedisServer, sleep, until } from "./servers.mjs";

const server = new AppServer({ CLIENTS_APP_HISTORY_SIZE: "3" });
before(() => server.start());
after(() => server.kill());

const clients = [];
after(() => clients.forEach((client) => client.close()));

function client(name, url = server.ws) {
  const created = new Client(url, { token: name, backoff: { initial: 100, max: 400 } });
  clients.push(created);
  return created;
}

/** A subscription that records what it gets. */
function record(client, channel, options) {
  const seen = { messages: [], subscribed: [], joins: [], leaves: [], errors: [] };
  seen.subscription = client.subscribe(
    channel,
    {
      message: (data) => seen.messages.push(data),
      subscribed: (event) => seen.subscribed.push(event),
      join: (member) => seen.joins.push(member.info.name),
      leave: (member) => seen.leaves.push(member.info.name),
      error: (error) => seen.errors.push(error.code),
    },
    options,
  );
  return seen;
}

test("messages arrive in order, with positions; publish returns the position", async () => {
  const ada = client("ada");
  await ada.connect();
  const seen = record(ada, "numbers");
  await seen.subscription.ready();
  for (let n = 1; n <= 5; n++) await ada.publish("numbers", n);
  await until(() => seen.messages.length === 5, "five messages");
  assert.deepEqual(seen.messages, [1, 2, 3, 4, 5]);
  const [epoch, offset] = seen.subscription.position.split(":");
  assert.equal(offset, "5");
  assert.deepEqual(seen.subscribed, [{ position: `${epoch}:0`, recovered: false, resumed: false }]);
  seen.subscription.unsubscribe();
  await ada.publish("numbers", 6);
  await sleep(100);
  assert.equal(seen.messages.length, 5);
});

test("presence: the member list, then join and leave as they happen", async () => {
  const ada = client("ada");
  const bob = client("bob");
  await Promise.all([ada.connect(), bob.connect()]);
  const adaSeen = record(ada, "room");
  await adaSeen.subscription.ready();
  const bobSeen = record(bob, "room");
  await bobSeen.subscription.ready();
  await until(() => adaSeen.joins.includes("bob"), "ada to see bob join");
  const names = (subscription) => [...subscription.members.values()].map((m) => m.info.name).sort();
  assert.deepEqual(names(bobSeen.subscription), ["ada", "bob"]);
  assert.deepEqual(names(adaSeen.subscription), ["ada", "bob"]);
  assert.deepEqual((await ada.presence("room")).map((m) => m.info.name).sort(), ["ada", "bob"]);
  bobSeen.subscription.unsubscribe();
  await until(() => adaSeen.leaves.includes("bob"), "ada to see bob leave");
  assert.deepEqual(names(adaSeen.subscription), ["ada"]);
});

test("a refused channel is an error for that subscription only", async () => {
  const ada = client("ada");
  await ada.connect();
  const refused = record(ada, "private:secrets");
  const fine = record(ada, "public");
  await assert.rejects(refused.subscription.ready(), { code: "channel_refused" });
  assert.deepEqual(refused.errors, ["channel_refused"]);
  assert.equal(refused.subscription.state, "unsubscribed");
  await fine.subscription.ready();
  await assert.rejects(ada.publish("readonly:news", 1), { code: "channel_refused" });
  await ada.publish("public", "still here");
  await until(() => fine.messages.length === 1, "the message");
});

test("history on subscribe; a position beyond the kept history says recovered: false (reload)", async () => {
  const ada = client("ada");
  await ada.connect();
  for (let n = 1; n <= 5; n++) await ada.publish("short", n);
  const recent = record(ada, "short", { history: 10 }); // the route keeps 3
  await until(() => recent.messages.length === 3, "the kept history");
  assert.deepEqual(recent.messages, [3, 4, 5]);
  assert.equal(recent.subscribed[0].recovered, true);
  const [epoch] = recent.subscription.position.split(":");

  const cy = client("cy");
  await cy.connect();
  const late = record(cy, "short", { since: `${epoch}:1` });
  await late.subscription.ready();
  await until(() => late.subscribed.length === 1, "the subscribed frame");
  assert.deepEqual(late.subscribed, [{ position: `${epoch}:5`, recovered: false, resumed: true }]);
  assert.deepEqual(late.messages, []);
});

test("server killed and restarted: the client reconnects, is told history was lost, and misses nothing after", async () => {
  const ada = client("ada");
  await ada.connect();
  const seen = record(ada, "restart");
  await seen.subscription.ready();
  await ada.publish("restart", "before");
  await until(() => seen.messages.length === 1, "the first message");
  await server.kill();
  await server.start(); // the memory backend's history is gone with the process: a new epoch
  await until(() => seen.subscribed.length === 2, "the resubscription");
  assert.deepEqual(
    { recovered: seen.subscribed[1].recovered, resumed: seen.subscribed[1].resumed },
    { recovered: false, resumed: true },
  );
  for (const text of ["after 1", "after 2"]) await ada.publish("restart", text);
  await until(() => seen.messages.length === 3, "the new messages");
  assert.deepEqual(seen.messages, ["before", "after 1", "after 2"]);
});

test("Redis: the server killed and started again as another process resumes from history, exactly once", async () => {
  const redis = await new RedisServer().start();
  const env = { CLIENTS_APP_REDIS_URL: redis.url };
  const [first, other] = [new AppServer(env), new AppServer(env)];
  await Promise.all([first.start(), other.start()]);
  try {
    const ada = client("ada", first.ws);
    await ada.connect();
    const seen = record(ada, "feed");
    await seen.subscription.ready();
    const expected = Array.from({ length: 20 }, (_, n) => n + 1);
    for (const n of expected.slice(0, 5)) await other.publish("feed", n);
    await until(() => seen.messages.length === 5, "the first five");

    await first.kill(); // ada's server is gone...
    for (const n of expected.slice(5, 10)) await other.publish("feed", n); // ...while others go on publishing
    await redis.kill();
    await redis.start(); // Redis restarted (another process, the same data)
    await publishWhenReady(other, "probe");
    for (const n of expected.slice(10, 15)) await other.publish("feed", n);
    await first.start(); // another uvicorn process on ada's address
    await until(() => seen.subscribed.length === 2, "the resubscription", 15_000);
    assert.equal(seen.subscribed[1].recovered, true);
    for (const n of expected.slice(15)) await other.publish("feed", n);
    await until(() => seen.messages.length >= 20, "all twenty");
    await sleep(100);
    assert.deepEqual(seen.messages, expected);
  } finally {
    await Promise.all([first.kill(), other.kill()]);
    await redis.kill();
  }
});

/** Publish to `channel` until the server's Redis connection is back (a failed publish published nothing). */
async function publishWhenReady(server, channel) {
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      return await server.publish(channel, "probe");
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(100);
    }
  }
}
