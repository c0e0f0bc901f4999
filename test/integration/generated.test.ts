// Generated codecs at run time: the counter example with sourdough-gen's stubs and codecs across 2
// hosts, the host side dispatching by method id, classes without codecs still on msgpackr, and
// schema evolution across processes (a stub generated from an older schema calling a newer host).
import { cpSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SourdoughError, type GeneratedModule } from "sourdough";
import { generate, writeFiles } from "../../codegen/generate.ts";
import { Counter } from "../../examples/counter/counter.ts";
import { generated } from "../../examples/counter/sourdough.gen/index.ts";
import type { CounterStub } from "../../examples/counter/sourdough.gen/stubs.ts";
import { CallKind } from "../../runtime/wire/envelope.ts";
import { FrameWriter } from "../../runtime/wire/frame-writer.ts";
import { decodeMessage } from "../../runtime/wire/decode-message.ts";
import { encodePayload } from "../../runtime/wire/payload.ts";
import { TestCounter } from "../fixtures/objects.ts";
import { FIXTURES, startCluster, type TestCluster } from "../support/cluster.ts";
import { exchangeFrames } from "../support/raw-socket.ts";

describe("generated codecs: the counter example on 2 hosts", () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await startCluster({ hostCount: 2, isolatesPerHost: 1, generated, modules: [FIXTURES], durableObjects: {} });
  });
  afterAll(() => cluster.close());

  it("calls through generated stubs and codecs, and says so", async () => {
    const { coordinator } = cluster;
    expect(coordinator.wireFormat(Counter)).toBe("generated");
    expect(coordinator.wireFormat(TestCounter)).toBe("msgpack");
    const pids = new Set<number>();
    for (let i = 0; i < 12; i++) {
      const stub: CounterStub = coordinator.get(`gen-${i}`, Counter);
      expect(await stub.increment(i)).toBe(i);
      expect(await stub.increment()).toBe(i + 1);
      pids.add((await stub.whereAmI()).pid);
    }
    expect(pids.size).toBe(2);
    expect(await coordinator.get("plain", TestCounter).increment(3)).toBe(3); // no codecs: msgpackr
  });

  it("checks argument types in the caller's codec, before anything is sent", async () => {
    const stub = cluster.coordinator.get("typed", Counter) as unknown as { increment(by: unknown): Promise<number> };
    const error = await stub.increment("5").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SourdoughError);
    expect(error).toMatchObject({ code: "ERR_UNSUPPORTED_TYPE" });
    expect((error as Error).message).toBe('Counter.increment, argument 1 (by): expected a number, got "5".'); // the method named once
  });

  it("dispatches by method id on the host, answering in the Results layout", async () => {
    const { coordinator } = cluster;
    const id = coordinator.namespace(Counter).idFromName("raw-generated");
    const codec = generated.codecs["Counter"]!["increment"]!;
    const w = new FrameWriter();
    w.writeCall(1, CallKind.Method, codec.id, "Counter", id.toString(), "", codec.encodeParams([41]), undefined);
    w.writeCall(2, CallKind.Method, codec.id, "Counter", id.toString(), "increment", encodePayload([1], "test"), undefined);
    w.writeCall(3, CallKind.Method, 999, "Counter", id.toString(), "increment", codec.encodeParams([1]), undefined);
    const answers = await exchange(coordinator.locate(Counter, id)!.socketPath, w.take(), 3);
    const byId = new Map(answers.map((m) => [m.questionId, m]));
    const first = byId.get(1)!;
    expect(first.which).toBe(1);
    expect(codec.decodeResult((first as { payload: Uint8Array }).payload)).toBe(41);
    expect(byId.get(2)).toMatchObject({ which: 2, code: "ERR_PROTOCOL" }); // msgpack bytes are not Params
    expect((byId.get(2) as { message: string }).message).toMatch(/^sourdough codec, Counter\.increment parameters: .*re-run `sourdough-gen`/);
    expect(byId.get(3)).toMatchObject({ which: 2, code: "ERR_METHOD_NOT_FOUND" });
  });
});

