// The scan stage of `sourdough-cloudflare build` (the only part that touches ts-morph): finds the app's
// one `serve(worker, options)` call, and reads from it what a wrangler project needs — the worker's
// and each class's module and export, the bindings (`durableObjects`), the vars (`env`) — checks
// them against the worker's `Env` type, and lists what Cloudflare drops or lacks. Emitting is not its business.
import { existsSync } from "node:fs";
import path from "node:path";
import { type CallExpression, type Expression, Node, type ObjectLiteralExpression, Project, type SourceFile, SyntaxKind, type Type } from "ts-morph";
import type { AppModel, Problem } from "./app-model.ts";
import { optionRule } from "./option-rules.ts";

export interface ScanAppOptions {
  /** The file that calls serve() (absolute). */
  entry: string;
  /** tsconfig.json (absolute); default: the nearest one above the entry. */
  tsconfig?: string | undefined;
}

/** Scans the app; returns its model and every problem found (errors stop the build). */
export function scanApp(scanOptions: ScanAppOptions): { model: AppModel | undefined; problems: Problem[] } {
  const problems: Problem[] = [];
  const entry = scanOptions.entry;
  const tsconfig = scanOptions.tsconfig ?? findUp(path.dirname(entry), "tsconfig.json");
  const project = tsconfig === undefined ? new Project({}) : new Project({ tsConfigFilePath: tsconfig, skipAddingFilesFromTsConfig: true });
  if (!existsSync(entry)) {
    problems.push({ severity: "error", code: "CF4001", file: entry, line: 1, column: 1, message: `${entry} does not exist. Pass the file of your app that calls serve(worker, { durableObjects }) from "sourdough"` });
    return { model: undefined, problems };
  }
  const source = project.addSourceFileAtPath(entry);
  project.resolveSourceFileDependencies();
  const calls = serveCalls(source);
  if (calls.length !== 1) {
    const where = calls.map((c) => at(c).line).join(", ");
    problems.push({
      ...at(calls[1] ?? source),
      severity: "error",
      code: "CF4001",
      message: calls.length === 0
        ? `no serve(worker, options) call with "serve" imported from "sourdough" in this file. Pass the file of your app that calls serve(); its durableObjects option states the bindings`
        : `${calls.length} serve() calls (lines ${where}): the bindings would be ambiguous. Keep one serve() call in the file you pass`,
    });
    return { model: undefined, problems };
  }
  const call = calls[0]!;
  const [workerArg, optionsArg] = call.getArguments() as Expression[];
  const worker = workerArg === undefined ? undefined : exportedDeclaration(workerArg, "the worker (serve's first argument)", problems);
  const options = optionsArg === undefined ? undefined : objectLiteral(optionsArg);
  if (options === undefined) {
    problems.push({ ...at(optionsArg ?? call), severity: "error", code: "CF4002", message: "serve()'s options must be an object literal (here, or in a const in this file): the bindings are read from its durableObjects property" });
    return { model: undefined, problems };
  }
  const model: AppModel = { entry, worker: worker ?? { module: "", exportName: "" }, bindings: [], vars: {}, compatibilityFlags: [] };
  readOptions(options, model, problems);
  if (!problems.some((p) => p.code === "CF4003") && model.bindings.length === 0) {
    problems.push({ ...at(options), severity: "error", code: "CF4003", message: "serve()'s options have no durableObjects: there is no Durable Object class to bind. Add durableObjects: { BINDING: YourClass }" });
  }
  // Checked only when the bindings were read without error: a dropped binding would show up twice.
  if (workerArg !== undefined && !problems.some((p) => p.severity === "error")) checkEnvType(workerArg, model, problems);
  scanSources(project, model, problems);
  return { model: problems.some((p) => p.severity === "error") ? undefined : model, problems };
}

function serveCalls(source: SourceFile): CallExpression[] {
  return source.getDescendantsOfKind(SyntaxKind.CallExpression).filter((call) => {
    const callee = call.getExpression();
    if (!Node.isIdentifier(callee)) return false;
    const decl = callee.getSymbol()?.getDeclarations()[0];
    return decl !== undefined && Node.isImportSpecifier(decl) && decl.getImportDeclaration().getModuleSpecifierValue() === "sourdough" && decl.getName() === "serve";
  });
}

