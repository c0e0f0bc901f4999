// Data goes along: objects written on sourdough (real host, SQLite files in a temp storageDir) are
// exported with `sourdough-cloudflare export`, replayed with `sourdough-cloudflare import` into
// workerd (miniflare running the generated project, whose import route is enabled by a secret), and
// read back equal through the same worker route. Objects without a name are reported and skipped.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { ServeHandle } from "sourdough";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { ExportFile } from "../../runtime/workerd/export-format.ts";
import { runCli } from "../../codegen/cloudflare/run-cli.ts";
import { ioHandles } from "../support/cluster.ts";
import { loadMiniflare, miniflareSkipReason, type MiniflareInstance, type MiniflareModule } from "../support/miniflare.ts";
import { buildWorkerdProject, compatibilityDate, startWorkerd, type WorkerdProject } from "./cloudflare-harness.ts";
import { startLedger } from "./fixtures/cloudflare-ledger/main.ts";

const skip = miniflareSkipReason();
if (skip !== undefined) console.log(skip);

const SECRET = "test-import-secret";
const NAMES = ["alice", "bob", "café ☕"];
const ALARM_AT = Date.UTC(2031, 0, 1);

async function cli(argv: string[], cwd: string, fetcher?: (url: string, init: RequestInit) => Promise<Response>) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, { cwd, out: (l) => out.push(l), err: (l) => err.push(l), env: {}, ...(fetcher === undefined ? {} : { fetch: fetcher }) });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

