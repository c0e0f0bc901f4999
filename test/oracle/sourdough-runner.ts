// Runs cases in sourdough: the interpreter module is written to a temp dir with its base class
// imported from this repo's dist (by absolute file URL, so it resolves from anywhere), and objects
// run under a ClusterCoordinator with real SQLite files, in-process (hostCount 0) or in a host process.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { ClusterCoordinator } from "../../dist/runtime/index.js";
import type { DurableObject, DurableObjectClass } from "../../dist/runtime/index.js";
import type { OracleCase } from "./cases.ts";
import { assembleResults, planSegments, type CallOutcome } from "./concurrent.ts";
import { interpreterModule } from "./interpreter.ts";
import type { Op } from "./ops.ts";
import type { OracleRunner } from "./runner.ts";

const DIST_INDEX = new URL("../../dist/runtime/index.js", import.meta.url);

interface OracleObject extends DurableObject {
  run(ops: Op[]): Promise<unknown>;
}

export interface SourdoughRunnerOptions {
  /** 0: objects run in this process; 1: in one host process with one isolate. */
  hostCount: 0 | 1;
}

export async function startSourdough(options: SourdoughRunnerOptions): Promise<OracleRunner> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "sourdough-oracle-"));
  const moduleFile = path.join(dir, "oracle.mjs");
  writeFileSync(moduleFile, interpreterModule(DIST_INDEX.href));
  const moduleUrl = pathToFileURL(moduleFile);
  const mod = (await import(moduleUrl.href)) as Record<string, unknown>;
  const classes = { Oracle: oracleClass(mod, "Oracle"), OracleNoAlarm: oracleClass(mod, "OracleNoAlarm") };
  let output = "";
  const coordinator = new ClusterCoordinator({
    hostCount: options.hostCount,
    isolatesPerHost: 1,
    storageDir: path.join(dir, "storage"),
    modules: [moduleUrl],
    output: (_host, _stream, text) => void (output = (output + text).slice(-4000)),
  });
  const label = options.hostCount === 0 ? "sourdough (hostCount 0)" : "sourdough (1 host process)";
  try {
    await coordinator.ready;
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    label,
    async run(oracleCase: OracleCase) {
      const ns = coordinator.namespace(oracleCase.object === "noAlarmHandler" ? classes.OracleNoAlarm : classes.Oracle);
      const segments = planSegments(oracleCase.ops);
      try {
        const stub = ns.get(ns.newUniqueId());
        const outcomes: unknown[] = [];
        for (const segment of segments) {
          if (segment.kind === "serial") outcomes.push(await stub.run(segment.ops));
          else outcomes.push(await Promise.all(segment.calls.map((ops) => stub.run(ops).then((r) => r as CallOutcome, (e: unknown) => ({ callFailed: failure(e) })))));
        }
        return assembleResults(segments, outcomes, label);
      } catch (error) {
        throw new Error(`${label}: run() failed: ${String(error)}${output === "" ? "" : `\nhost output:\n${output}`}`, { cause: error });
      }
    },
    async close() {
      await coordinator.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function oracleClass(mod: Record<string, unknown>, name: string): DurableObjectClass<OracleObject> {
  const Class = mod[name];
  if (typeof Class !== "function") throw new Error(`oracle: the generated module does not export ${name}.`);
  return Class as DurableObjectClass<OracleObject>;
}

function failure(error: unknown): { name: string; message: string } {
  const e = error as { name?: unknown; message?: unknown } | null;
  return { name: String(e?.name), message: String(e?.message) };
}
