// The scan stage, the only code (with scan-types.ts and scan-values.ts) that touches ts-morph: loads
// the project, finds the exported classes extending sourdough's DurableObject (directly or through
// intermediate classes) and describes their callable methods in the IR. Emitting is not its business.
import { dirname, relative, sep } from "node:path";
import { type ClassDeclaration, type Expression, type MethodDeclaration, Node, Project, Scope, SyntaxKind, type Type } from "ts-morph";
import { DiagnosticCode, type Diagnostic, type SourceLocation } from "./diagnostics.ts";
import { fileId } from "./ids.ts";
import { IR_VERSION, REF_STRUCT_NAME, type IrClass, type IrMethod, type IrProject, type IrStruct } from "./ir.ts";
import { methodNameRule } from "./method-names.ts";
import { memberName, typeName, unique } from "./names.ts";
import { TypeMapper, assignOrdinals, field, locationOf, referred } from "./scan-types.ts";
import { referenceIn, typeText } from "./scan-values.ts";

export interface ScanOptions {
  /** Absolute path of the tsconfig.json. */
  tsconfig: string;
  /** Absolute path of the out dir: module specifiers are relative to it, and nothing in it is scanned. */
  outDir: string;
  /** Only classes in files matching one of these (absolute paths; a directory matches what is under it). */
  include?: readonly string[] | undefined;
  /** Seed of the Cap'n Proto file id (kept from the previous IR when there is one). */
  fileIdSeed: string;
}

export interface ScanResult {
  ir: IrProject;
  /** Where things are declared: "Class", "Class.method", "Class.method(param)", "Class.method()", "struct:Name". */
  sites: Record<string, SourceLocation>;
  diagnostics: Diagnostic[];
  /** Methods left out of the stub that may still be meant (see method-names.ts). */
  warnings: Diagnostic[];
  /** Every source file of the project (absolute), for --watch. */
  inputs: string[];
}

/** Modules whose `DurableObject` export is the base class. */
const BASE_MODULES = new Set(["sourdough", "cloudflare:workers"]);

/** Where scanning reports problems: errors stop generation, warnings do not. */
interface Problems {
  errors: Diagnostic[];
  warnings: Diagnostic[];
}

/** Scans the project; throws only when the project itself cannot be loaded. */
export function scan(options: ScanOptions): ScanResult {
  const project = new Project({ tsConfigFilePath: options.tsconfig });
  const configProblem = project.getConfigFileParsingDiagnostics()[0];
  if (configProblem !== undefined) {
    const text = configProblem.getMessageText();
    throw new Error(typeof text === "string" ? text : text.getMessageText());
  }
  const projectDir = dirname(options.tsconfig);
  const outPrefix = options.outDir.split(sep).join("/") + "/";
  const compilerOptions = project.getCompilerOptions();
  const keepTs = compilerOptions.allowImportingTsExtensions === true || compilerOptions.rewriteRelativeImportExtensions === true;
  const sites: Record<string, SourceLocation> = {};
  const problems: Problems = { errors: [], warnings: [] };
  // Reserved for the struct ids and stubs travel as, so that no user type takes its name.
  const taken = new Set<string>([REF_STRUCT_NAME]);
  const mapper = new TypeMapper(taken, sites);
  const classes: IrClass[] = [];
  const files = project.getSourceFiles().sort((a, b) => (a.getFilePath() < b.getFilePath() ? -1 : 1));
  const inputs = files.filter((f) => !f.isInNodeModules()).map((f) => f.getFilePath());
  for (const sf of files) {
    const path = sf.getFilePath();
    if (sf.isDeclarationFile() || sf.isInNodeModules() || path.startsWith(outPrefix) || !included(path, options.include)) continue;
    for (const cls of sf.getClasses()) {
      const chain = durableObjectChain(cls);
      const name = cls.getName();
      if (chain === undefined || name === undefined || cls.isAbstract() || !(cls.isExported() || cls.isDefaultExport())) continue;
      const duplicate = classes.find((c) => c.name === name);
      sites[name] ??= locationOf(cls.getNameNode() ?? cls);
      if (duplicate !== undefined) {
        problems.errors.push({ ...locationOf(cls), code: DiagnosticCode.DUPLICATE_CLASS, message: `${name}: another exported Durable Object class has this name (${duplicate.source}). The class name is the namespace: rename one of them.` });
        continue;
      }
      const msgpackMethods: string[] = [];
      classes.push({
        name,
        exportName: cls.isDefaultExport() ? "default" : name,
        module: moduleSpecifier(options.outDir, path, keepTs),
        source: relative(projectDir, path).split(sep).join("/"),
        methods: scanMethods(name, chain, mapper, taken, sites, problems, msgpackMethods),
        retiredMethods: [],
        ...(msgpackMethods.length > 0 ? { msgpackMethods } : {}),
      });
    }
  }
  const ir: IrProject = { version: IR_VERSION, generator: "sourdough-gen", fileId: fileId(options.fileIdSeed), classes, structs: mapper.structs, enums: mapper.enums };
  return { ir, sites, diagnostics: problems.errors, warnings: problems.warnings, inputs };
}

