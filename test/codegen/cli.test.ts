// The sourdough-gen command in a temporary user project: the summary line, --check on fresh, stale
// and missing output, errors (nothing written), warnings (written anyway), package.json
// configuration, --watch, the executable's exit code, and generated files that type-check in the
// project (a wrong stub argument does not).
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runCli } from "../../codegen/run-cli.ts";
import { REPO, linkSourdough, removeDir, tempDir, tempProjectFiles, writeTree } from "./support/fixtures.ts";
import { tsc } from "./support/tsc.ts";

const COUNTER = `import { DurableObject } from "sourdough";

export class Counter extends DurableObject {
  async increment(by: number = 1): Promise<number> {
    return by;
  }

  get(): number {
    return 0;
  }
}
`;

const dirs: string[] = [];
afterAll(() => dirs.forEach(removeDir));

function project(files: Record<string, string> = {}): string {
  const dir = tempDir("cli");
  dirs.push(dir);
  writeTree(dir, { ...tempProjectFiles(), "src/counter.ts": COUNTER, ...files });
  linkSourdough(dir);
  return dir;
}

async function run(cwd: string, ...argv: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, { cwd, out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out, err };
}

const OUTPUTS = ["codecs.ts", "registry.ts", "schema.capnp", "sourdough.ir.json", "stubs.ts"];

