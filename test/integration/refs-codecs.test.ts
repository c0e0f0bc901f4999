// Ids and stubs through sourdough-gen's codecs at run time (issue 14, item 1): a class whose methods
// take and return DurableObjectStub<C> and DurableObjectId (also in a struct field and in lists) gets
// codecs (no SD1008, no msgpack fallback), calls go through them, and what arrives works; a forged or
// foreign DurableObjectRef sent straight to an isolate socket is refused with ERR_BAD_ID while the
// connection goes on answering. Codecs are generated at test time from test/fixtures/rpc-refs.ts.
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DurableObjectId, type ClusterCoordinator, type DurableObjectStub, type GeneratedModule, type MethodCodec } from "sourdough";
import { generate, writeFiles } from "../../codegen/generate.ts";
import { CallKind } from "../../runtime/wire/envelope.ts";
import { FrameWriter } from "../../runtime/wire/frame-writer.ts";
import { decodeMessage } from "../../runtime/wire/decode-message.ts";
import { Hub, Peer, Tally, type Team } from "../fixtures/rpc-refs.ts";
import { encodeWithSchema, loadSchema, type OracleSchema } from "../support/capnp-oracle.ts";
import { startCluster, type TestCluster } from "../support/cluster.ts";
import { exchangeFrames } from "../support/raw-socket.ts";
import { failOnUnhandledRejections } from "../support/unhandled.ts";

const WORK = fileURLToPath(new URL("../.generated/rpc-refs/", import.meta.url));
const SOURCE = fileURLToPath(new URL("../fixtures/rpc-refs.ts", import.meta.url));

