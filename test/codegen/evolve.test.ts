// Schema evolution across sourdough-gen runs on one project: compatible changes keep every ordinal and
// method id and append new ones (old codecs and new codecs still understand each other); breaking
// changes are refused, each named at its source; --allow-breaking retires what broke instead.
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { formatDiagnostic } from "../../codegen/diagnostics.ts";
import { type GenerateResult, generate, writeFiles } from "../../codegen/generate.ts";
import type { IrProject, IrStruct } from "../../codegen/ir.ts";
import { capnpAvailable, loadSchema } from "../support/capnp-oracle.ts";
import { REPO, linkSourdough, removeDir, tempDir, tempProjectFiles, writeTree } from "./support/fixtures.ts";

const V1 = `import { DurableObject } from "sourdough";

export type Mood = "happy" | "sad";

export interface Profile {
  name: string;
  age: number;
}

export class Account extends DurableObject {
  deposit(amount: number, memo?: string): number {
    return amount + (memo?.length ?? 0);
  }

  profile(p: Profile): Profile {
    return p;
  }

  feel(m: Mood): Mood {
    return m;
  }

  transfer(to: string, amount: number): string {
    return to + amount;
  }

  close(): void {}
}
`;

// Compatible: methods reordered and one added first, an optional parameter, a new field, a new enum value.
const V2_COMPATIBLE = `import { DurableObject } from "sourdough";

export type Mood = "calm" | "happy" | "sad";

export interface Profile {
  name: string;
  email?: string;
  age: number;
}

export class Account extends DurableObject {
  withdraw(amount: number): number {
    return -amount;
  }

  feel(m: Mood): Mood {
    return m;
  }

  deposit(amount: number, memo?: string, fee?: number): number {
    return amount + (memo?.length ?? 0) - (fee ?? 0);
  }

  profile(p: Profile): Profile {
    return p;
  }

  transfer(to: string, amount: number): string {
    return to + amount;
  }

  close(): void {}
}
`;

// Breaking: a removed method, a retyped parameter, reordered parameters, a removed field and enum value, a retyped result.
const V2_BREAKING = `import { DurableObject } from "sourdough";

export type Mood = "happy";

export interface Profile {
  name: string;
}

export class Account extends DurableObject {
  deposit(amount: string, memo?: string): number {
    return amount.length + (memo?.length ?? 0);
  }

  profile(p: Profile): Profile {
    return p;
  }

  feel(m: Mood): string {
    return m;
  }

  transfer(amount: number, to: string): string {
    return to + amount;
  }

  audit(): number {
    return 0;
  }
}
`;

const dirs: string[] = [];
afterAll(() => dirs.forEach(removeDir));
const haveCapnp = capnpAvailable();

function project(source: string): { dir: string; gen: (allowBreaking?: boolean) => GenerateResult; edit: (source: string) => void } {
  const dir = tempDir("evolve");
  dirs.push(dir);
  writeTree(dir, { ...tempProjectFiles(), "src/account.ts": source });
  linkSourdough(dir);
  const gen = (allowBreaking = false): GenerateResult => {
    const result = generate({ project: join(dir, "tsconfig.json"), out: join(dir, "sourdough.gen"), cwd: dir, allowBreaking });
    writeFiles(result.files);
    return result;
  };
  return { dir, gen, edit: (s) => writeFileSync(join(dir, "src/account.ts"), s) };
}

const irOf = (dir: string): IrProject => JSON.parse(readFileSync(join(dir, "sourdough.gen/sourdough.ir.json"), "utf8")) as IrProject;
const account = (ir: IrProject) => ir.classes.find((c) => c.name === "Account");
const ordinals = (s: IrStruct | undefined): Record<string, number[]> =>
  Object.fromEntries([...(s?.fields ?? []), ...(s?.retired ?? [])].map((f) => [f.capnpName, [f.ordinal, ...(f.has ? [f.has.ordinal] : [])]]));

type Codecs = Record<string, Record<string, { id: number; encodeParams(a: unknown[]): Uint8Array; decodeParams(b: Uint8Array): unknown[]; encodeResult(v: unknown): Uint8Array; decodeResult(b: Uint8Array): unknown }>>;
async function codecsAt(dir: string): Promise<Codecs> {
  return ((await import(pathToFileURL(join(dir, "codecs.ts")).href)) as { codecs: Codecs }).codecs;
}

