// Schema evolution: merges a fresh IR with the previous run's sourdough.ir.json so that field ordinals,
// enum values and method ids never move. New ones are appended; removed or retyped fields and methods,
// and reordered parameters, are breaks. With allowBreaking they are retired (kept, unused, so their
// numbers are never reused) instead of refused.
import { type IrClass, type IrEnum, type IrEnumValue, type IrField, type IrFlag, type IrProject, type IrStruct, describeWireType, nextOrdinal, sameWireType } from "./ir.ts";
import { typeName, unique } from "./names.ts";

/**
 * A breaking change; `site` is a key of ScanResult.sites ("" when the thing no longer exists anywhere).
 * `message` says what changed and whom it breaks; `fix` what to do instead ("Keep it"): an error adds
 * it with the --allow-breaking alternative, a warning (the flag was passed) leaves both out.
 */
export interface Break {
  site: string;
  message: string;
  fix: string;
}

/** The merged IR (a new object) and the breaks found. */
export function evolve(next: IrProject, prev: IrProject | undefined): { ir: IrProject; breaks: Break[] } {
  const ir = structuredClone(next);
  if (prev === undefined) return { ir, breaks: [] };
  ir.fileId = prev.fileId;
  const breaks: Break[] = [];
  const prevStructs = new Map(prev.structs.map((s) => [s.name, s]));
  for (const s of ir.structs) {
    const p = prevStructs.get(s.name);
    if (p !== undefined) mergeStruct(s, p, { kind: "struct", where: s.name, site: `struct:${s.name}`, breaks });
  }
  const prevEnums = new Map(prev.enums.map((e) => [e.name, e]));
  for (const e of ir.enums) {
    const p = prevEnums.get(e.name);
    if (p !== undefined) mergeEnum(e, p, breaks);
  }
  const prevClasses = new Map(prev.classes.map((c) => [c.name, c]));
  for (const c of ir.classes) {
    const p = prevClasses.get(c.name);
    if (p !== undefined) mergeClass(c, p, breaks);
  }
  for (const p of prev.classes) {
    if (!ir.classes.some((c) => c.name === p.name)) {
      breaks.push({ site: "", message: `class ${p.name} (${p.source}) was removed. Callers built from the previous schema may still call it.`, fix: "Keep it" });
    }
  }
  return { ir, breaks };
}

function mergeClass(c: IrClass, p: IrClass, breaks: Break[]): void {
  let nextId = Math.max(0, ...p.methods.map((m) => m.id), ...p.retiredMethods.map((m) => m.id)) + 1;
  c.retiredMethods = p.retiredMethods.map((m) => ({ ...m }));
  const prevMethods = new Map(p.methods.map((m) => [m.name, m]));
  for (const m of c.methods) {
    const pm = prevMethods.get(m.name);
    if (pm === undefined) {
      m.id = nextId++;
      continue;
    }
    const where = `${c.name}.${m.name}`;
    m.id = pm.id;
    m.params.name = pm.params.name;
    m.results.name = pm.results.name;
    const order = (s: IrStruct, names: Set<string>): string[] => s.fields.map((f) => f.name).filter((n) => names.has(n));
    const common = new Set(m.params.fields.map((f) => f.name).filter((n) => pm.params.fields.some((f) => f.name === n)));
    const was = order(pm.params, common);
    const now = order(m.params, common);
    if (was.join(",") !== now.join(",")) {
      breaks.push({ site: where, message: `${where}: parameters were reordered (was ${was.join(", ")}; now ${now.join(", ")}). Callers built from the previous schema pass them in the old order.`, fix: "Restore the order" });
    }
    mergeStruct(m.params, pm.params, { kind: "params", where, site: where, breaks });
    mergeStruct(m.results, pm.results, { kind: "results", where, site: `${where}()`, breaks });
  }
  for (const pm of p.methods) {
    if (c.methods.some((m) => m.name === pm.name)) continue;
    breaks.push({ site: c.name, message: `${c.name}.${pm.name}: the method was removed (method id ${pm.id}). Callers built from the previous schema may still call it.`, fix: "Keep it" });
    c.retiredMethods.push({ name: pm.name, id: pm.id });
  }
  c.retiredMethods.sort((a, b) => a.id - b.id);
}

interface MergeContext {
  kind: "params" | "results" | "struct";
  where: string;
  site: string;
  breaks: Break[];
}

function what(ctx: MergeContext, f: IrField): string {
  if (ctx.kind === "params") return `parameter \`${f.name}\``;
  return ctx.kind === "results" ? "the result" : `field \`${f.name}\``;
}

