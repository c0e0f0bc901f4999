// bench/run.ts's settings: topologies, quick and full settings, budgets, paths and its arguments.
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import type { BenchMethod } from "../rpc-drivers.ts";


export interface Topology {
  id: string;
  label: string;
  hostCount: number;
  isolatesPerHost: number;
  /** Which sequential scenarios run on this topology. */
  sequential: BenchMethod[];
  /** Which throughput scenarios run on this topology. */
  throughput: BenchMethod[];
  /** Whether the input-gate scenario (sync vs async read-modify-write on one object) runs here. */
  gate: boolean;
}

/** The input-gate scenario's two variants: the same read-modify-write, sync and promise KV API. */
export type GateMethod = "incrementStored" | "incrementStoredAsync";

export interface Settings {
  rounds: number;
  echoSequentialCalls: number;
  echoPipelinedMs: number;
  rpcSequentialCalls: number;
  rpcSequentialWarmup: number;
  throughputWarmupMs: number;
  throughputMs: number;
  inFlight: number;
  objects: number;
  topologies: Topology[];
  /** The whole run must finish within this, or it is aborted (coordinators closed, exit code 1). */
  totalBudgetMs: number;
  /** Scenario groups: rpc = raw echo + typed RPC; http = HTTP end to end vs workerd; gate = input gate. */
  rpc: boolean;
  http: boolean;
  gate: boolean;
}

export const BOTH: BenchMethod[] = ["increment", "incrementStored"];
export const TOPO_2x1: Topology = { id: "h2i1", label: "2 hosts × 1 isolate", hostCount: 2, isolatesPerHost: 1, sequential: BOTH, throughput: BOTH, gate: true };
export const TOPO_2x2: Topology = { id: "h2i2", label: "2 hosts × 2 isolates", hostCount: 2, isolatesPerHost: 2, sequential: [], throughput: BOTH, gate: false };
export const TOPO_1x2: Topology = { id: "h1i2", label: "1 host × 2 isolates", hostCount: 1, isolatesPerHost: 2, sequential: ["increment"], throughput: BOTH, gate: false };
export const TOPO_1x1: Topology = { id: "h1i1", label: "1 host × 1 isolate", hostCount: 1, isolatesPerHost: 1, sequential: ["increment"], throughput: BOTH, gate: false };

export const QUICK: Settings = {
  rounds: 3,
  echoSequentialCalls: 5_000,
  echoPipelinedMs: 500,
  rpcSequentialCalls: 3_000,
  rpcSequentialWarmup: 500,
  throughputWarmupMs: 300,
  throughputMs: 1_000,
  inFlight: 256,
  objects: 1000,
  topologies: [TOPO_2x1, TOPO_2x2, TOPO_1x2],
  totalBudgetMs: 360_000,
  rpc: true,
  http: true,
  gate: true,
};

export const FULL: Settings = {
  rounds: 5,
  echoSequentialCalls: 20_000,
  echoPipelinedMs: 1_500,
  rpcSequentialCalls: 10_000,
  rpcSequentialWarmup: 1_000,
  throughputWarmupMs: 500,
  throughputMs: 3_000,
  inFlight: 256,
  objects: 1000,
  topologies: [TOPO_2x1, TOPO_2x2, TOPO_1x2, TOPO_1x1],
  totalBudgetMs: 1_200_000,
  rpc: true,
  http: true,
  gate: true,
};

export const ECHO_IN_FLIGHT = [1, 16, 256] as const;
export const START_BUDGET_MS = 40_000;
export const CLOSE_BUDGET_MS = 15_000;
export const ACTIVATE_BUDGET_MS = 60_000;

/** bench/ (this file is in bench/rpc/). */
const benchDir = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
export const resultsDir = path.join(benchDir, "results");
export const profilesDir = path.join(resultsDir, "profiles");

export interface Args {
  quick: boolean;
  profile: boolean;
  rounds: number | undefined;
  /** Topology ids to run (default: all of the mode's). */
  topologies: string[] | undefined;
  /** Scenario groups to run (default: all). */
  scenarios: string[] | undefined;
}

export function parseArgs(argv: string[]): Args {
  const args: Args = { quick: false, profile: false, rounds: undefined, topologies: undefined, scenarios: undefined };
  for (const a of argv) {
    if (a === "--quick") args.quick = true;
    else if (a === "--profile") args.profile = true;
    else if (/^--runs=\d+$/.test(a)) args.rounds = Number(a.slice("--runs=".length));
    else if (a.startsWith("--topologies=")) args.topologies = a.slice("--topologies=".length).split(",").filter((t) => t !== "");
    else if (a.startsWith("--scenarios=")) args.scenarios = a.slice("--scenarios=".length).split(",").filter((t) => t !== "");
    else if (a === "--help" || a === "-h") {
      process.stdout.write("usage: npm run bench [-- --quick] [--profile] [--runs=N] [--topologies=h2i1,h2i2,h1i2,h1i1] [--scenarios=rpc,http,gate]\n");
      process.exit(0);
    } else throw new Error(`unknown argument ${a} (expected --quick, --profile, --runs=N, --topologies=ids, --scenarios=rpc,http,gate)`);
  }
  if (args.rounds !== undefined && args.rounds < 1) throw new Error("--runs must be at least 1");
  return args;
}

export function commandLine(argv: string[]): string {
  if (process.env["npm_lifecycle_event"] === "bench") return `npm run bench${argv.length > 0 ? ` -- ${argv.join(" ")}` : ""}`;
  return `node --import tsx bench/run.ts${argv.length > 0 ? ` ${argv.join(" ")}` : ""}`;
}