let generated: GeneratedModule;
let schema: OracleSchema;
beforeAll(async () => {
  rmSync(WORK, { recursive: true, force: true });
  mkdirSync(WORK, { recursive: true });
  const tsconfig = path.join(WORK, "tsconfig.json");
  writeFileSync(tsconfig, JSON.stringify({ compilerOptions: { target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext", strict: true, allowImportingTsExtensions: true, noEmit: true, skipLibCheck: true }, files: [SOURCE] }));
  const result = generate({ project: tsconfig, out: path.join(WORK, "gen"), cwd: WORK });
  expect(result.diagnostics).toEqual([]);
  // No SD1008 for Peer and Hub: ids and stubs have a codec. Tally's callback and stream do not.
  expect(result.warnings.map((w) => `${w.code} ${w.message.split(":")[0]}`)).toEqual(["SD1008 Tally.each", "SD1008 Tally.upload"]);
  expect(result.ir?.classes.map((c) => [c.name, c.methods.map((m) => m.name), c.msgpackMethods])).toEqual([
    ["Peer", ["ping"], undefined],
    ["Hub", ["greet", "useId", "team", "rollCall", "me"], undefined],
    ["Tally", ["add"], ["each", "upload"]],
  ]);
  writeFiles(result.files);
  generated = ((await import(path.join(WORK, "gen", "index.ts"))) as { generated: GeneratedModule }).generated;
  schema = await loadSchema(path.join(WORK, "gen", "schema.capnp"));
}, 60_000);
afterAll(() => rmSync(WORK, { recursive: true, force: true }));

/** The generated codecs with a count of each function's calls in this process, by "Class.method.fn". */
function counted(module: GeneratedModule): { module: GeneratedModule; counts: Map<string, number> } {
  const counts = new Map<string, number>();
  const codecs: Record<string, Record<string, MethodCodec>> = {};
  for (const [cls, methods] of Object.entries(module.codecs)) {
    codecs[cls] = {};
    for (const [name, c] of Object.entries(methods)) {
      const count = <A extends unknown[], R>(fn: string, f: (...a: A) => R) => (...a: A): R => {
        counts.set(`${cls}.${name}.${fn}`, (counts.get(`${cls}.${name}.${fn}`) ?? 0) + 1);
        return f(...a);
      };
      codecs[cls][name] = { id: c.id, encodeParams: count("encodeParams", c.encodeParams), decodeParams: count("decodeParams", c.decodeParams), encodeResult: count("encodeResult", c.encodeResult), decodeResult: count("decodeResult", c.decodeResult) };
    }
  }
  return { module: { ...module, codecs }, counts };
}

describe.each([
  { mode: "2 host processes", hostCount: 2 },
  { mode: "in-process (hostCount: 0)", hostCount: 0 },
])("ids and stubs through generated codecs: $mode", ({ hostCount }) => {
  let cluster: TestCluster;
  let coordinator: ClusterCoordinator;
  let counts: Map<string, number>;
  failOnUnhandledRejections(50);
  beforeAll(async () => {
    const c = counted(generated);
    counts = c.counts;
    cluster = await startCluster({ hostCount, isolatesPerHost: 1, generated: c.module, modules: [], durableObjects: { PEER: Peer, HUB: Hub, TALLY: Tally } });
    coordinator = cluster.coordinator;
  });
  afterAll(() => cluster?.close());

  /** Runs `f` and says how often each codec function of `method` ran meanwhile in this process. */
  async function through<T>(method: string, f: () => Promise<T>): Promise<{ value: T; calls: Record<string, number> }> {
    const before = new Map(counts);
    const value = await f();
    const calls: Record<string, number> = {};
    for (const [k, n] of counts) if (k.startsWith(`${method}.`) && n !== (before.get(k) ?? 0)) calls[k.slice(method.length + 1)] = n - (before.get(k) ?? 0);
    return { value, calls };
  }
  // The caller's side always encodes the params and decodes the result; in-process, this process is
  // also the callee's side.
  const both = (n = 1) => (hostCount === 0 ? { encodeParams: n, decodeParams: n, encodeResult: n, decodeResult: n } : { encodeParams: n, decodeResult: n });

  it("says the classes use the generated codecs", () => {
    expect(coordinator.wireFormat(Hub)).toBe("generated");
    expect(coordinator.wireFormat(Peer)).toBe("generated");
  });

  it("passes a stub as an argument: the object calls it", async () => {
    const peer = coordinator.get("alice", Peer);
    const { value, calls } = await through("Hub.greet", () => coordinator.get("hub-1", Hub).greet(peer));
    expect(value).toMatchObject({ name: "alice", pings: 1 });
    expect(calls).toEqual(both());
    expect(await peer.ping()).toMatchObject({ name: "alice", pings: 2 }); // the same object
  });

  it("passes an id as an argument: it arrives as a DurableObjectId of the same object", async () => {
    const id = coordinator.namespace(Peer).idFromName("bob");
    const { value, calls } = await through("Hub.useId", () => coordinator.get("hub-1", Hub).useId(id));
    expect(value).toMatchObject({ isId: true, hex: id.toString(), name: "bob", pong: { name: "bob", pings: 1 } });
    expect(calls).toEqual(both());
    const unique = coordinator.namespace(Peer).newUniqueId();
    expect((await coordinator.get("hub-1", Hub).useId(unique)).name).toBe(""); // no name travels as none
  });

  it("returns stubs and ids in a struct field and in lists; the returned stubs work", async () => {
    const { value: team, calls } = await through("Hub.team", () => coordinator.get("hub-2", Hub).team(["carol", "dave", "erin"]));
    expect(calls).toEqual(both());
    expect(team.ids.map((id) => [id instanceof DurableObjectId, id.name, id.toString()])).toEqual(
      ["carol", "dave", "erin"].map((n) => [true, n, coordinator.namespace(Peer).idFromName(n).toString()]),
    );
    expect(String(team.lead)).toBe(String(coordinator.get("carol", Peer)));
    expect(team.backup).toBeUndefined();
    const pongs = await Promise.all([team.lead, ...team.members].map((s) => s.ping()));
    expect(pongs.map((p) => p.name)).toEqual(["carol", "dave", "erin"]);
    expect(coordinator.get("dave", Peer).id.equals(team.members[0]!.id)).toBe(true);
    const me = await coordinator.get("hub-2", Hub).me();
    expect(me.equals(coordinator.namespace(Hub).idFromName("hub-2"))).toBe(true);
  });

  it("sends a struct of stubs and ids to an object, which calls each and sends it back", async () => {
    const peers = (n: string) => coordinator.get(n, Peer);
    const team: Team = { lead: peers("frank"), members: [peers("gina"), peers("hal")], ids: [coordinator.namespace(Peer).idFromName("ivy")], backup: peers("jo") };
    const { value, calls } = await through("Hub.rollCall", () => coordinator.get("hub-3", Hub).rollCall(team));
    expect(calls).toEqual(both());
    expect(value.answers.map((a) => a.name)).toEqual(["frank", "gina", "hal", "jo", "ivy"]);
    if (hostCount > 0) expect(new Set(value.answers.map((a) => a.pid)).size).toBe(2); // objects on both hosts
    expect(String(value.team.backup)).toBe(String(team.backup));
    expect((await value.team.members[1]!.ping()).pings).toBe(2);
  });

  it("runs a class's SD1008 methods (a callback, a byte stream) as msgpack beside its codec methods", async () => {
    const tally = coordinator.get("tally-1", Tally);
    expect((await through("Tally.add", () => tally.add(5))).calls).toEqual(both());
    const visited: number[] = [];
    const { value: seen, calls } = await through("Tally.each", () => tally.each(3, async (i) => (visited.push(i), `v${i}`)));
    expect(calls).toEqual({}); // no codec: msgpack by name
    expect([seen, visited]).toEqual([["v0", "v1", "v2"], [0, 1, 2]]);
    const chunks = [new Uint8Array(100_000).fill(1), new Uint8Array(300_000).fill(2), new Uint8Array(7)];
    const body = new ReadableStream<Uint8Array>({ pull: (c) => { const next = chunks.shift(); if (next === undefined) c.close(); else c.enqueue(next); } });
    expect(await tally.upload(body)).toEqual({ bytes: 400_007, total: 400_012 });
    expect(await tally.add(0)).toBe(400_012); // the codec method sees the msgpack method's state
  });

  it("refuses what is not an id or a stub in the caller's codec, before anything is sent", async () => {
    const hub = coordinator.get("hub-1", Hub) as unknown as { greet(p: unknown): Promise<unknown>; useId(id: unknown): Promise<unknown> };
    await expect(hub.greet(coordinator.namespace(Peer).idFromName("x"))).rejects.toMatchObject({ code: "ERR_UNSUPPORTED_TYPE", message: "Hub.greet, argument 1 (peer): expected a Durable Object stub, got a DurableObjectId." });
    await expect(hub.useId("ab".repeat(32))).rejects.toMatchObject({ code: "ERR_UNSUPPORTED_TYPE" });
  });
});

describe("forged and foreign DurableObjectRefs at an isolate socket", () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await startCluster({ hostCount: 2, isolatesPerHost: 1, generated, modules: [], durableObjects: { PEER: Peer, HUB: Hub } });
  });
  afterAll(() => cluster?.close());

  it("answers each with ERR_BAD_ID and keeps serving the connection", async () => {
    const { coordinator } = cluster;
    const hubId = coordinator.namespace(Hub).idFromName("guarded");
    const greet = generated.codecs["Hub"]!["greet"]!;
    const good: DurableObjectStub<Peer> = coordinator.get("kim", Peer);
    const ref = { namespace: "Peer", id: good.id.toString(), name: "kim", hasName: true, cluster: coordinator.runDir };
    const calls: Array<[string, Uint8Array]> = [
      ["forged id", encodeWithSchema(schema, "HubGreetParams", { peer: { ...ref, id: "ab".repeat(32) } })],
      ["a Peer id claimed for Hub", encodeWithSchema(schema, "HubGreetParams", { peer: { ...ref, namespace: "Hub" } })],
      ["another cluster", encodeWithSchema(schema, "HubGreetParams", { peer: { ...ref, cluster: "/tmp/some-other-cluster" } })],
      ["no ref", encodeWithSchema(schema, "HubGreetParams", {})],
      ["good", greet.encodeParams([good])],
    ];
    const w = new FrameWriter();
    calls.forEach(([, payload], i) => w.writeCall(i + 1, CallKind.Method, greet.id, "Hub", hubId.toString(), "", payload, undefined));
    const frames = await exchangeFrames(coordinator.locate(Hub, hubId)!.socketPath, w.take(), calls.length);
    const answers = new Map(frames.map((f) => decodeMessage(f, 8, f.length) as { questionId: number; which: number; code?: string; message?: string; payload?: Uint8Array }).map((m) => [m.questionId, m]));
    for (let i = 0; i < 4; i++) expect(answers.get(i + 1), calls[i]![0]).toMatchObject({ which: 2, code: "ERR_BAD_ID" });
    expect(answers.get(1)?.message).toContain(`"${"ab".repeat(32)}" is not an id of namespace Peer`);
    expect(answers.get(3)?.message).toContain('it belongs to a cluster this process is not part of ("/tmp/some-other-cluster")');
    const ok = answers.get(5);
    expect(ok?.which).toBe(1);
    expect(greet.decodeResult(ok!.payload!)).toMatchObject({ name: "kim", pings: 1 });
    expect(await good.ping()).toMatchObject({ name: "kim", pings: 2 }); // the refused calls reached no object
  });

  it("refuses a call that would activate an object under another object's name", async () => {
    const { coordinator } = cluster;
    const greet = generated.codecs["Hub"]!["greet"]!;
    const elsewhere = coordinator.namespace(Hub).idFromName("elsewhere");
    const w = new FrameWriter();
    w.writeCall(1, CallKind.Method, greet.id, "Hub", elsewhere.toString(), "", greet.encodeParams([coordinator.get("lee", Peer)]), "guarded");
    const [frame] = await exchangeFrames(coordinator.locate(Hub, elsewhere)!.socketPath, w.take(), 1);
    expect(decodeMessage(frame!, 8, frame!.length)).toMatchObject({ which: 2, code: "ERR_BAD_ID", message: expect.stringContaining(`the call names object ${elsewhere.toString()} "guarded", but idFromName("guarded") is another id`) });
    expect((await coordinator.get("elsewhere", Hub).me()).name).toBe("elsewhere"); // activated later under its own name
  });
});
