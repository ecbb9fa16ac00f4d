// Real servers for the tests: the clients test app (tests/client/app.py) under uvicorn, and redis-server,
// on free loopback ports, killed by PID.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const PYTHON = process.env.WSAPI_PYTHON ?? join(ROOT, ".venv/bin/python");
const REDIS_SERVER = "/usr/bin/redis-server";

export async function freePort() {
  const server = net.createServer().listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address();
  server.close();
  await once(server, "close");
  return port;
}

async function waitForPort(port, child, timeout = 15_000) {
  const deadline = Date.now() + timeout;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`process exited early with code ${child.exitCode}`);
    const open = await new Promise((resolve) => {
      const socket = net.connect(port, "127.0.0.1");
      socket.once("connect", () => (socket.destroy(), resolve(true)));
      socket.once("error", () => resolve(false));
    });
    if (open) return;
    await sleep(50);
  }
  throw new Error(`nothing listened on ${port} within ${timeout} ms`);
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function stop(child, signal) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, "exit");
  process.kill(child.pid, signal);
  await exited;
}

/** The clients test app under uvicorn; `kill()` (SIGKILL by PID) and `start()` again on the same port. */
export class AppServer {
  constructor(env = {}) {
    this.env = env;
    this.port = null;
    this.child = null;
  }

  async start() {
    this.port ??= await freePort();
    const args = ["-m", "uvicorn", "--app-dir", join(ROOT, "tests/client"), "app:app"];
    args.push("--host", "127.0.0.1", "--port", String(this.port), "--log-level", "warning");
    this.child = spawn(PYTHON, args, { cwd: ROOT, env: { ...process.env, ...this.env }, stdio: "inherit" });
    await waitForPort(this.port, this.child);
    return this;
  }

  async kill(signal = "SIGKILL") {
    await stop(this.child, signal);
  }

  get ws() {
    return `ws://127.0.0.1:${this.port}/channels`;
  }

  async publish(channel, data) {
    const response = await fetch(`http://127.0.0.1:${this.port}/publish/${channel}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(data),
    });
    if (!response.ok) throw new Error(`publish: ${response.status} ${await response.text()}`);
    return response.json();
  }

  async tokens() {
    return (await fetch(`http://127.0.0.1:${this.port}/tokens`)).json();
  }
}

/** A real redis-server with persistence (AOF, fsync always), so a restart keeps the history. */
export class RedisServer {
  constructor() {
    this.port = null;
    this.directory = mkdtempSync(join(tmpdir(), "wsapi-redis-"));
  }

  async start() {
    this.port ??= await freePort();
    const args = ["--port", String(this.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes"];
    args.push("--appendfsync", "always", "--dir", this.directory);
    this.child = spawn(REDIS_SERVER, args, { stdio: "ignore" });
    await waitForPort(this.port, this.child);
    return this;
  }

  async kill() {
    await stop(this.child, "SIGKILL");
  }

  get url() {
    return `redis://127.0.0.1:${this.port}/0`;
  }
}

/** Resolves when `predicate()` holds, checking every 20 ms; rejects after `timeout` ms with `what`. */
export async function until(predicate, what, timeout = 10_000) {
  const deadline = Date.now() + timeout;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}
