/**
 * wsapi-types: write TypeScript types for a wsapi app's WebSocket routes from its AsyncAPI document.
 *
 *     wsapi-types http://127.0.0.1:8000/asyncapi.json -o src/api.ts
 *     wsapi-types asyncapi.json -o src/api.ts
 */

import { readFile, writeFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { generate } from "./codegen.js";

const USAGE = "usage: wsapi-types <asyncapi.json file or URL> [-o <output.ts>]";

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { output: { type: "string", short: "o" }, help: { type: "boolean", short: "h" } },
  });
  if (values.help || positionals.length !== 1) {
    console.error(USAGE);
    process.exit(values.help ? 0 : 2);
  }
  const source = positionals[0] as string;
  const text = /^https?:\/\//.test(source) ? await download(source) : await readFile(source, "utf8");
  const code = generate(JSON.parse(text), source);
  if (values.output) await writeFile(values.output, code);
  else process.stdout.write(code);
}

async function download(url: string): Promise<string> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`GET ${url}: ${response.status} ${response.statusText}`);
  return response.text();
}

main().catch((error: unknown) => {
  console.error(`wsapi-types: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