/** A value the entry module can import: an exported const/class/function, found through imports. */
function exportedDeclaration(expr: Expression, what: string, problems: Problem[]): { module: string; exportName: string } | undefined {
  if (!Node.isIdentifier(expr)) {
    problems.push({ ...at(expr), severity: "error", code: "CF4004", message: `${what} is \`${expr.getText().slice(0, 60)}\`, not a name. Declare it as an exported const or class in its own module and pass that name: the generated entry module imports it` });
    return undefined;
  }
  const symbol = expr.getSymbol();
  const target = symbol?.getAliasedSymbol() ?? symbol;
  const decl = target?.getDeclarations()[0];
  if (decl === undefined || decl.getSourceFile().isDeclarationFile()) {
    problems.push({ ...at(expr), severity: "error", code: "CF4004", message: `${what} \`${expr.getText()}\`: its declaration cannot be found in the project's sources. Declare it in a .ts file of the app` });
    return undefined;
  }
  const name = target!.getName();
  const file = decl.getSourceFile();
  const exportedAs = [...file.getExportedDeclarations()].filter(([, decls]) => decls.some((d) => d === decl)).map(([n]) => n);
  if (exportedAs.length === 0 || (exportedAs.length === 1 && exportedAs[0] === "default")) {
    problems.push({ ...at(decl), severity: "error", code: "CF4004", message: `${what} \`${name}\` is not a named export of ${path.basename(file.getFilePath())}. Add \`export\` to its declaration: the generated entry module imports it by name` });
    return undefined;
  }
  if (!exportedAs.includes(name)) {
    problems.push({ ...at(decl), severity: "error", code: "CF4004", message: `${what} \`${name}\` is exported as ${exportedAs.join(", ")}, not under its own name. Export it as ${name}: sourdough names the namespace after the class, and Cloudflare's class_name must match it for data to move` });
    return undefined;
  }
  return { module: decl.getSourceFile().getFilePath(), exportName: name };
}

function objectLiteral(expr: Expression): ObjectLiteralExpression | undefined {
  if (Node.isObjectLiteralExpression(expr)) return expr;
  if (Node.isIdentifier(expr)) {
    const decl = expr.getSymbol()?.getDeclarations()[0];
    const init = decl !== undefined && Node.isVariableDeclaration(decl) ? decl.getInitializer() : undefined;
    if (init !== undefined && Node.isObjectLiteralExpression(init)) return init;
  }
  return undefined;
}

function readOptions(options: ObjectLiteralExpression, model: AppModel, problems: Problem[]): void {
  for (const prop of options.getProperties()) {
    if (!Node.isPropertyAssignment(prop) && !Node.isShorthandPropertyAssignment(prop)) {
      problems.push({ ...at(prop), severity: "error", code: "CF4002", message: `serve() options: \`${prop.getText().slice(0, 40)}\` cannot be read statically. Write each option as \`name: value\`` });
      continue;
    }
    const name = prop.getName();
    const value = Node.isPropertyAssignment(prop) ? prop.getInitializerOrThrow() : prop.getNameNode();
    if (name === "durableObjects") readBindings(value, model, problems);
    else if (name === "env") readVars(value, model, problems);
    else {
      const rule = optionRule(name);
      problems.push({ ...at(prop), severity: rule.kind === "drop" ? "note" : "warning", code: rule.kind === "drop" ? "CF4101" : "CF4201", message: `${name}: ${rule.reason}` });
    }
  }
}

function readBindings(expr: Expression, model: AppModel, problems: Problem[]): void {
  const literal = objectLiteral(expr);
  if (literal === undefined) {
    problems.push({ ...at(expr), severity: "error", code: "CF4003", message: "durableObjects must be an object literal `{ BINDING: Class }`: the wrangler bindings are read from it" });
    return;
  }
  for (const prop of literal.getProperties()) {
    if (!Node.isPropertyAssignment(prop) && !Node.isShorthandPropertyAssignment(prop)) {
      problems.push({ ...at(prop), severity: "error", code: "CF4003", message: `durableObjects: \`${prop.getText().slice(0, 40)}\` cannot be read statically. Write each binding as \`BINDING: Class\`` });
      continue;
    }
    const value = Node.isPropertyAssignment(prop) ? prop.getInitializerOrThrow() : prop.getNameNode();
    const found = exportedDeclaration(value, `durableObjects.${prop.getName()}`, problems);
    if (found !== undefined) model.bindings.push({ binding: prop.getName(), className: found.exportName, module: found.module });
  }
}