describe("generated codecs in-process (hostCount: 0)", () => {
  it("use the same codecs, so the same type checks and results", async () => {
    const cluster = await startCluster({ hostCount: 0, generated, durableObjects: { COUNTER: Counter } });
    try {
      const stub = cluster.coordinator.get("local", Counter);
      expect(cluster.coordinator.wireFormat(Counter)).toBe("generated");
      expect(await stub.increment(2)).toBe(2);
      await expect((stub as unknown as { increment(by: unknown): Promise<number> }).increment("2")).rejects.toMatchObject({ code: "ERR_UNSUPPORTED_TYPE" });
    } finally {
      await cluster.close();
    }
  });
});

// An old and a new version of one class, generated at test time inside the repo (so "sourdough"
// resolves), the new one from the old one's IR so ids and ordinals carry over.
const WORK = fileURLToPath(new URL("../.generated/evolution/", import.meta.url));
const V1 = `import { DurableObject } from "sourdough";
export interface Item { name: string; qty: number }
export class Evolving extends DurableObject {
  add(a: number): number { return a + 1; }
  describe(item: Item): string { return \`\${item.qty} × \${item.name}\`; }
}
`;
const V2 = `import { DurableObject } from "sourdough";
export interface Item { name: string; qty: number; note?: string }
export class Evolving extends DurableObject {
  add(a: number, b?: number): number { return a + (b ?? 1); }
  describe(item: Item): string { return \`\${item.qty} × \${item.name}\${item.note ? \` (\${item.note})\` : ""}\`; }
  added(): string { return "new in v2"; }
}
`;

function generateVersion(name: string, source: string, previous?: string): string {
  const dir = path.join(WORK, name);
  mkdirSync(path.join(dir, "src"), { recursive: true });
  writeFileSync(path.join(dir, "src", "evolving.ts"), source);
  writeFileSync(
    path.join(dir, "tsconfig.json"),
    JSON.stringify({ compilerOptions: { target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext", strict: true, allowImportingTsExtensions: true, noEmit: true, skipLibCheck: true }, include: ["src"] }),
  );
  const out = path.join(dir, "gen");
  if (previous !== undefined) cpSync(path.join(WORK, previous, "gen"), out, { recursive: true });
  const result = generate({ project: path.join(dir, "tsconfig.json"), out, cwd: dir });
  expect(result.diagnostics).toEqual([]);
  writeFiles(result.files);
  return out;
}

describe("schema evolution across processes", () => {
  let v1: GeneratedModule;
  let v2: GeneratedModule;
  beforeAll(async () => {
    rmSync(WORK, { recursive: true, force: true });
    const v1Out = generateVersion("v1", V1);
    const v2Out = generateVersion("v2", V2, "v1");
    v1 = ((await import(path.join(v1Out, "index.ts"))) as { generated: GeneratedModule }).generated;
    v2 = ((await import(path.join(v2Out, "index.ts"))) as { generated: GeneratedModule }).generated;
  });
  afterAll(() => rmSync(WORK, { recursive: true, force: true }));

  it("lets a stub built from the old schema call a host running the new one", async () => {
    expect(v2.codecs["Evolving"]!["add"]!.id).toBe(v1.codecs["Evolving"]!["add"]!.id);
    // Hosts load v2's classes and codecs; this process encodes and decodes with v1's codecs.
    const mixed: GeneratedModule = { registry: v2.registry, codecs: v1.codecs, url: v2.url };
    const cluster = await startCluster({ hostCount: 1, isolatesPerHost: 1, generated: mixed, modules: [], durableObjects: {} });
    try {
      // The caller's copy of the class is the old one, as it would be in an older client build.
      const { Evolving } = (await import(path.join(WORK, "v1", "src", "evolving.ts"))) as { Evolving: typeof TestCounter };
      const old = cluster.coordinator.get("e", Evolving) as unknown as { add(a: number): Promise<number>; describe(i: { name: string; qty: number }): Promise<string> };
      expect(await old.add(41)).toBe(42); // v2 reads the absent `b` as not given
      expect(await old.describe({ name: "apple", qty: 3 })).toBe("3 × apple");
    } finally {
      await cluster.close();
    }
  });
});

type Answer = ReturnType<typeof decodeMessage> & { questionId: number };

async function exchange(socketPath: string, bytes: Buffer, count: number): Promise<Answer[]> {
  const frames = await exchangeFrames(socketPath, bytes, count);
  return frames.map((frame) => decodeMessage(frame, 8, frame.length) as Answer);
}