describe("sourdough-gen", { timeout: 60_000 }, () => {
  it("writes its files and prints a one-line summary", async () => {
    const dir = project();
    const r = await run(dir);
    expect(r).toMatchObject({ code: 0, err: [] });
    expect(r.out).toHaveLength(1);
    expect(r.out[0]).toMatch(/^sourdough-gen: 1 class, 2 methods in \d+ ms → sourdough\.gen\/$/);
    for (const f of OUTPUTS) expect(existsSync(join(dir, "sourdough.gen", f)), f).toBe(true);
  });

  it("rewrites nothing when nothing changed", async () => {
    const dir = project();
    await run(dir);
    const before = OUTPUTS.map((f) => statSync(join(dir, "sourdough.gen", f)).mtimeMs);
    await new Promise((r) => setTimeout(r, 20));
    expect((await run(dir)).code).toBe(0);
    expect(OUTPUTS.map((f) => statSync(join(dir, "sourdough.gen", f)).mtimeMs)).toEqual(before);
  });

  it("--check passes when the output is current and fails naming stale and missing files, writing nothing", async () => {
    const dir = project();
    await run(dir);
    expect(await run(dir, "--check")).toMatchObject({ code: 0, err: [] });
    writeFileSync(join(dir, "src/counter.ts"), COUNTER.replace("get(): number", "get(fresh?: boolean): number"));
    const stubs = join(dir, "sourdough.gen", "registry.ts");
    writeFileSync(stubs, "// edited by hand\n");
    removeDir(join(dir, "sourdough.gen", "codecs.ts"));
    const r = await run(dir, "--check");
    expect(r.code).toBe(1);
    expect(r.err).toEqual([
      "sourdough-gen --check: 4 generated files out of date:",
      "  sourdough.gen/schema.capnp (differs)",
      "  sourdough.gen/registry.ts (differs)",
      "  sourdough.gen/codecs.ts (missing)",
      "  sourdough.gen/sourdough.ir.json (differs)",
      "Run sourdough-gen to update them.",
    ]);
    expect(readFileSync(stubs, "utf8")).toBe("// edited by hand\n");
    expect(existsSync(join(dir, "sourdough.gen", "codecs.ts"))).toBe(false);
  });

  it("reports every problem tsc-style, exits 1 and writes nothing", async () => {
    const dir = project({ "src/bad.ts": 'import { DurableObject } from "sourdough";\nexport class Bad extends DurableObject {\n  on(n: number, s: symbol): void {}\n  off(x: { h: WeakMap<object, number> }): void {}\n}\n' });
    const r = await run(dir);
    expect(r.code).toBe(1);
    expect(r.err).toEqual([
      "src/bad.ts:3:17 - error SD1001: Bad.on, parameter `s` (argument 2): `symbol`: symbols cannot cross RPC. Use a string.",
      "src/bad.ts:4:7 - error SD1001: Bad.off, parameter `x` (argument 1), at `.h`: `WeakMap<object, number>`: a WeakMap cannot cross RPC. Use a Map.",
      "sourdough-gen: 2 errors; nothing was written.",
    ]);
    expect(existsSync(join(dir, "sourdough.gen"))).toBe(false);
  });

  it("prints warnings tsc-style and still writes its files; a reserved name is an error", async () => {
    const json = 'import { DurableObject } from "sourdough";\nexport class Doc extends DurableObject {\n  toJSON(): object {\n    return {};\n  }\n}\n';
    const warned = await run(project({ "src/doc.ts": json }));
    expect(warned.code).toBe(0);
    expect(warned.err).toEqual([
      "src/doc.ts:3:3 - warning SD1006: Doc.toJSON: a stub has no JSON form (`stub.toJSON` is undefined), so this method is not on the stub; it still serves JSON.stringify on the object itself. Rename the method to call it over RPC.",
    ]);
    expect(warned.out[0]).toMatch(/^sourdough-gen: 2 classes, 2 methods in \d+ ms/);
    const dir = project({ "src/dup.ts": 'import { DurableObject } from "sourdough";\nexport class Twin extends DurableObject {\n  dup(): number {\n    return 2;\n  }\n}\n' });
    const failed = await run(dir);
    expect(failed.code).toBe(1);
    expect(failed.err).toEqual([
      "src/dup.ts:3:3 - error SD1006: Twin.dup: 'dup' is a reserved method (stubs use it to duplicate themselves), so the runtime refuses it over RPC, as workerd does. Rename the method.",
      "sourdough-gen: 1 error; nothing was written.",
    ]);
    expect(existsSync(join(dir, "sourdough.gen"))).toBe(false);
  });

  it("takes its defaults from the sourdough field of package.json; paths on the command line win", async () => {
    const dir = project({ "src/other.ts": COUNTER.replace("class Counter", "class Other"), "package.json": JSON.stringify({ type: "module", sourdough: { out: "gen", include: ["src/other.ts"] } }) });
    const r = await run(dir);
    expect(r.out[0]).toMatch(/^sourdough-gen: 1 class, 2 methods in \d+ ms → gen\/$/);
    expect(readFileSync(join(dir, "gen/registry.ts"), "utf8")).toContain("Other: {");
    expect((await run(dir, "-o", "elsewhere", "src")).out[0]).toMatch(/2 classes, 4 methods .* → elsewhere\/$/);
  });

  it("a method taking a function or returning an RpcTarget gets no codec: a warning says it travels as msgpack", async () => {
    const src = 'import { DurableObject, RpcTarget } from "sourdough";\nexport class Room extends RpcTarget {\n  post(t: string): number {\n    return t.length;\n  }\n}\nexport class Hub extends DurableObject {\n  on(cb: (x: number) => void): void {}\n  room(): Room {\n    return new Room();\n  }\n  count(): number {\n    return 1;\n  }\n}\n';
    const dir = project({ "src/hub.ts": src });
    const r = await run(dir);
    expect(r.code).toBe(0);
    expect(r.err).toEqual([
      "src/hub.ts:8:3 - warning SD1008: Hub.on: `(x: number) => void` crosses RPC by reference (a function, RpcTarget or ReadableStream), which generated codecs do not map, so this method has no codec: it travels as msgpack, by name, like a method of a class without generated codecs.",
      "src/hub.ts:9:3 - warning SD1008: Hub.room: `Room` crosses RPC by reference (a function, RpcTarget or ReadableStream), which generated codecs do not map, so this method has no codec: it travels as msgpack, by name, like a method of a class without generated codecs.",
    ]);
    const codecs = readFileSync(join(dir, "sourdough.gen", "codecs.ts"), "utf8");
    expect(codecs).toContain("count");
    expect(codecs).not.toMatch(/\bon:|\broom:/);
    expect(readFileSync(join(dir, "sourdough.gen", "stubs.ts"), "utf8")).toContain('"count" | "on" | "room"');
  });

  it("reports a missing or broken tsconfig as an error at the tsconfig", async () => {
    const dir = project();
    expect((await run(dir, "-p", "missing.json")).err[0]).toBe("missing.json:1:1 - error SD3001: no such tsconfig. Pass --project <path to tsconfig.json>.");
    writeFileSync(join(dir, "broken.json"), '{ "extends": "./nowhere.json" }');
    const broken = await run(dir, "-p", "broken.json");
    expect(broken.code).toBe(1);
    expect(broken.err[0]).toMatch(/^broken\.json:1:1 - error SD3001: the project cannot be loaded \(.*\)\. Check the tsconfig\.$/);
  });

  it("explains its usage: --help exits 0, a bad flag exits 2", async () => {
    const dir = project();
    expect((await run(dir, "--help")).out[0]).toMatch(/^Usage: sourdough-gen/);
    const bad = await run(dir, "--frobnicate");
    expect(bad.code).toBe(2);
    expect(bad.err[0]).toMatch(/^sourdough-gen: Unknown option '--frobnicate'/);
  });

  it("writes files that type-check in the project; a wrong argument on a stub does not", async () => {
    const use = `import type { CounterStub, CounterNamespace } from "../sourdough.gen/stubs.ts";
import { codecs } from "../sourdough.gen/codecs.ts";
import { registry } from "../sourdough.gen/registry.ts";
export async function use(ns: CounterNamespace, stub: CounterStub): Promise<number> {
  const id: 1 = registry.classes.Counter.methods.increment.id;
  const bytes: Uint8Array = codecs["Counter"]!["increment"]!.encodeParams([id]);
  void bytes;
  // @ts-expect-error a string is not a number
  await stub.increment("5");
  // @ts-expect-error not a method of Counter
  await stub.decrement();
  return (await stub.increment(2)) + (await ns.getByName("a").get());
}
`;
    const dir = project({ "src/use.ts": use });
    expect((await run(dir)).code).toBe(0);
    const config = JSON.parse(readFileSync(join(dir, "tsconfig.json"), "utf8")) as { include: string[] };
    writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({ ...config, include: ["src", "sourdough.gen"] }));
    expect(tsc(join(dir, "tsconfig.json"))).toBe("");
    writeFileSync(join(dir, "src/use.ts"), use.replace("  // @ts-expect-error a string is not a number\n", ""));
    expect(tsc(join(dir, "tsconfig.json"))).toMatch(/src\/use\.ts\(\d+,\d+\): error TS2345: Argument of type 'string' is not assignable to parameter of type 'number'/);
  });

  it("--watch regenerates when a source file changes", async () => {
    const dir = project();
    const stop = new AbortController();
    const out: string[] = [];
    const done = runCli(["--watch"], { cwd: dir, out: (l) => out.push(l), err: (l) => out.push(l), signal: stop.signal });
    await until(() => out.some((l) => l.includes("watching")));
    writeFileSync(join(dir, "src/counter.ts"), COUNTER.replace("  get(): number {", "  reset(): void {}\n\n  get(): number {"));
    await until(() => out.some((l) => / 3 methods /.test(l)));
    stop.abort();
    expect(await done).toBe(0);
    expect(readFileSync(join(dir, "sourdough.gen/stubs.ts"), "utf8")).toContain('"reset"');
    expect(out.filter((l) => l.startsWith("sourdough-gen: 1 class"))).toHaveLength(2);
  });

  it("--watch picks up files in new directories, nested ones included", async () => {
    const dir = project();
    const stop = new AbortController();
    const out: string[] = [];
    const done = runCli(["--watch"], { cwd: dir, out: (l) => out.push(l), err: (l) => out.push(l), signal: stop.signal });
    await until(() => out.some((l) => l.includes("watching")));
    mkdirSync(join(dir, "src/rooms/chat"), { recursive: true });
    writeFileSync(join(dir, "src/rooms/chat/room.ts"), 'import { DurableObject } from "sourdough";\n\nexport class Room extends DurableObject {\n  post(text: string): number {\n    return text.length;\n  }\n}\n');
    await until(() => out.some((l) => l.startsWith("sourdough-gen: 2 classes, 3 methods")));
    // The new directory is watched from then on: a later edit in it regenerates too.
    writeFileSync(join(dir, "src/rooms/chat/room.ts"), 'import { DurableObject } from "sourdough";\n\nexport class Room extends DurableObject {\n  post(text: string): number {\n    return text.length;\n  }\n\n  clear(): void {}\n}\n');
    await until(() => out.some((l) => l.startsWith("sourdough-gen: 2 classes, 4 methods")));
    stop.abort();
    expect(await done).toBe(0);
    expect(readFileSync(join(dir, "sourdough.gen/stubs.ts"), "utf8")).toContain('"clear"');
  });

  it("the executable exits with the command's code", async () => {
    const dir = project();
    symlinkSync(join(REPO, "node_modules", "tsx"), join(dir, "node_modules", "tsx"), "dir"); // the loader it runs under
    const result = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, ["--import", "tsx", join(REPO, "codegen/cli.ts"), "--check"], { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
      let stderr = "";
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      child.on("close", (code) => resolve({ code, stderr }));
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("sourdough.gen/stubs.ts (missing)");
  });
});

async function until(condition: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 25));
  }
}