describe.skipIf(skip)("moving a namespace's objects from sourdough to workerd", () => {
  let miniflare: MiniflareModule;
  let project: WorkerdProject;
  let mf: MiniflareInstance;
  let app: ServeHandle | undefined;
  let work: string;
  const onSourdough: Record<string, unknown> = {};
  let handlesBefore: string[];
  let closed = false;
  const closeAll = async () => {
    if (closed) return;
    closed = true;
    await app?.close();
    await mf?.dispose();
    project?.remove();
    if (work !== undefined) rmSync(work, { recursive: true, force: true });
  };
  const toWorkerd = (url: string, init: RequestInit) => mf.dispatchFetch(url, init);

  beforeAll(async () => {
    handlesBefore = ioHandles();
    miniflare = await loadMiniflare();
    work = mkdtempSync(path.join(os.tmpdir(), "sourdough-cf-data-"));
    project = await buildWorkerdProject("test/engines/fixtures/cloudflare-ledger/main.ts", compatibilityDate(miniflare));
    mf = await startWorkerd(miniflare, project, { SOURDOUGH_IMPORT_SECRET: SECRET });
    app = startLedger(path.join(work, "store"));
    await app.ready;
    const call = async (target: string) => {
      const res = await fetch(new URL(target, app!.url), { method: "POST" });
      expect(res.status, `${target}: ${await res.clone().text()}`).toBe(200);
      return res.json();
    };
    for (const [i, name] of NAMES.entries()) {
      const n = encodeURIComponent(name);
      await call(`/record?name=${n}&label=first&amount=${i + 0.25}&big=9007199254740993`);
      await call(`/record?name=${n}&label=second&amount=-1&big=-${i}`);
      if (name !== "bob") await call(`/remember?name=${n}&key=state`);
      if (name === "alice") await call(`/schedule?name=${n}&at=${ALARM_AT}`);
    }
    await call("/unique"); // an object made by newUniqueId: it has no name
    for (const name of NAMES) onSourdough[name] = await call(`/snapshot?name=${encodeURIComponent(name)}`);
  });

  afterAll(closeAll);

  it("records the names objects were addressed by, beside their databases", () => {
    const dir = path.join(work, "store", "Ledger");
    const names = readdirSync(dir).filter((f) => f.endsWith(".name")).map((f) => readFileSync(path.join(dir, f), "utf8"));
    expect(names.sort()).toEqual([...NAMES].sort());
    expect(readdirSync(dir).filter((f) => f.endsWith(".sqlite"))).toHaveLength(4);
  });

  it("refuses to export while the app holds the databases", async () => {
    const result = await cli(["export", "--storage-dir", "store", "--namespace", "Ledger", "-o", "running.json"], work);
    expect(result.code).toBe(1);
    expect(result.err).toMatch(/^sourdough-cloudflare export: export Ledger [0-9a-f]{64}: cannot read .*\.sqlite \(database is locked\)\. Stop the app first: a running host holds each database exclusively\.$/);
    expect(existsSync(path.join(work, "running.json"))).toBe(false);
  });

  it("exports every object, with its name, KV entries, SQL schema and rows, and alarm; reports the nameless one", async () => {
    await app!.close();
    app = undefined;
    const result = await cli(["export", "--storage-dir", "store", "--namespace", "Ledger", "-o", "ledger.json"], work);
    expect(result.err).toBe("");
    expect(result.code).toBe(0);
    const lines = result.out.split("\n");
    expect(lines[0]).toBe("exported 4 Ledger object(s) to ledger.json");
    expect(lines.slice(1)).toEqual([expect.stringMatching(/^warning: Ledger [0-9a-f]{64} has no recorded name: it cannot be imported on Cloudflare \(objects are found by name there\)$/)]);
    const file = JSON.parse(readFileSync(path.join(work, "ledger.json"), "utf8")) as ExportFile;
    expect(file.objects.map((o) => o.name).sort((a, b) => String(a).localeCompare(String(b)))).toEqual(["alice", "bob", "café ☕", null]);
    const alice = file.objects.find((o) => o.name === "alice")!;
    expect(alice.alarm).toBe(ALARM_AT);
    expect(alice.schema.map((s) => `${s.type} ${s.name}`)).toEqual(["table entries", "index entries_by_label"]);
    expect(alice.tables[0]!.rows[0]).toEqual([1, "first", 0.25, { $: "bigint", v: "9007199254740993" }, { $: "Uint8Array", b: "AAEC" }]);
  });

  it("refuses an import without the right secret, and answers 404 where no secret is set", async () => {
    const wrong = await cli(["import", "ledger.json", "--url", "http://ledger.example", "--secret", "nope"], work, toWorkerd);
    expect(wrong.code).toBe(1);
    expect(wrong.err).toBe("sourdough-cloudflare import: import: http://ledger.example/__sourdough/import answered 401: /__sourdough/import: wrong or missing bearer token. Pass --secret with the value of SOURDOUGH_IMPORT_SECRET.");
    const closed = await startWorkerd(miniflare, project);
    try {
      const off = await cli(["import", "ledger.json", "--url", "http://ledger.example", "--secret", SECRET], work, (url, init) => closed.dispatchFetch(url, init));
      expect(off.code).toBe(1);
      expect(off.err).toContain("answered 404: /__sourdough/import: data import is disabled. Set the SOURDOUGH_IMPORT_SECRET secret");
    } finally {
      await closed.dispose();
    }
  });

  it("imports into workerd by name and reads back equal", async () => {
    const result = await cli(["import", "ledger.json", "--url", "http://ledger.example", "--secret", SECRET], work, toWorkerd);
    expect(result.err).toBe("");
    expect(result.code).toBe(0);
    expect(result.out.split("\n")).toEqual([
      "imported 3 Ledger object(s) into http://ledger.example",
      expect.stringMatching(/^skipped Ledger [0-9a-f]{64}: no recorded name/),
    ]);
    for (const name of NAMES) {
      const res = await mf.dispatchFetch(`http://ledger.example/snapshot?name=${encodeURIComponent(name)}`);
      expect({ name, snapshot: await res.json() }).toEqual({ name, snapshot: onSourdough[name] });
    }
    expect((onSourdough.alice as { alarm: number }).alarm).toBe(ALARM_AT);
    expect((onSourdough.bob as { kv: unknown[] }).kv).toEqual([]);
    const state = JSON.stringify((onSourdough.alice as { kv: unknown[] }).kv);
    for (const shown of ['"1180591620717411303424n"', '{"Date":"2023-11-14T22:13:20.000Z"}', '{"Map":[["x",1],[2,"two"]]}', '{"Array":[1,"undefined","hole","-0","NaN","Infinity","s",null]}', '{"Float64Array":[1.5,"-0"]}', '{"RegExp":"/a+b/gi"}', '{"Error":"RangeError: kept"}']) {
      expect(state).toContain(shown);
    }
  });

  it("refuses to import into objects that already hold data, naming them", async () => {
    const again = await cli(["import", "ledger.json", "--url", "http://ledger.example", "--secret", SECRET], work, toWorkerd);
    expect(again.code).toBe(1);
    expect(again.err.split("\n")).toHaveLength(3);
    expect(again.err).toMatch(/failed Ledger "alice" \([0-9a-f]{64}\): HTTP 409: \/__sourdough\/import: Ledger "alice": the object already holds data \(KV entries, rows in entries\)\. Import into objects that are still empty/);
  });

  it("rolls an object back when its import fails part way, so it can be imported again", async () => {
    const file = JSON.parse(readFileSync(path.join(work, "ledger.json"), "utf8")) as ExportFile;
    const alice = file.objects.find((o) => o.name === "alice")!;
    const broken: ExportFile = { ...file, objects: [{ ...alice, name: "zed", tables: [{ ...alice.tables[0]!, columns: [...alice.tables[0]!.columns.slice(0, -1), "no_such_column"] }] }] };
    writeFileSync(path.join(work, "broken.json"), JSON.stringify(broken));
    const failed = await cli(["import", "broken.json", "--url", "http://ledger.example", "--secret", SECRET], work, toWorkerd);
    expect(failed.code).toBe(1);
    expect(failed.err).toMatch(/^failed Ledger "zed" \([0-9a-f]{64}\): HTTP 409: \/__sourdough\/import: table entries has no column named no_such_column/);
    const empty = await (await mf.dispatchFetch("http://ledger.example/snapshot?name=zed")).json();
    expect(empty).toEqual({ kv: [], rows: [], indexes: [], alarm: null });
    writeFileSync(path.join(work, "fixed.json"), JSON.stringify({ ...file, objects: [{ ...alice, name: "zed" }] }));
    const fixed = await cli(["import", "fixed.json", "--url", "http://ledger.example", "--secret", SECRET], work, toWorkerd);
    expect([fixed.code, fixed.err]).toEqual([0, ""]);
    expect(await (await mf.dispatchFetch("http://ledger.example/snapshot?name=zed")).json()).toEqual(onSourdough.alice);
  });

  it("refuses a file that is not an export, saying what it is", async () => {
    writeFileSync(path.join(work, "other.json"), JSON.stringify({ format: "something-else", objects: [] }));
    const result = await cli(["import", "other.json", "--url", "http://ledger.example", "--secret", SECRET], work, toWorkerd);
    expect(result.code).toBe(1);
    expect(result.err).toBe(`sourdough-cloudflare import: ${path.join(work, "other.json")}: not a sourdough-export file of version 1 (format "something-else", version undefined). Pass a file written by sourdough-cloudflare export.`);
  });

  it("leaves no process, socket or temp dir behind", async () => {
    await closeAll();
    // workerd's process handle goes a moment after dispose() resolves: wait for it, a leak still fails.
    await vi.waitFor(() => expect(ioHandles()).toEqual(handlesBefore), { timeout: 5000 });
    expect([existsSync(project.dir), existsSync(work)]).toEqual([false, false]);
  });
});
