// The published package, as a user gets it (issue 13): `npm pack` this repository, install the
// tarball into fresh projects that declare `sourdough` and nothing else — with pnpm (strict
// isolation: a package sees only what it declares) and with npm — then, in each, run the package's
// `sourdough-gen`, type-check with `tsc --strict`, and run calls across 2 host processes with Date,
// Map, bigint and nested structs. This also proves the `files` list is complete.
//
// Installs fetch from the npm registry (npm through its local cache, `--prefer-offline`; pnpm into a
// store of this test's own). better-sqlite3's install script (prebuild-install) looks for a prebuilt
// addon before compiling: where a user's install downloads one, this test offers the addon this
// repository's own install built (same version, this Node's ABI) as a local prebuild, packed the way
// prebuild-install expects. Without it (another version resolved) each install compiles SQLite from
// source, 1–3 minutes on a 2-core machine. tsc, tsx and @types/node come from this repository as
// tools (a user has their own); the project itself declares only sourdough.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const REPO = fileURLToPath(new URL("../..", import.meta.url));
const PNPM = join(REPO, "node_modules/.bin/pnpm");
const TSC = join(REPO, "node_modules/.bin/tsc");
const TSX = pathToFileURL(join(REPO, "node_modules/tsx/dist/loader.mjs")).href;
const INSTALL_TIMEOUT_MS = 8 * 60_000;

interface Run {
  code: number | null;
  out: string;
  err: string;
  ms: number;
}

/** Runs a command to its end (bounded), collecting its output. */
function run(cmd: string, args: string[], cwd: string, timeoutMs: number, env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, out, err, ms: performance.now() - t0 });
    });
  });
}

const show = (r: Run): string => `exit ${r.code}\n--- stdout\n${r.out.slice(-4000)}\n--- stderr\n${r.err.slice(-4000)}`;

// The user's code: a Durable Object class whose methods take and return Date, Map, bigint and
// nested structs, and a program that starts 2 hosts and calls it.
const LEDGER = `import { DurableObject, type Int32 } from "sourdough";

export interface Line {
  sku: string;
  qty: Int32;
  at: Date;
}

export interface Order {
  id: bigint;
  lines: Line[];
  notes: Map<string, number>;
  ship: { to: string; by?: Date };
}

export interface Receipt {
  id: bigint;
  units: Int32;
  first: Date;
  notes: Map<string, number>;
  ship: { to: string; by?: Date };
  pid: number;
}

export class Ledger extends DurableObject {
  place(order: Order): Receipt {
    const first = order.lines.reduce((a, l) => (l.at < a ? l.at : a), order.lines[0]?.at ?? new Date(0));
    const units = order.lines.reduce((n, l) => n + l.qty, 0);
    const total = (this.ctx.storage.kv.get<bigint>("total") ?? 0n) + order.id;
    this.ctx.storage.kv.put("total", total);
    return { id: total, units, first, notes: new Map([...order.notes].map(([k, v]) => [k.toUpperCase(), v * 2])), ship: order.ship, pid: process.pid };
  }

  total(): bigint {
    return this.ctx.storage.kv.get<bigint>("total") ?? 0n;
  }
}
`;

const MAIN = `import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ClusterCoordinator } from "sourdough";
import { Ledger } from "./ledger.ts";
import { generated } from "../sourdough.gen/index.ts";

const storageDir = mkdtempSync(path.join(os.tmpdir(), "sourdough-packaging-app-"));
const coordinator = new ClusterCoordinator({ hostCount: 2, generated, storageDir });
try {
  await coordinator.ready;
  const at = new Date("2026-01-02T03:04:05.678Z");
  const receipts = [];
  for (let i = 0; i < 8; i++) {
    const stub = coordinator.get(\`ledger-\${i}\`, Ledger);
    const r = await stub.place({
      id: 9007199254740993n + BigInt(i),
      lines: [{ sku: "a", qty: 2, at }, { sku: "b", qty: 3, at: new Date(at.getTime() - 1000) }],
      notes: new Map([["gift", 1]]),
      ship: { to: "Lisbon", by: at },
    });
    receipts.push({
      id: String(r.id),
      units: r.units,
      first: r.first instanceof Date ? r.first.toISOString() : "not a Date",
      notes: r.notes instanceof Map ? [...r.notes] : "not a Map",
      shipTo: r.ship.to,
      shipBy: r.ship.by instanceof Date ? r.ship.by.toISOString() : "not a Date",
      pid: r.pid,
      total: String(await stub.total()),
    });
  }
  console.log(JSON.stringify({ wireFormat: coordinator.wireFormat(Ledger), hostPids: coordinator.hosts.map((h) => h.pid), receipts }));
} finally {
  await coordinator.close();
  rmSync(storageDir, { recursive: true, force: true });
}
`;

// A call with the wrong argument: the generated stub types must reject it.
const WRONG = `import { ClusterCoordinator } from "sourdough";
import { Ledger } from "./ledger.ts";

const coordinator = new ClusterCoordinator({ hostCount: 0 });
await coordinator.get("x", Ledger).place({ id: 1, lines: [], notes: new Map(), ship: { to: "Porto" } });
`;