function mergeStruct(s: IrStruct, p: IrStruct, ctx: MergeContext): void {
  const prevFields = new Map(p.fields.map((f) => [f.name, f]));
  const retiredNow: IrField[] = [];
  const fresh: IrField[] = [];
  const siteOf = (f: IrField): string => (ctx.kind === "params" ? `${ctx.where}(${f.name})` : ctx.site);
  for (const f of s.fields) {
    const pf = prevFields.get(f.name);
    if (pf !== undefined && sameWireType(f.type, pf.type) && f.presence === pf.presence) {
      f.ordinal = pf.ordinal;
      f.capnpName = pf.capnpName;
      copyFlags(f, pf);
      continue;
    }
    if (pf !== undefined) {
      const from = describeWireType(pf.type, pf.presence);
      const to = describeWireType(f.type, f.presence);
      ctx.breaks.push({ site: siteOf(f), message: `${ctx.where}: ${what(ctx, f)} changed type from ${from} to ${to}. Peers built from the previous schema use the old type.`, fix: `Add a new ${ctx.kind === "struct" ? "field" : "method"} instead` });
      retiredNow.push(pf);
    }
    fresh.push(f);
  }
  for (const pf of p.fields) {
    if (s.fields.some((f) => f.name === pf.name)) continue;
    ctx.breaks.push({ site: ctx.kind === "params" ? ctx.where : ctx.site, message: `${ctx.where}: ${what(ctx, pf)} was removed (or renamed). Peers built from the previous schema still use it.`, fix: "Keep it" });
    retiredNow.push(pf);
  }
  const kept = s.fields.filter((f) => !fresh.includes(f));
  const taken = new Set([...kept, ...p.retired].flatMap(flagNames));
  s.retired = [...p.retired.map((f) => structuredClone(f)), ...retiredNow.map((f) => retire(f, taken))].sort((a, b) => a.ordinal - b.ordinal);
  let next = nextOrdinal(p);
  for (const f of fresh) {
    f.capnpName = unique(f.capnpName, taken);
    f.ordinal = next++;
    if (f.has !== undefined) f.has = { capnpName: unique(`has${typeName(f.capnpName)}`, taken), ordinal: next++ };
    if (f.isNull !== undefined) f.isNull = { capnpName: unique(`${f.capnpName}IsNull`, taken), ordinal: next++ };
  }
}

function copyFlags(f: IrField, pf: IrField): void {
  if (pf.has !== undefined) f.has = { ...pf.has };
  if (pf.isNull !== undefined) f.isNull = { ...pf.isNull };
}

function flagNames(f: IrField): string[] {
  return [f.capnpName, ...(f.has === undefined ? [] : [f.has.capnpName]), ...(f.isNull === undefined ? [] : [f.isNull.capnpName])];
}

// A retired field keeps its ordinals; its names move aside so the live field can have them.
function retire(f: IrField, taken: Set<string>): IrField {
  const rename = (flag: IrFlag): IrFlag => ({ ordinal: flag.ordinal, capnpName: unique(`obsolete${typeName(flag.capnpName)}`, taken) });
  const out: IrField = { ...f, capnpName: unique(`obsolete${typeName(f.capnpName)}`, taken) };
  if (f.has !== undefined) out.has = rename(f.has);
  if (f.isNull !== undefined) out.isNull = rename(f.isNull);
  return out;
}

function mergeEnum(e: IrEnum, p: IrEnum, breaks: Break[]): void {
  const prevValues = new Map(p.values.map((v) => [v.value, v]));
  const retired: IrEnumValue[] = p.retired.map((v) => ({ ...v }));
  const taken = new Set<string>([...p.values, ...p.retired].map((v) => v.capnpName));
  let next = Math.max(-1, ...p.values.map((v) => v.ordinal), ...p.retired.map((v) => v.ordinal)) + 1;
  for (const v of p.values) {
    if (e.values.some((x) => x.value === v.value)) continue;
    breaks.push({ site: `enum:${e.name}`, message: `enum ${e.name} (${p.ts}): value ${JSON.stringify(v.value)} was removed. Peers built from the previous schema may still send it.`, fix: "Keep it" });
    retired.push({ ...v, capnpName: unique(`obsolete${typeName(v.capnpName)}`, taken) });
  }
  for (const v of e.values) {
    const pv = prevValues.get(v.value);
    if (pv !== undefined) {
      v.ordinal = pv.ordinal;
      v.capnpName = pv.capnpName;
    } else {
      v.ordinal = next++;
      v.capnpName = unique(v.capnpName, taken);
    }
  }
  e.retired = retired.sort((a, b) => a.ordinal - b.ordinal);
}
