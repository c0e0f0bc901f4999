// Ids and stubs in the generated codecs (the DurableObjectRef struct): byte-identical to capnp-ts, read
// by capnp-ts and `capnp decode`, rebuilt as working ids and stubs of the same object, and checked on
// arrival exactly as the msgpack path checks them (a forged or foreign ref is ERR_BAD_ID).
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
// The codecs import `sourdough/codecs` from dist/: ids, stubs and errors must be dist's too (one runtime).
import { SourdoughError } from "../../dist/runtime/errors.js";
import { DurableObjectId } from "../../dist/runtime/ids.js";
import { DurableObjectNamespace, registerRouter, type ClientRouter } from "../../dist/runtime/rpc/stub.js";
import type { IrMethod, IrProject } from "../../codegen/ir.ts";
import { REF_DATA_WORDS, REF_POINTERS } from "../../runtime/codecs/refs.ts";
import { layoutStruct } from "../../codegen/layout.ts";
import { refStruct } from "../../codegen/ir.ts";
import { codecs } from "./fixtures/refs/expected/codecs.ts";
import { type OracleSchema, capnpAvailable, capnpDecode, capnpEncode, decodeWithSchema, encodeWithSchema, findStruct, loadSchema } from "../support/capnp-oracle.ts";
import { CAPNP_MARK } from "../support/capnp-notice.ts";
import { formatDiagnostic } from "../../codegen/diagnostics.ts";
import { REPO, caseNamed, generateCase } from "./support/fixtures.ts";
import { type RefValues, ValueFactory, argsObject, loadIr, normalize, toOracle } from "./support/values.ts";

const CLUSTER = "refs-test-cluster";
const reached: string[] = [];
// A cluster of this process: stubs of it arriving here are rebuilt with this router.
const router: ClientRouter = {
  clusterId: CLUSTER,
  clientFor(namespace, objectId) {
    reached.push(`${namespace}/${objectId}`);
    throw new Error("no calls in this test");
  },
};
registerRouter(router);
const peers = new DurableObjectNamespace("Peer", router);
const hubs = new DurableObjectNamespace("Hub", router);

const ref = (of: "id" | "stub", v: unknown): Record<string, unknown> => {
  const id = of === "id" ? (v as DurableObjectId) : (v as { id: DurableObjectId }).id;
  const name = id.name === undefined ? {} : { name: id.name, hasName: true };
  return { namespace: DurableObjectId.namespaceOf(id), id: id.toString(), ...name, ...(of === "stub" ? { cluster: CLUSTER } : {}) };
};
const REFS: RefValues = {
  make: (of, r) => {
    const names = ["a", "", "日本", "room-42"];
    const pick = Math.floor(r * 5);
    const id = pick === 4 ? peers.newUniqueId() : peers.idFromName(names[pick] ?? "a");
    return of === "id" ? id : peers.get(id);
  },
  oracle: ref,
};

/** Ids and stubs as comparable data: namespace, hex and name; a stub also says what it is. */
function canon(v: unknown): unknown {
  if (v instanceof DurableObjectId) return { id: [DurableObjectId.namespaceOf(v), v.toString(), v.name] };
  if (Object.prototype.toString.call(v) === "[object DurableObjectStub]") return { stub: String(v) };
  if (Array.isArray(v)) return v.map(canon);
  if (v instanceof Map) return { map: [...v].map(([k, x]) => [k, canon(x)]) };
  if (typeof v === "object" && v !== null) return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== undefined).map(([k, x]) => [k, canon(x)]));
  return v;
}

let ir: IrProject;
let schema: OracleSchema;
beforeAll(async () => {
  const dir = caseNamed("refs").expected;
  ir = loadIr(dir);
  schema = await loadSchema(join(dir, "schema.capnp"));
}, 60_000);