function readVars(expr: Expression, model: AppModel, problems: Problem[]): void {
  const literal = objectLiteral(expr);
  if (literal === undefined) {
    problems.push({ ...at(expr), severity: "error", code: "CF4005", message: "env must be an object literal of plain values to become wrangler vars. Write it inline, or move the values to wrangler.jsonc yourself" });
    return;
  }
  for (const prop of literal.getProperties()) {
    const name = Node.isPropertyAssignment(prop) || Node.isShorthandPropertyAssignment(prop) ? prop.getName() : prop.getText().slice(0, 40);
    const init = Node.isPropertyAssignment(prop) ? prop.getInitializerOrThrow() : undefined;
    const value = init === undefined ? undefined : literalValue(init);
    if (value === undefined) {
      problems.push({ ...at(prop), severity: "error", code: "CF4005", message: `env.${name} is not a literal (string, number, boolean, or an object/array of them), so it cannot become a wrangler var. Write the value inline, or, for a secret, remove it here and run \`wrangler secret put ${name}\`` });
      continue;
    }
    model.vars[name] = value;
  }
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function literalValue(expr: Expression): Json | undefined {
  if (Node.isStringLiteral(expr) || Node.isNoSubstitutionTemplateLiteral(expr)) return expr.getLiteralValue();
  if (Node.isNumericLiteral(expr)) return expr.getLiteralValue();
  if (Node.isPrefixUnaryExpression(expr) && expr.getOperatorToken() === SyntaxKind.MinusToken && Node.isNumericLiteral(expr.getOperand())) return -Number(expr.getOperand().getText());
  if (Node.isTrueLiteral(expr)) return true;
  if (Node.isFalseLiteral(expr)) return false;
  if (Node.isNullLiteral(expr)) return null;
  if (Node.isArrayLiteralExpression(expr)) {
    const items = expr.getElements().map((e) => literalValue(e));
    return items.every((i) => i !== undefined) ? (items as Json[]) : undefined;
  }
  if (Node.isObjectLiteralExpression(expr)) {
    const out: Record<string, Json> = {};
    for (const prop of expr.getProperties()) {
      if (!Node.isPropertyAssignment(prop)) return undefined;
      const v = literalValue(prop.getInitializerOrThrow());
      if (v === undefined) return undefined;
      out[prop.getName().replace(/^["']|["']$/g, "")] = v;
    }
    return out;
  }
  return undefined;
}

/** The worker's `Env` (from `Worker<Env>`) must state the same bindings as durableObjects. */
function checkEnvType(workerArg: Expression, model: AppModel, problems: Problem[]): void {
  const workerType = workerArg.getType();
  const fetch = workerType.getProperty("fetch");
  const signature = fetch?.getTypeAtLocation(workerArg).getCallSignatures()[0];
  const envParam = signature?.getParameters()[1];
  if (envParam === undefined) {
    problems.push({ ...at(workerArg), severity: "note", code: "CF4102", message: "the worker's fetch has no typed env parameter: its Env type was not checked against durableObjects. Type the worker as Worker<Env>" });
    return;
  }
  const env = envParam.getTypeAtLocation(workerArg);
  for (const prop of env.getProperties()) {
    const type = prop.getTypeAtLocation(workerArg);
    const className = namespaceClass(type);
    const bound = model.bindings.find((b) => b.binding === prop.getName());
    if (className !== undefined && bound === undefined) {
      problems.push({ ...at(workerArg), severity: "error", code: "CF4006", message: `Env.${prop.getName()} is a DurableObjectNamespace<${className}>, but serve()'s durableObjects has no ${prop.getName()}. Add ${prop.getName()}: ${className} to durableObjects (the one place bindings are stated)` });
    } else if (className !== undefined && bound !== undefined && bound.className !== className) {
      problems.push({ ...at(workerArg), severity: "error", code: "CF4006", message: `Env.${prop.getName()} is a DurableObjectNamespace<${className}>, but durableObjects binds ${prop.getName()} to ${bound.className}. Make them the same class` });
    } else if (className === undefined && !(prop.getName() in model.vars)) {
      problems.push({ ...at(workerArg), severity: "warning", code: "CF4202", message: `Env.${prop.getName()} is not set by serve()'s env: on Cloudflare set it as a var or secret (wrangler secret put ${prop.getName()})` });
    }
  }
}

function namespaceClass(type: Type): string | undefined {
  const symbol = type.getAliasSymbol() ?? type.getSymbol();
  if (symbol?.getName() !== "DurableObjectNamespace") return undefined;
  const arg = (type.getAliasTypeArguments()[0] ?? type.getTypeArguments()[0]);
  return arg?.getSymbol()?.getName();
}

/** Warnings for what Cloudflare lacks, in the worker's and classes' modules and what they import. */
function scanSources(project: Project, model: AppModel, problems: Problem[]): void {
  const roots = new Set([model.worker.module, ...model.bindings.map((b) => b.module)]);
  const seen = new Set<string>();
  const queue = [...roots].map((f) => project.getSourceFile(f)).filter((f): f is SourceFile => f !== undefined);
  let usesNode = false;
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file.getFilePath()) || file.isDeclarationFile() || file.getFilePath().includes("/node_modules/")) continue;
    seen.add(file.getFilePath());
    for (const imp of file.getImportDeclarations()) {
      const spec = imp.getModuleSpecifierValue();
      if (spec.startsWith("node:")) usesNode = true;
      if (spec === "sourdough" && !imp.isTypeOnly()) {
        for (const named of imp.getNamedImports()) {
          if (named.isTypeOnly()) continue;
          const name = named.getName();
          if (name === "withCallOptions") problems.push({ ...at(named), severity: "warning", code: "CF4203", message: "withCallOptions: Cloudflare has no per-call deadline or cancellation; on workerd the stub is used unchanged (timeoutMs and signal are ignored)" });
          else if (!WORKERD_VALUES.has(name)) problems.push({ ...at(named), severity: "error", code: "CF4007", message: `${name} from "sourdough" exists only on Node; the worker and classes are bundled for workerd, where it does not exist. Move its use to the file that calls serve(), or import it as a type` });
        }
      }
      const next = imp.getModuleSpecifierSourceFile();
      if (next !== undefined) queue.push(next);
    }
    for (const dyn of file.getDescendantsOfKind(SyntaxKind.CallExpression)) {
      const arg = dyn.getArguments()[0];
      if (dyn.getExpression().getKind() === SyntaxKind.ImportKeyword && arg !== undefined && Node.isStringLiteral(arg) && arg.getLiteralValue().startsWith("node:")) {
        usesNode = true;
        problems.push({ ...at(dyn), severity: "warning", code: "CF4204", message: `import("${arg.getLiteralValue()}"): workerd has only some Node modules (with the nodejs_compat flag, which the generated config sets); this call may fail there` });
      }
    }
  }
  if (usesNode) model.compatibilityFlags.push("nodejs_compat");
}

/** Values runtime/workerd/index.ts exports (what `import { … } from "sourdough"` finds on workerd). */
const WORKERD_VALUES = new Set(["DurableObject", "RpcTarget", "WorkerEntrypoint", "WebSocketPair", "WebSocketRequestResponsePair", "withCallOptions", "SourdoughError", "ErrorCode"]);

function at(node: Node): { file: string; line: number; column: number } {
  const file = node.getSourceFile();
  const { line, column } = file.getLineAndColumnAtPos(node.getStart());
  return { file: file.getFilePath(), line, column };
}

function findUp(dir: string, name: string): string | undefined {
  for (let d = dir; ; d = path.dirname(d)) {
    if (existsSync(path.join(d, name))) return path.join(d, name);
    if (path.dirname(d) === d) return undefined;
  }
}
