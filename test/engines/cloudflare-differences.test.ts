// What the workerd module and the generated project give an app with no Node import, and what still
// differs between the engines, each shown by running the same probe requests on both. docs/cloudflare.md
// lists these differences and names the test that shows each one.
import path from "node:path";
import ts from "typescript";
import type { ServeHandle } from "sourdough";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { miniflareSkipReason, type MiniflareInstance } from "../support/miniflare.ts";
import { REPO, startTwoEngines, type TwoEngines, type WorkerdProject } from "./cloudflare-harness.ts";
import { startProbe } from "./fixtures/cloudflare-probe/main.ts";

const skip = miniflareSkipReason();
if (skip !== undefined) console.log(skip);

type Outcome = { value?: unknown; error?: { name: string; message: string; code: string | null } };

describe("the sourdough package under the workerd/worker conditions", () => {
  it("resolves to the same type declarations under both conditions", () => {
    const resolve = (customConditions: string[]) =>
      ts.resolveModuleName("sourdough", path.join(REPO, "test/engines/fixtures/cloudflare-probe/probe.ts"), {
        module: ts.ModuleKind.NodeNext,
        moduleResolution: ts.ModuleResolutionKind.NodeNext,
        customConditions,
      }, ts.sys).resolvedModule?.resolvedFileName;
    expect(resolve([])).toBe(path.join(REPO, "dist/runtime/index.d.ts"));
    expect(resolve(["workerd"])).toBe(resolve([]));
    expect(resolve(["worker"])).toBe(resolve([]));
  });
});

describe.skipIf(skip)("sourdough and workerd differences (probe app)", () => {
  let project: WorkerdProject;
  let mf: MiniflareInstance;
  let app: ServeHandle;
  let engines: TwoEngines;
  const onBoth = async (target: string): Promise<{ sourdough: Outcome; workerd: Outcome }> => {
    const a = await fetch(new URL(target, app.url));
    const b = await mf.dispatchFetch(new URL(target, "http://probe.example").href);
    return { sourdough: (await a.json()) as Outcome, workerd: (await b.json()) as Outcome };
  };

  beforeAll(async () => {
    engines = await startTwoEngines("test/engines/fixtures/cloudflare-probe/main.ts", startProbe);
    ({ project, mf, app } = engines);
  });

  afterAll(() => engines?.close());

  it("bundles a class importing sourdough's values and type helpers with no Node import", () => {
    expect(project.bundle).not.toMatch(/["']node:/);
    expect(project.bundle).not.toMatch(/better-sqlite3|msgpackr|ts-morph/);
    expect(project.bundle.length).toBeLessThan(40_000); // the probe, the workerd module and the import route
  });

  it("notes dropped options and warns of sourdough-only features, by option", () => {
    expect(project.problems.map((p) => `${p.severity} ${p.code} ${p.message.split(":")[0]}`)).toEqual([
      "note CF4101 modules",
      "note CF4101 hostCount",
      "note CF4101 isolatesPerHost",
      "note CF4101 storageDir",
      "warning CF4201 callTimeoutMs",
      "warning CF4203 withCallOptions",
    ]);
    expect(project.wrangler.vars).toEqual({ GREETING: "hello from env" });
  });

  it("gives the same answers for calls, env vars, sourdough's values and thrown errors", async () => {
    for (const target of ["/add", "/greeting", "/error-code", "/throw?kind=range", "/throw?kind=code", "/large-value?bytes=1000000"]) {
      const { sourdough, workerd } = await onBoth(target);
      expect({ target, outcome: workerd }).toEqual({ target, outcome: sourdough });
    }
    expect((await onBoth("/throw?kind=code")).workerd).toEqual({ error: { name: "Error", message: "with a code", code: "E_APP" } });
  });

  it("differs in id values (both 64 hex; the name is kept on both)", async () => {
    const ids = await onBoth("/id-from-name?name=room-1");
    expect(ids.sourdough.value).toMatch(/^[0-9a-f]{64}$/);
    expect(ids.workerd.value).toMatch(/^[0-9a-f]{64}$/);
    expect(ids.workerd.value).not.toBe(ids.sourdough.value);
    const who = await onBoth("/who-am-i?name=room-1");
    expect(who.sourdough.value).toEqual({ id: ids.sourdough.value, name: "room-1" });
    expect(who.workerd.value).toEqual({ id: ids.workerd.value, name: "room-1" });
  });

  it("differs in the errors of an unknown method and of a malformed id", async () => {
    expect(await onBoth("/missing-method")).toEqual({
      sourdough: { error: { name: "SourdoughError", message: "Probe.nope: no such RPC method on class Probe. Callable methods: add, echo, fail, putLarge, whoAmI.", code: "ERR_METHOD_NOT_FOUND" } },
      workerd: { error: { name: "TypeError", message: 'The RPC receiver does not implement the method "nope".', code: null } },
    });
    expect(await onBoth("/bad-id")).toEqual({
      sourdough: { error: { name: "SourdoughError", message: 'Probe.idFromString: "not-an-id" is not a Durable Object id. An id is 64 lowercase hex characters, as returned by id.toString().', code: "ERR_BAD_ID" } },
      workerd: { error: { name: "TypeError", message: "Invalid Durable Object ID: must be 64 hex digits", code: null } },
    });
  });

  it("passes functions as arguments by reference on both engines (no longer a difference, issue 14)", async () => {
    expect(await onBoth("/function-argument")).toEqual({ sourdough: { value: "function" }, workerd: { value: "function" } });
  });

  it("differs on the largest stored value (2,100,000 characters pass on workerd only) and on the message over it", async () => {
    const { sourdough, workerd } = await onBoth("/large-value?bytes=2100000");
    expect(workerd).toEqual({ value: true });
    expect(sourdough.error).toEqual({ name: "Error", message: 'storage.put("large"): string or blob too big: SQLITE_TOOBIG. A value is 2100007 bytes serialized; the limit is 2 MB.', code: "ERR_STORAGE" });
    expect(await onBoth("/large-value?bytes=2200000")).toEqual({
      sourdough: { error: { name: "Error", message: 'storage.put("large"): string or blob too big: SQLITE_TOOBIG. A value is 2200007 bytes serialized; the limit is 2 MB.', code: "ERR_STORAGE" } },
      workerd: { error: { name: "Error", message: "string or blob too big: SQLITE_TOOBIG", code: null } },
    });
  });
});