function method(cls: string, name: string): { m: IrMethod; codec: NonNullable<NonNullable<(typeof codecs)[string]>[string]> } {
  const m = ir.classes.find((c) => c.name === cls)?.methods.find((x) => x.name === name);
  const codec = codecs[cls]?.[name];
  if (m === undefined || codec === undefined) throw new Error(`no method ${cls}.${name}`);
  return { m, codec };
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const a = () => peers.getByName("a");
const unnamed = peers.newUniqueId();
const roster = (deputy: unknown) => ({ leader: a(), members: [peers.getByName("b"), peers.get(unnamed)], ids: [peers.idFromName("x"), unnamed], deputy, label: "crew" });

const SAMPLES = [
  { method: "greet", args: [a()], result: "pong" },
  { method: "which", args: [peers.idFromName("i"), unnamed], result: peers.idFromName("") },
  { method: "which", args: [unnamed], result: unnamed },
  { method: "roster", args: [roster(null)], result: roster(peers.getByName("d")) },
  { method: "roster", args: [roster(undefined)], result: { ...roster(undefined), members: [], ids: [] } },
  { method: "typed", args: [hubs.getByName("h")], result: peers.get(unnamed) },
  { method: "peers", args: [["a", "b"]], result: [a(), peers.getByName("b")] },
  { method: "byName", args: [new Map([["a", a()]])], result: 1 },
].map((s, i) => ({ ...s, name: `#${i + 1} Hub.${s.method}` }));

describe("sourdough-gen on ids, stubs and references", { timeout: 60_000 }, () => {
  it("gives methods with ids and stubs codecs; only functions, RpcTargets and ReadableStreams fall back to msgpack (SD1008)", () => {
    const result = generateCase(caseNamed("refs"));
    const hub = result.ir?.classes.find((c) => c.name === "Hub");
    expect(hub?.methods.map((m) => m.name)).toEqual(["greet", "which", "roster", "typed", "peers", "byName"]);
    expect(hub?.msgpackMethods).toEqual(["subscribe", "ticker", "adder", "upload"]);
    const why = "crosses RPC by reference (a function, RpcTarget or ReadableStream), which generated codecs do not map, so this method has no codec: it travels as msgpack, by name, like a method of a class without generated codecs.";
    expect(result.warnings.map((w) => formatDiagnostic(w, REPO, "warning"))).toEqual([
      `test/codegen/fixtures/refs/input.ts:54:3 - warning SD1008: Hub.subscribe: \`(n: number) => void\` ${why}`,
      `test/codegen/fixtures/refs/input.ts:58:3 - warning SD1008: Hub.ticker: \`Ticker\` ${why}`,
      `test/codegen/fixtures/refs/input.ts:62:3 - warning SD1008: Hub.adder: \`(n: number) => number\` ${why}`,
      `test/codegen/fixtures/refs/input.ts:66:9 - warning SD1008: Hub.upload: \`ReadableStream<Uint8Array>\` ${why}`,
    ]);
  });
});

describe("DurableObjectRef", () => {
  it("has the layout capnp gives it, which the codec runtime hard-codes", () => {
    const info = findStruct(schema, "DurableObjectRef");
    const layout = layoutStruct(refStruct());
    expect({ data: info.dataWordCount, pointers: info.pointerCount }).toEqual({ data: REF_DATA_WORDS, pointers: REF_POINTERS });
    expect({ data: layout.dataWords, pointers: layout.pointers }).toEqual({ data: REF_DATA_WORDS, pointers: REF_POINTERS });
  });
});

describe("ids and stubs in generated codecs vs capnp-ts", { timeout: 60_000 }, () => {
  it.each(SAMPLES)("$name: params and result are byte-identical to capnp-ts", (s) => {
    const { m, codec } = method("Hub", s.method);
    expect(hex(codec.encodeParams(s.args))).toBe(hex(encodeWithSchema(schema, m.params.name, toOracle(ir, m.params, argsObject(m.params, s.args), REFS))));
    expect(hex(codec.encodeResult(s.result))).toBe(hex(encodeWithSchema(schema, m.results.name, toOracle(ir, m.results, { result: s.result }, REFS))));
  });

  it.each(SAMPLES)("$name: capnp-ts reads what the codecs write; they rebuild the same ids and stubs", (s) => {
    const { m, codec } = method("Hub", s.method);
    const params = toOracle(ir, m.params, argsObject(m.params, s.args), REFS);
    expect(normalize(decodeWithSchema(schema, m.params.name, codec.encodeParams(s.args)))).toMatchObject(normalize(params) as object);
    const want = m.params.fields.map((_, i) => canon(s.args[i]));
    expect(canon(codec.decodeParams(encodeWithSchema(schema, m.params.name, params)))).toEqual(want);
    expect(canon(codec.decodeParams(codec.encodeParams(s.args)))).toEqual(want);
    expect(canon(codec.decodeResult(codec.encodeResult(s.result)))).toEqual(canon(s.result));
  });

  it("rebuilds working values: an id that equals the original, a stub whose calls go to the object through this cluster's router", async () => {
    const { codec } = method("Hub", "roster");
    const sent = roster(null);
    const [got] = codec.decodeParams(codec.encodeParams([sent])) as [{ leader: { id: DurableObjectId; name: string | undefined; ping(): Promise<string> }; ids: DurableObjectId[] }];
    expect(got.ids[0]).toBeInstanceOf(DurableObjectId);
    expect(got.ids[0]!.equals(sent.ids[0]!)).toBe(true);
    expect(got.ids[1]!.name).toBeUndefined();
    expect(peers.get(got.ids[1]!).id.equals(unnamed)).toBe(true); // the namespace accepts it as its own
    expect(got.leader.name).toBe("a");
    reached.length = 0;
    await expect(got.leader.ping()).rejects.toThrow("no calls in this test");
    expect(reached).toEqual([`Peer/${sent.leader.id.toString()}`]);
  });

  it("random values round-trip, byte-identical to capnp-ts", () => {
    for (const name of ["greet", "which", "roster", "typed", "peers"]) {
      const { m, codec } = method("Hub", name);
      const values = new ValueFactory(ir, 0x5eed + m.id, REFS);
      for (let i = 0; i < 60; i++) {
        const args = m.params.fields.map((f) => values.field(f, 0));
        const bytes = codec.encodeParams(args);
        expect(hex(bytes)).toBe(hex(encodeWithSchema(schema, m.params.name, toOracle(ir, m.params, argsObject(m.params, args), REFS))));
        expect(canon(codec.decodeParams(bytes))).toEqual(canon(args));
        const result = values.field(m.results.fields[0]!, 0);
        const out = codec.encodeResult(result);
        expect(hex(out)).toBe(hex(encodeWithSchema(schema, m.results.name, toOracle(ir, m.results, { result }, REFS))));
        expect(canon(codec.decodeResult(out))).toEqual(canon(result));
      }
    }
  });
});

describe("ids and stubs that cannot be used", () => {
  const greet = () => method("Hub", "greet");
  const params = (fields: Record<string, unknown>) => encodeWithSchema(schema, "HubGreetParams", { peer: fields });
  const refused = (bytes: Uint8Array, decode = greet().codec.decodeParams): SourdoughError => {
    try {
      decode(bytes);
    } catch (error) {
      expect(error).toBeInstanceOf(SourdoughError);
      return error as SourdoughError;
    }
    throw new Error("expected ERR_BAD_ID, nothing was thrown");
  };
  const stubFields = ref("stub", a());

  it("refuses a forged id (not made by its namespace) with ERR_BAD_ID, as the msgpack path does", () => {
    const forged = refused(params({ ...stubFields, id: "ab".repeat(32) }));
    expect(forged).toMatchObject({ code: "ERR_BAD_ID" });
    expect(forged.message).toBe(`a DurableObjectStub arrived that cannot be used here: "${"ab".repeat(32)}" is not an id of namespace Peer.`);
    const moved = refused(params({ ...stubFields, namespace: "Hub" }));
    expect(moved.message).toContain("is not an id of namespace Hub");
    const id = refused(encodeWithSchema(schema, "HubWhichParams", { id: { namespace: "Peer", id: "0".repeat(64) } }), method("Hub", "which").codec.decodeParams);
    expect(id).toMatchObject({ code: "ERR_BAD_ID", message: `a DurableObjectId arrived that cannot be used here: "${"0".repeat(64)}" is not an id of namespace Peer.` });
  });

  it("refuses a stub of another cluster, or of none, and a missing ref", () => {
    expect(refused(params({ ...stubFields, cluster: "/tmp/elsewhere" })).message).toBe(
      'a DurableObjectStub arrived that cannot be used here: it belongs to a cluster this process is not part of ("/tmp/elsewhere"). Stubs travel between the objects and callers of one cluster.',
    );
    expect(refused(params({ namespace: stubFields["namespace"], id: stubFields["id"] }))).toMatchObject({ code: "ERR_BAD_ID" }); // an id sent as a stub
    expect(refused(params({}))).toMatchObject({ code: "ERR_BAD_ID" });
    expect(refused(encodeWithSchema(schema, "HubGreetParams", {}))).toMatchObject({ code: "ERR_BAD_ID" }); // null pointer
  });

  it("refuses to encode what is not an id or a stub, naming where it is", () => {
    const encodeError = (f: () => unknown): { code: string; message: string } => {
      try {
        f();
      } catch (error) {
        return error as { code: string; message: string };
      }
      throw new Error("nothing thrown");
    };
    expect(encodeError(() => greet().codec.encodeParams([{ id: peers.idFromName("a") }]))).toMatchObject({ code: "ERR_UNSUPPORTED_TYPE", message: "Hub.greet, argument 1 (peer): expected a Durable Object stub, got an object." });
    expect(encodeError(() => greet().codec.encodeParams([peers.idFromName("a")])).message).toBe("Hub.greet, argument 1 (peer): expected a Durable Object stub, got a DurableObjectId.");
    const bad = { ...roster(null), ids: [a()] };
    expect(encodeError(() => method("Hub", "roster").codec.encodeParams([bad])).message).toBe("Hub.roster, argument 1 (roster).ids[0]: expected a DurableObjectId, got a DurableObjectStub.");
    expect(encodeError(() => method("Hub", "which").codec.encodeResult("0".repeat(64))).message).toBe(`Hub.which result: expected a DurableObjectId, got "${"0".repeat(37)}...".`);
  });
});

describe.skipIf(!capnpAvailable())(`ids and stubs vs the capnp tool ${CAPNP_MARK}`, { timeout: 60_000 }, () => {
  it("capnp decode reads the codecs' bytes; the codecs read what capnp encode writes", async () => {
    const stub = a();
    const text = await capnpDecode(schema, "HubGreetParams", method("Hub", "greet").codec.encodeParams([stub]));
    expect(text).toBe(`(peer = (namespace = "Peer", id = "${stub.id.toString()}", name = "a", hasName = true, cluster = "${CLUSTER}"))`);
    const bytes = await capnpEncode(schema, "HubWhichParams", `(id = (namespace = "Peer", id = "${unnamed.toString()}"), alias = (namespace = "Peer", id = "${stub.id.toString()}", name = "a", hasName = true), hasAlias = true)`);
    expect(canon(method("Hub", "which").codec.decodeParams(bytes))).toEqual(canon([unnamed, stub.id]));
  });
});
