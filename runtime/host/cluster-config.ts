// What every process of a cluster agrees on: where the sockets are, how many slots there are, which
// modules hold the classes, and what `env` objects receive. Sent from the coordinator to each host,
// and from the host to each isolate, by structured clone.
import path from "node:path";
import type { RestartPolicyOptions } from "../util/restart-policy.ts";

export interface ClusterConfig {
  /** Private run directory (mode 0700): one socket per slot, its .down records, owner.json. */
  runDir: string;
  hostCount: number;
  isolatesPerHost: number;
  /** Root of per-object SQLite files; undefined keeps databases in memory (not durable). */
  storageDir: string | undefined;
  /** Module URLs (file:) whose exported DurableObject classes the isolates load. */
  modules: string[];
  /** URL of sourdough-gen's index module, when the classes have generated codecs. */
  generatedUrl: string | undefined;
  /** Binding name → namespace (class name): what `env.BINDING` is inside objects. */
  bindings: Record<string, string>;
  /** Plain values added to every object's `env`. */
  vars: Record<string, unknown>;
  connectTimeoutMs: number;
  /** Deadline of every call an object makes (and the coordinator's), if any. */
  callTimeoutMs: number | undefined;
  maxFrameBytes: number;
  /** Largest encoded arguments or result of one call (see wire/limits.ts). */
  maxCallBytes: number;
  /** Idle time after which an object is evicted from memory; 0 disables. */
  idleEvictionMs: number;
  /** First retry delay of a failed alarm (doubles per retry). */
  alarmRetryBaseMs: number;
  /** Memory limit per isolate in MiB, heap plus memory outside it (Buffers); 0: none. */
  isolateMemoryMb: number;
  /** An event running longer than this without yielding stops its isolate; 0: no limit. */
  cpuLimitMs: number;
  /** Events one object may have waiting before calls get ERR_OVERLOADED. */
  maxQueuedEvents: number;
  /** A blockConcurrencyWhile callback running longer than this resets its object. */
  blockConcurrencyTimeoutMs: number;
  /** When a dead isolate is replaced (the same policy as for hosts: `restartBackoff`). */
  restart: Required<RestartPolicyOptions>;
  /** Count calls, errors and latency per method for /metrics (runtime/ops); off: gauges only. */
  metrics: boolean;
}

export interface SlotAddress {
  host: number;
  isolate: number;
}

export function slotCount(config: Pick<ClusterConfig, "hostCount" | "isolatesPerHost">): number {
  return config.hostCount * config.isolatesPerHost;
}

export function slotAddress(config: Pick<ClusterConfig, "isolatesPerHost">, slot: number): SlotAddress {
  return { host: Math.floor(slot / config.isolatesPerHost), isolate: slot % config.isolatesPerHost };
}

export function socketPath(runDir: string, host: number, isolate: number): string {
  return path.join(runDir, `h${host}-i${isolate}.sock`);
}

/** Messages on the coordinator ↔ host IPC channel and the host ↔ isolate channel. */
export type HostCommand = { type: "start"; host: number; config: ClusterConfig } | { type: "shutdown" };
export type ClassInfo = Record<string, string[]>; // class name → callable methods
export type HostEvent =
  | { type: "ready"; classes: ClassInfo; threadIds: number[] }
  | { type: "isolate-exit"; isolate: number; code: number; error: string | undefined }
  | { type: "isolate-restarted"; isolate: number; threadId: number }
  | { type: "fatal"; message: string };
export type IsolateEvent = { type: "ready"; classes: ClassInfo } | { type: "fatal"; message: string };
