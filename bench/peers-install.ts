// Benchmark-only dependencies (autocannon, miniflare + workerd) live in bench/peers/ with their own
// package.json and lockfile, so `npm install` at the root stays lean. This installs them on demand
// and reports what is there; it never fails the bench: a missing peer becomes a "skipped" row.
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import { createRequire } from "node:module";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

export const peersDir = path.join(path.dirname(fileURLToPath(import.meta.url)), "peers");
const peersRequire = createRequire(path.join(peersDir, "package.json"));
const INSTALL_BUDGET_MS = 300_000;

export interface PeerVersions {
  autocannon?: string;
  miniflare?: string;
  /** The workerd npm package, e.g. 1.20260730.1 (its binary calls itself by the date). */
  workerd?: string;
}

export interface PeersStatus {
  versions: PeerVersions;
  /** Why autocannon (the load generator of both HTTP scenarios) is unavailable. */
  loadGeneratorMissing?: string;
  /** Why miniflare/workerd is unavailable. */
  workerdMissing?: string;
  /** Set when this call ran npm. */
  installed?: { command: string; ms: number };
}

function versionOf(pkg: string, from = peersRequire): string | undefined {
  try {
    const file = from.resolve(`${pkg}/package.json`);
    const parsed = JSON.parse(fs.readFileSync(file, "utf8")) as { version?: unknown };
    return typeof parsed.version === "string" ? parsed.version : undefined;
  } catch {
    return undefined;
  }
}

function present(): PeerVersions {
  const versions: PeerVersions = {};
  const autocannon = versionOf("autocannon");
  const miniflare = versionOf("miniflare");
  if (autocannon !== undefined) versions.autocannon = autocannon;
  if (miniflare !== undefined) {
    versions.miniflare = miniflare;
    // workerd as miniflare resolves it (hoisted or nested).
    const workerd = versionOf("workerd", createRequire(peersRequire.resolve("miniflare")));
    if (workerd !== undefined) versions.workerd = workerd;
  }
  return versions;
}

function npm(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile("npm", args, { cwd: peersDir, timeout: INSTALL_BUDGET_MS, maxBuffer: 16 << 20 }, (error, _stdout, stderr) => {
      if (error === null) return resolve();
      const tail = stderr.trim().split("\n").slice(-5).join(" / ");
      reject(new Error(`${error.message.split("\n")[0] ?? "npm failed"}${tail === "" ? "" : `: ${tail}`}`));
    });
  });
}

/** Installs bench/peers/ when a peer is missing (`npm ci`, or `npm install` without a lockfile). */
export async function ensurePeers(log: (text: string) => void): Promise<PeersStatus> {
  let versions = present();
  let installed: PeersStatus["installed"];
  let installError: string | undefined;
  if (versions.autocannon === undefined || versions.miniflare === undefined || versions.workerd === undefined) {
    const hasLock = fs.existsSync(path.join(peersDir, "package-lock.json"));
    const args = [hasLock ? "ci" : "install", "--prefix", peersDir, "--no-audit", "--no-fund", "--loglevel=error"];
    log(`installing the benchmark peers: npm ${args.join(" ")}`);
    const t0 = performance.now();
    try {
      await npm(args);
      installed = { command: `npm ${args.join(" ")}`, ms: Math.round(performance.now() - t0) };
    } catch (error) {
      installError = error instanceof Error ? error.message : String(error);
      log(`installing the benchmark peers failed: ${installError}`);
    }
    versions = present();
  }
  const status: PeersStatus = { versions, ...(installed !== undefined ? { installed } : {}) };
  const why = installError !== undefined ? `npm install in bench/peers failed (${installError})` : "not installed in bench/peers";
  if (versions.autocannon === undefined) status.loadGeneratorMissing = `autocannon ${why}`;
  if (versions.miniflare === undefined || versions.workerd === undefined) status.workerdMissing = `miniflare/workerd ${why}`;
  return status;
}