function included(path: string, include: readonly string[] | undefined): boolean {
  if (include === undefined || include.length === 0) return true;
  return include.some((p) => {
    const prefix = p.split(sep).join("/");
    return path === prefix || path.startsWith(prefix.endsWith("/") ? prefix : `${prefix}/`);
  });
}

function moduleSpecifier(outDir: string, file: string, keepTs: boolean): string {
  let rel = relative(outDir, file).split(sep).join("/");
  if (!keepTs) rel = rel.replace(/\.ts$/, ".js").replace(/\.mts$/, ".mjs").replace(/\.cts$/, ".cjs").replace(/\.tsx$/, ".js");
  return rel.startsWith(".") ? rel : `./${rel}`;
}

/** The class and its ancestors below DurableObject (most derived first), or undefined when it is no Durable Object. */
function durableObjectChain(cls: ClassDeclaration): ClassDeclaration[] | undefined {
  const chain: ClassDeclaration[] = [];
  for (let cur: ClassDeclaration | undefined = cls; cur !== undefined && !chain.includes(cur); cur = cur.getBaseClass()) {
    chain.push(cur);
    const ext = cur.getExtends()?.getExpression();
    if (ext === undefined) return undefined;
    if (isDurableObjectBase(ext)) return chain;
  }
  return undefined;
}

// `DurableObject` imported from "sourdough" (named or namespace import, also re-exported), or sourdough's own class.
function isDurableObjectBase(expr: Expression): boolean {
  const nameNode = Node.isPropertyAccessExpression(expr) ? expr.getNameNode() : expr;
  if (!Node.isIdentifier(nameNode) || nameNode.getText() !== "DurableObject") return false;
  const target = Node.isPropertyAccessExpression(expr) ? expr.getExpression() : expr;
  for (const decl of target.getSymbol()?.getDeclarations() ?? []) {
    const imp = Node.isImportSpecifier(decl) ? decl.getImportDeclaration() : Node.isNamespaceImport(decl) ? decl.getFirstAncestorByKind(SyntaxKind.ImportDeclaration) : undefined;
    if (imp !== undefined && BASE_MODULES.has(imp.getModuleSpecifierValue())) return true;
  }
  const declared = expr.getSymbol()?.getAliasedSymbol()?.getDeclarations() ?? expr.getSymbol()?.getDeclarations() ?? [];
  return declared.some((d) => Node.isClassDeclaration(d) && /(^|\/)runtime\/object\/durable-object\.(d\.)?ts$/.test(d.getSourceFile().getFilePath()));
}

function publicInstance(m: MethodDeclaration): boolean {
  return m.getScope() === Scope.Public && !m.isStatic() && !m.getName().startsWith("[");
}