const TSCONFIG = {
  compilerOptions: {
    target: "ES2022",
    module: "NodeNext",
    moduleResolution: "NodeNext",
    strict: true,
    noUncheckedIndexedAccess: true,
    exactOptionalPropertyTypes: true,
    noUnusedLocals: true,
    noUnusedParameters: true,
    verbatimModuleSyntax: true,
    allowImportingTsExtensions: true,
    noEmit: true,
    // The package's own declarations are checked too: the types they import (@types/better-sqlite3,
    // @types/ws) must come with sourdough, not from the user's project.
    skipLibCheck: false,
    types: ["node"],
    // @types/node is the user's environment (a tool here, like tsc), not a project dependency.
    typeRoots: [join(REPO, "node_modules/@types")],
  },
  include: ["src", "sourdough.gen"],
};

type Manager = "pnpm" | "npm";

function writeProject(dir: string, manager: Manager, tarball: string): void {
  mkdirSync(join(dir, "src"), { recursive: true });
  const pkg: Record<string, unknown> = {
    name: `sourdough-packaging-${manager}`,
    private: true,
    type: "module",
    dependencies: { sourdough: `file:${tarball}` },
    sourdough: { include: ["src"], out: "sourdough.gen" },
  };
  // better-sqlite3 compiles its native addon in an install script: both managers ask for approval.
  if (manager === "npm") pkg["allowScripts"] = { "better-sqlite3": true };
  writeFileSync(join(dir, "package.json"), `${JSON.stringify(pkg, null, 2)}\n`);
  if (manager === "pnpm") {
    writeFileSync(join(dir, "pnpm-workspace.yaml"), `storeDir: ${JSON.stringify(join(dir, "..", "pnpm-store"))}\nallowBuilds:\n  better-sqlite3: true\n  esbuild: false\n  msgpackr-extract: false\n`);
  }
  writeFileSync(join(dir, "tsconfig.json"), `${JSON.stringify(TSCONFIG, null, 2)}\n`);
  writeFileSync(join(dir, "src/ledger.ts"), LEDGER);
  writeFileSync(join(dir, "src/main.ts"), MAIN);
}

/**
 * A prebuild-install archive of this repository's better-sqlite3 addon in `dir`, named as
 * prebuild-install looks it up: `<name>-v<version>-node-v<abi>-<platform>-<arch>.tar.gz`.
 */
async function localPrebuild(dir: string): Promise<string> {
  const pkgDir = join(REPO, "node_modules/better-sqlite3");
  // No addon built here (another install layout): offer nothing, and the installs compile.
  if (!existsSync(join(pkgDir, "build/Release/better_sqlite3.node"))) return dir;
  const { version } = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8")) as { version: string };
  mkdirSync(dir, { recursive: true });
  const archive = join(dir, `better-sqlite3-v${version}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`);
  const tar = await run("tar", ["-czf", archive, "-C", pkgDir, "build/Release/better_sqlite3.node"], REPO, 60_000);
  if (tar.code !== 0) throw new Error(`packing the local prebuild failed: ${show(tar)}`);
  return dir;
}

let work = "";
let tarball = "";
const installs = new Map<Manager, Run>();
const projects = new Map<Manager, string>();

beforeAll(async () => {
  if (!existsSync(join(REPO, "dist/runtime/codecs/index.js")) || !existsSync(join(REPO, "dist/codegen/cli.js"))) {
    throw new Error("dist/ is missing or incomplete: run `npm run build` before this test (npm test does)");
  }
  work = mkdtempSync(join(tmpdir(), "sourdough-packaging-"));
  // The package's own `prepare` builds dist/, which the test run has just done.
  const pack = await run("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", work], REPO, 120_000);
  if (pack.code !== 0) throw new Error(`npm pack failed: ${show(pack)}`);
  const [info] = JSON.parse(pack.out) as Array<{ filename: string }>;
  tarball = join(work, info?.filename ?? "missing.tgz");
  for (const manager of ["pnpm", "npm"] as const) {
    const dir = join(work, manager);
    writeProject(dir, manager, tarball);
    projects.set(manager, dir);
  }
  const env = {
    npm_config_nodedir: process.env["npm_config_nodedir"] ?? "/usr", // node-gyp, if it compiles: Node's headers, never downloaded
    npm_config_better_sqlite3_local_prebuilds: await localPrebuild(join(work, "prebuilds")),
  };
  const [p, n] = await Promise.all([
    run(PNPM, ["install", "--prefer-offline", "--reporter=append-only"], projects.get("pnpm") as string, INSTALL_TIMEOUT_MS, env),
    run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund"], projects.get("npm") as string, INSTALL_TIMEOUT_MS, env),
  ]);
  installs.set("pnpm", p);
  installs.set("npm", n);
  process.stderr.write(`[packaging] installs side by side: pnpm ${(p.ms / 1000).toFixed(0)} s, npm ${(n.ms / 1000).toFixed(0)} s\n`);
}, INSTALL_TIMEOUT_MS + 150_000);