describe("schema evolution", { timeout: 60_000 }, () => {
  it("keeps ordinals and method ids and appends new ones on compatible changes", () => {
    const p = project(V1);
    expect(p.gen().diagnostics).toEqual([]);
    const before = irOf(p.dir);
    p.edit(V2_COMPATIBLE);
    expect(p.gen().diagnostics.map((d) => formatDiagnostic(d, p.dir))).toEqual([]);
    const after = irOf(p.dir);
    expect(after.fileId).toBe(before.fileId);
    const ids = (ir: IrProject) => Object.fromEntries((account(ir)?.methods ?? []).map((m) => [m.name, m.id]));
    expect(ids(before)).toEqual({ deposit: 1, profile: 2, feel: 3, transfer: 4, close: 5 });
    expect(ids(after)).toEqual({ withdraw: 6, feel: 3, deposit: 1, profile: 2, transfer: 4, close: 5 });
    const deposit = account(after)?.methods.find((m) => m.name === "deposit");
    expect(ordinals(deposit?.params)).toEqual({ amount: [0], memo: [1, 2], fee: [3, 4] });
    expect(deposit?.params.fields.map((f) => f.name)).toEqual(["amount", "memo", "fee"]);
    expect(ordinals(after.structs.find((s) => s.name === "Profile"))).toEqual({ name: [0], age: [1], email: [2, 3] });
    expect(after.enums.find((e) => e.name === "Mood")?.values.map((v) => [v.value, v.ordinal])).toEqual([["calm", 2], ["happy", 0], ["sad", 1]]);
  });

  it("lets old and new codecs talk for what both know", async () => {
    const p = project(V1);
    p.gen();
    cpSync(join(p.dir, "sourdough.gen"), join(p.dir, "v1"), { recursive: true });
    p.edit(V2_COMPATIBLE);
    p.gen();
    const [v1, v2] = [await codecsAt(join(p.dir, "v1")), await codecsAt(join(p.dir, "sourdough.gen"))];
    const m1 = v1["Account"]!;
    const m2 = v2["Account"]!;
    expect(m2["deposit"]!.decodeParams(m1["deposit"]!.encodeParams([5, "memo"]))).toEqual([5, "memo", undefined]);
    expect(m1["deposit"]!.decodeParams(m2["deposit"]!.encodeParams([5, "memo", 1]))).toEqual([5, "memo"]);
    expect(m1["deposit"]!.decodeResult(m2["deposit"]!.encodeResult(8))).toBe(8);
    expect(m2["profile"]!.decodeParams(m1["profile"]!.encodeParams([{ name: "a", age: 3 }]))).toEqual([{ name: "a", age: 3, email: undefined }]);
    expect(m1["profile"]!.decodeParams(m2["profile"]!.encodeParams([{ name: "a", age: 3, email: "e" }]))).toEqual([{ name: "a", age: 3 }]);
    expect(m2["feel"]!.decodeResult(m1["feel"]!.encodeResult("sad"))).toBe("sad");
    expect(() => m1["feel"]!.decodeResult(m2["feel"]!.encodeResult("calm"))).toThrow("unknown value 2 of enum Mood (is the sender's schema newer?)");
    expect(m2["transfer"]!.id).toBe(m1["transfer"]!.id);
  });

  it("refuses breaking changes, naming each at its source, and writes nothing", () => {
    const p = project(V1);
    p.gen();
    const before = readFileSync(join(p.dir, "sourdough.gen/schema.capnp"), "utf8");
    p.edit(V2_BREAKING);
    const result = p.gen();
    expect(result.files).toEqual([]);
    expect(result.diagnostics.map((d) => formatDiagnostic(d, p.dir))).toEqual([
      "src/account.ts:3:13 - error SD2001: enum Mood (\"happy\" | \"sad\"): value \"sad\" was removed. Peers built from the previous schema may still send it. Keep it, or pass --allow-breaking.",
      "src/account.ts:5:18 - error SD2001: Profile: field `age` was removed (or renamed). Peers built from the previous schema still use it. Keep it, or pass --allow-breaking.",
      "src/account.ts:9:14 - error SD2001: Account.close: the method was removed (method id 5). Callers built from the previous schema may still call it. Keep it, or pass --allow-breaking.",
      "src/account.ts:10:11 - error SD2001: Account.deposit: parameter `amount` changed type from Float64 to Text. Peers built from the previous schema use the old type. Add a new method instead, or pass --allow-breaking.",
      "src/account.ts:18:18 - error SD2001: Account.feel: the result changed type from Mood to Text. Peers built from the previous schema use the old type. Add a new method instead, or pass --allow-breaking.",
      "src/account.ts:22:3 - error SD2001: Account.transfer: parameters were reordered (was to, amount; now amount, to). Callers built from the previous schema pass them in the old order. Restore the order, or pass --allow-breaking.",
    ]);
    expect(readFileSync(join(p.dir, "sourdough.gen/schema.capnp"), "utf8")).toBe(before);
  });

  it("with --allow-breaking, retires what broke: numbers are never reused", async () => {
    const p = project(V1);
    p.gen();
    p.edit(V2_BREAKING);
    const result = p.gen(true);
    expect(result.diagnostics).toEqual([]);
    expect(result.warnings).toHaveLength(6);
    // The flag was given: the warnings say what broke and that it was accepted, never "pass --allow-breaking".
    for (const w of result.warnings) {
      expect(w.message).not.toContain("or pass --allow-breaking");
      expect(w.message).toMatch(/ Accepted \(--allow-breaking\): update those peers\.$/);
    }
    expect(result.warnings.map((w) => w.message)).toContain("Account.close: the method was removed (method id 5). Callers built from the previous schema may still call it. Accepted (--allow-breaking): update those peers.");
    const ir = irOf(p.dir);
    const acc = account(ir);
    expect(acc?.retiredMethods).toEqual([{ name: "close", id: 5 }]);
    expect(acc?.methods.find((m) => m.name === "audit")?.id).toBe(6);
    const deposit = acc?.methods.find((m) => m.name === "deposit");
    expect(ordinals(deposit?.params)).toEqual({ obsoleteAmount: [0], memo: [1, 2], amount: [3] });
    expect(ordinals(ir.structs.find((s) => s.name === "Profile"))).toEqual({ name: [0], obsoleteAge: [1] });
    expect(ir.enums.find((e) => e.name === "Mood")?.retired).toEqual([{ value: "sad", capnpName: "obsoleteSad", ordinal: 1 }]);
    const transfer = acc?.methods.find((m) => m.name === "transfer");
    expect(ordinals(transfer?.params)).toEqual({ to: [0], amount: [1] });
    const codecs = await codecsAt(join(p.dir, "sourdough.gen"));
    expect(codecs["Account"]!["deposit"]!.decodeParams(codecs["Account"]!["deposit"]!.encodeParams(["10", "m"]))).toEqual(["10", "m"]);
    expect(codecs["Account"]!["transfer"]!.decodeParams(codecs["Account"]!["transfer"]!.encodeParams([1, "b"]))).toEqual([1, "b"]);
    if (haveCapnp) await loadSchema(join(p.dir, "sourdough.gen/schema.capnp"));
    expect(p.gen().diagnostics).toEqual([]);
  });

  it("refuses an id turned into a stub (another type on the wire); a type of yours named DurableObjectRef is renamed", async () => {
    const source = (to: string): string => `import { DurableObject, type DurableObjectId, type DurableObjectStub } from "sourdough";
export interface DurableObjectRef { note: string }
export class Account extends DurableObject {
  link(to: ${to}, ref: DurableObjectRef): string {
    return ref.note;
  }
}
`;
    const p = project(source("DurableObjectId"));
    expect(p.gen().diagnostics).toEqual([]);
    const schema = readFileSync(join(p.dir, "sourdough.gen/schema.capnp"), "utf8");
    expect(schema).toMatch(/^struct DurableObjectRef2 @0x[0-9a-f]{16} \{\n  note @0 :Text;\n\}$/m);
    expect(schema).toContain("  to @0 :DurableObjectRef;  # a DurableObjectId\n  ref @1 :DurableObjectRef2;");
    if (haveCapnp) await loadSchema(join(p.dir, "sourdough.gen/schema.capnp"));
    p.edit(source("DurableObjectStub<Account>"));
    expect(p.gen().diagnostics.map((d) => formatDiagnostic(d, p.dir))).toEqual([
      "src/account.ts:4:8 - error SD2001: Account.link: parameter `to` changed type from DurableObjectRef (DurableObjectId) to DurableObjectRef (DurableObjectStub). Peers built from the previous schema use the old type. Add a new method instead, or pass --allow-breaking.",
    ]);
  });

  it("names a removed class at the previous sourdough.ir.json", () => {
    const p = project(V1);
    p.gen();
    p.edit(V1.replace("export class Account", "class Account"));
    expect(p.gen().diagnostics.map((d) => formatDiagnostic(d, p.dir))).toEqual([
      "sourdough.gen/sourdough.ir.json:1:1 - error SD2001: class Account (src/account.ts) was removed. Callers built from the previous schema may still call it. Keep it, or pass --allow-breaking.",
    ]);
  });

  it("refuses an unreadable previous sourdough.ir.json, saying how to recover", () => {
    const p = project(V1);
    p.gen();
    writeFileSync(join(p.dir, "sourdough.gen/sourdough.ir.json"), "{ not json");
    const [d] = p.gen().diagnostics;
    expect(d?.code).toBe("SD2002");
    expect(d?.message).toMatch(/^sourdough\.ir\.json cannot be parsed .*restore it from version control, or delete it to start a new schema\.$/);
  });
});
