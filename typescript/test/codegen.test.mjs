// wsapi-types against a real server's AsyncAPI document: the generated types compile, and typos do not.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, test } from "node:test";
import { AppServer } from "./servers.mjs";

const PACKAGE = fileURLToPath(new URL("..", import.meta.url));
const server = new AppServer();
before(() => server.start());
after(() => server.kill());

test("the generated Api type makes a typo in a message type, a field or a reply a compile error", () => {
  const directory = mkdtempSync(join(tmpdir(), "wsapi-types-"));
  const cli = join(PACKAGE, "dist/cli.js");
  execFileSync(process.execPath, [cli, `http://127.0.0.1:${server.port}/asyncapi.json`, "-o", join(directory, "api.ts")]);
  const generated = readFileSync(join(directory, "api.ts"), "utf8");
  assert.match(generated, /export type ChannelsApi = \{/);
  assert.match(generated, /notify: \{ data: Notice; reply: undefined \};/);
  assert.doesNotMatch(generated, /subscribed:/); // the channel frames are the client's own business

  const header = `import { Client } from ${JSON.stringify(join(PACKAGE, "dist/index.js"))};
import type { ChannelsApi } from "./api.js";
const client = new Client<ChannelsApi>("ws://127.0.0.1:1/channels");
`;
  writeFileSync(
    join(directory, "good.ts"),
    `${header}
export async function good(): Promise<void> {
  const done: string = await client.call("slow", 0.1);
  await client.call("notify", { text: "hi" });
  await client.call("fail");
  const reply = await client.call("publish", { channel: "chat", data: 1 });
  const offset: number = reply.offset;
  client.on("notice", (notice) => notice.text.toUpperCase());
  console.log(done, offset);
}
`,
  );
  const bad = [
    'await client.call("notfiy", { text: "hi" });', // a typo in the message type
    'await client.call("notify", { txet: "hi" });', // a typo in a field
    "const n: number = await client.call(\"slow\", 1);", // the reply is a string
    'client.on("notise", () => {});', // a typo in a server message
    'await client.call("slow");', // data required
  ];
  writeFileSync(
    join(directory, "bad.ts"),
    `${header}\nexport async function bad(): Promise<void> {\n${bad.map((line) => `  ${line}`).join("\n")}\n}\n`,
  );
  const tsc = join(PACKAGE, "node_modules/typescript/bin/tsc");
  const flags = ["--noEmit", "--strict", "--target", "es2022", "--module", "esnext", "--moduleResolution", "bundler"];
  flags.push("--lib", "es2022,dom", "--types", "node", "--typeRoots", join(PACKAGE, "node_modules/@types"), "--skipLibCheck");
  const result = spawnSync(process.execPath, [tsc, ...flags, "good.ts", "bad.ts"], { cwd: directory, encoding: "utf8" });
  const errors = result.stdout.split("\n").filter((line) => line.includes("error TS"));
  assert.deepEqual(
    errors.filter((line) => !line.startsWith("bad.ts")),
    [],
    "the correct uses compile",
  );
  const lines = new Set(errors.map((line) => Number(/^bad\.ts\((\d+),/.exec(line)?.[1])));
  const first = header.split("\n").length + 2; // the line of bad[0]
  assert.deepEqual([...lines].sort((a, b) => a - b), bad.map((_, n) => first + n), result.stdout);
});