afterAll(() => {
  if (work !== "") rmSync(work, { recursive: true, force: true });
});

describe("the packed package", { timeout: 120_000 }, () => {
  it("holds what it needs and nothing of the repository's tests or benches", async () => {
    const list = await run("tar", ["-tzf", tarball], work, 30_000);
    const files = list.out.split("\n").filter((f) => f !== "");
    for (const need of ["package/package.json", "package/dist/runtime/index.js", "package/dist/runtime/index.d.ts", "package/dist/runtime/codecs/index.js", "package/dist/runtime/codecs/index.d.ts", "package/dist/codegen/cli.js", "package/schema/rpc.capnp"]) {
      expect(files, need).toContain(need);
    }
    expect(files.filter((f) => /^package\/(test|bench|examples|node_modules)\//.test(f))).toEqual([]);
    const pkg = JSON.parse(readFileSync(join(projects.get("npm") as string, "node_modules/sourdough/package.json"), "utf8")) as { exports: Record<string, unknown> };
    expect(Object.keys(pkg.exports)).toContain("./codecs");
  });
});

describe.each(["pnpm", "npm"] as const)("installed with %s", { timeout: 120_000 }, (manager) => {
  const dir = (): string => projects.get(manager) as string;

  it("installs with sourdough as the only declared dependency", () => {
    const install = installs.get(manager) as Run;
    expect(install.code, show(install)).toBe(0);
    const pkg = JSON.parse(readFileSync(join(dir(), "package.json"), "utf8")) as Record<string, unknown>;
    expect(Object.keys(pkg["dependencies"] as object)).toEqual(["sourdough"]);
    expect(pkg["devDependencies"]).toBeUndefined();
    if (manager === "pnpm") {
      // Strict isolation: the project sees sourdough and nothing of what sourdough depends on.
      expect(readdirSync(join(dir(), "node_modules")).filter((n) => !n.startsWith("."))).toEqual(["sourdough"]);
      const require = createRequire(join(dir(), "package.json"));
      expect(() => require.resolve("msgpackr")).toThrow(/Cannot find module/);
    }
  });

  it("runs the package's sourdough-gen; the generated code imports only sourdough", async () => {
    const gen = await run(join(dir(), "node_modules/.bin/sourdough-gen"), [], dir(), 120_000);
    expect(gen.code, show(gen)).toBe(0);
    expect(gen.out).toMatch(/sourdough-gen: 1 class, 2 methods in \d+ ms/);
    for (const file of readdirSync(join(dir(), "sourdough.gen")).filter((f) => f.endsWith(".ts"))) {
      const text = readFileSync(join(dir(), "sourdough.gen", file), "utf8");
      const specifiers = [...text.matchAll(/^import\b[^"]*"([^"]+)";$/gm)].map((m) => m[1] as string);
      expect(specifiers.filter((s) => !s.startsWith(".") && s !== "sourdough" && s !== "sourdough/codecs"), file).toEqual([]);
    }
    expect(readFileSync(join(dir(), "sourdough.gen/codecs.ts"), "utf8")).toContain('from "sourdough/codecs"');
  });

  it("type-checks with tsc --strict, and the generated stub types reject a wrong argument", async () => {
    const check = await run(TSC, ["-p", "tsconfig.json"], dir(), 120_000);
    expect(check.code, show(check)).toBe(0);
    writeFileSync(join(dir(), "src/wrong.ts"), WRONG);
    try {
      const wrong = await run(TSC, ["-p", "tsconfig.json"], dir(), 120_000);
      expect(wrong.code).not.toBe(0);
      expect(wrong.out).toMatch(/src\/wrong\.ts\(5,\d+\): error TS2322: Type 'number' is not assignable to type 'bigint'/);
    } finally {
      rmSync(join(dir(), "src/wrong.ts"));
    }
  });

  it("runs calls across 2 hosts with Date, Map, bigint and nested structs", async () => {
    const app = await run(process.execPath, ["--import", TSX, "src/main.ts"], dir(), 90_000);
    expect(app.code, show(app)).toBe(0);
    const result = JSON.parse(app.out.trim().split("\n").at(-1) as string) as {
      wireFormat: string;
      hostPids: number[];
      receipts: Array<{ id: string; units: number; first: string; notes: unknown; shipTo: string; shipBy: string; pid: number; total: string }>;
    };
    expect(result.wireFormat).toBe("generated");
    expect(result.receipts).toHaveLength(8);
    result.receipts.forEach((r, i) => {
      const id = String(9007199254740993n + BigInt(i));
      expect(r).toEqual({ id, units: 5, first: "2026-01-02T03:04:04.678Z", notes: [["GIFT", 2]], shipTo: "Lisbon", shipBy: "2026-01-02T03:04:05.678Z", pid: r.pid, total: id });
    });
    // The 8 objects live on both hosts, and nothing is left running.
    expect(new Set(result.receipts.map((r) => r.pid))).toEqual(new Set(result.hostPids));
    expect(result.hostPids).toHaveLength(2);
    for (const pid of result.hostPids) expect(() => process.kill(pid, 0)).toThrow();
  });
});
