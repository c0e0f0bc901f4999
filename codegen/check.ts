// Finds every value in the IR that cannot cross RPC and turns each into a diagnostic at the parameter
// (or result) that carries it, naming the class, method, parameter and the path inside the value.
import { DiagnosticCode, type Diagnostic, type SourceLocation } from "./diagnostics.ts";
import type { IrField, IrProject, IrStruct, IrType } from "./ir.ts";

/** One diagnostic per parameter or result path that holds an `unsupported` type. */
export function unsupportedDiagnostics(ir: IrProject, sites: Readonly<Record<string, SourceLocation>>): Diagnostic[] {
  const structs = new Map(ir.structs.map((s) => [s.name, s]));
  const out: Diagnostic[] = [];
  for (const cls of ir.classes) {
    for (const m of cls.methods) {
      const report = (f: IrField, label: string, key: string): void => {
        const at = sites[key] ?? sites[`${cls.name}.${m.name}`] ?? { file: cls.source, line: 1, column: 1 };
        for (const found of findUnsupported(f.type, "", structs, new Set())) {
          const path = found.path === "" ? "" : `, at \`${found.path}\``;
          const u = found.type;
          out.push({ ...at, code: DiagnosticCode.UNSUPPORTED_TYPE, message: `${cls.name}.${m.name}, ${label}${path}: \`${u.ts}\`${u.within === undefined ? "" : ` (in \`${u.within}\`)`}: ${u.reason}. ${u.hint}.` });
        }
      };
      m.params.fields.forEach((f, i) => report(f, `parameter \`${f.name}\` (argument ${i + 1})`, `${cls.name}.${m.name}(${f.name})`));
      for (const f of m.results.fields) report(f, "result", `${cls.name}.${m.name}()`);
    }
  }
  return out;
}

interface Found {
  path: string;
  type: Extract<IrType, { kind: "unsupported" }>;
}

function findUnsupported(t: IrType, path: string, structs: ReadonlyMap<string, IrStruct>, seen: Set<string>): Found[] {
  switch (t.kind) {
    case "unsupported":
      return [{ path, type: t }];
    case "list":
      return findUnsupported(t.element, `${path}[]`, structs, seen);
    case "struct": {
      const s = structs.get(t.name);
      if (s === undefined || seen.has(s.name)) return [];
      seen.add(s.name);
      return s.fields.flatMap((f) => findUnsupported(f.type, `${path}.${f.name}`, structs, seen));
    }
    default:
      return [];
  }
}