function scanMethods(className: string, chain: ClassDeclaration[], mapper: TypeMapper, taken: Set<string>, sites: Record<string, SourceLocation>, problems: Problems, byReference: string[]): IrMethod[] {
  const byName = new Map<string, MethodDeclaration>();
  for (const c of [...chain].reverse()) {
    for (const m of c.getInstanceMethods()) if (publicInstance(m)) byName.set(m.getName(), m);
  }
  const diagnostics = problems.errors;
  const methods: IrMethod[] = [];
  for (const [name, m] of byName) {
    const where = `${className}.${name}`;
    const rule = methodNameRule(name);
    if (rule.kind === "skip") continue;
    if (rule.kind === "fetch") {
      const problem = fetchProblem(where, m, chain);
      if (problem !== undefined) diagnostics.push(problem);
      continue;
    }
    if (rule.kind === "error" || rule.kind === "warning") {
      const list = rule.kind === "error" ? diagnostics : problems.warnings;
      list.push({ ...locationOf(m.getNameNode()), code: DiagnosticCode.RESERVED_NAME, message: `${where}: ${rule.why}. ${rule.fix}.` });
      continue;
    }
    sites[where] = locationOf(m.getNameNode());
    if (m.getOverloads().length > 0) {
      diagnostics.push({ ...locationOf(m.getNameNode()), code: DiagnosticCode.OVERLOADED_METHOD, message: `${where}: overloaded methods cannot be described by one Params struct. Use one signature (optional parameters or a union type).` });
      continue;
    }
    const rest = m.getParameters().find((p) => p.isRestParameter());
    if (rest !== undefined) {
      diagnostics.push({ ...locationOf(rest), code: DiagnosticCode.REST_PARAMETER, message: `${where}, parameter \`${rest.getName()}\`: rest parameters are not supported over RPC. Take an array instead.` });
      continue;
    }
    const reference = m.getParameters().filter((p) => p.getName() !== "this").map((p) => referenceIn(p.getType(), m)).find((r) => r !== undefined) ?? referenceIn(awaited(m.getReturnType()), m);
    if (reference !== undefined) {
      byReference.push(name);
      problems.warnings.push({ ...locationOf(m.getNameNode()), code: DiagnosticCode.BY_REFERENCE, message: `${where}: \`${reference}\` crosses RPC by reference (a function, RpcTarget or ReadableStream), which generated codecs do not map, so this method has no codec: it travels as msgpack, by name, like a method of a class without generated codecs.` });
      continue;
    }
    methods.push(scanMethod(className, m, methods.length + 1, mapper, taken, sites));
  }
  return methods;
}

// The runtime calls fetch with a Request and refuses anything but a Response, so a fetch that does
// not fit the base class's `fetch?(request: Request): Response | Promise<Response>` can never work
// (tsc says so too, TS2416, but sourdough-gen may run on code nobody type-checked).
function fetchProblem(where: string, m: MethodDeclaration, chain: readonly ClassDeclaration[]): Diagnostic | undefined {
  const base = chain.at(-1)?.getExtends()?.getExpression();
  const handler = base?.getType().getConstructSignatures()[0]?.getReturnType().getProperty("fetch")?.getTypeAtLocation(m);
  const own = m.getType();
  if (handler === undefined || own.isAssignableTo(handler)) return undefined;
  return {
    ...locationOf(m.getNameNode()),
    code: DiagnosticCode.FETCH_NOT_HANDLER,
    message: `${where}: \`${own.getText(m)}\` is not an HTTP handler. fetch is called with a Request by \`stub.fetch(request)\` and must return a Response, so it can never be an RPC method. Make it \`fetch(request: Request): Response | Promise<Response>\`, or rename the method.`,
  };
}

function scanMethod(className: string, m: MethodDeclaration, id: number, mapper: TypeMapper, taken: Set<string>, sites: Record<string, SourceLocation>): IrMethod {
  const name = m.getName();
  const base = `${typeName(className)}${typeName(name)}`;
  const params: IrStruct = { name: unique(`${base}Params`, taken), id: "", ts: `${className}.${name} parameters`, fields: [], retired: [] };
  const results: IrStruct = { name: unique(`${base}Results`, taken), id: "", ts: `${className}.${name} result`, fields: [], retired: [] };
  const names = new Set<string>();
  m.getParameters().filter((p) => p.getName() !== "this").forEach((p, i) => {
    const pName = Node.isIdentifier(p.getNameNode()) ? p.getName() : `arg${i + 1}`;
    sites[`${className}.${name}(${pName})`] = locationOf(p);
    const site = { at: m, contextName: `${base}${typeName(pName)}`, ...referred(p) };
    const optional = p.isOptional() || p.hasInitializer();
    const mapped = mapper.mapField(p.getType(), site, optional);
    const f = field(pName, unique(memberName(pName), names), mapped, p.getTypeNode()?.getText() ?? typeText(p.getType(), m));
    params.fields.push(optional && f.presence === "required" ? { ...f, optional: true } : f);
  });
  const returned = awaited(m.getReturnType());
  sites[`${className}.${name}()`] = locationOf(m.getReturnTypeNode() ?? m.getNameNode());
  const isVoid = returned.isVoid() || returned.isUndefined() || returned.isNever();
  const mapped = isVoid ? { type: { kind: "void" as const }, presence: "required" as const } : mapper.mapField(returned, { at: m, contextName: `${base}Result` }, false);
  results.fields.push(field("result", "result", mapped, typeText(returned, m)));
  assignOrdinals(params);
  assignOrdinals(results);
  return { name, id, params, results };
}

function awaited(t: Type): Type {
  return t.getAwaitedType() ?? t;
}
