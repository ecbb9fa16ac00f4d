// Builds dist/: the ES module bundle (esbuild), the type declarations (tsc) and the `wsapi-types` command.
import { execFileSync } from "node:child_process";
import { rmSync } from "node:fs";
import { build } from "esbuild";

rmSync("dist", { recursive: true, force: true });
const common = { bundle: true, format: "esm", sourcemap: true, logLevel: "warning" };
await build({ ...common, entryPoints: ["src/index.ts"], outfile: "dist/index.js", target: "es2020" });
await build({
  ...common,
  entryPoints: ["src/cli.ts"],
  outfile: "dist/cli.js",
  platform: "node",
  target: "node20",
  banner: { js: "#!/usr/bin/env node" },
});
execFileSync(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "tsconfig.json"], { stdio: "inherit" });
