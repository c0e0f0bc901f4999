// Issue 11, part 5: the dashboard in real headless Chromium while load runs. The numbers on the page
// (hosts, pids, isolates, objects resident per isolate and per class) must match coordinator.health()
// taken right after the page's latest refresh; the charts must have data. Saves a screenshot to
// test/artifacts/dashboard.png (git-ignored).
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serve, type ServeHandle } from "sourdough";
import { TestCounter } from "../fixtures/objects.ts";
import { browserSkipReason, launchChromium, type LaunchedBrowser } from "../support/browser.ts";
import { FIXTURES } from "../support/cluster.ts";

const skip = browserSkipReason();
if (skip !== undefined) console.log(skip);
const ARTIFACTS = fileURLToPath(new URL("../artifacts/", import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
// The little of the DOM the page functions below use (this project compiles without lib "dom").
interface El {
  textContent: string | null;
  children: ArrayLike<El>;
  getAttribute(name: string): string | null;
  querySelector(selector: string): El | null;
}
interface Doc {
  body: { dataset: Record<string, string | undefined> };
  querySelector(selector: string): El | null;
  querySelectorAll(selector: string): Iterable<El> & ArrayLike<El>;
}

describe.skipIf(skip !== undefined)("dashboard in a headless browser", () => {
  let app: ServeHandle;
  let browser: LaunchedBrowser;
  let storageDir: string;
  let stop = false;
  let load: Promise<void>;
  const names = Array.from({ length: 10 }, (_, i) => `dash-${i}`);

  beforeAll(async () => {
    storageDir = mkdtempSync(path.join(os.tmpdir(), "sourdough-test-"));
    app = serve({ fetch: () => new Response("app") }, { durableObjects: { COUNTER: TestCounter }, modules: [FIXTURES], hostCount: 2, isolatesPerHost: 1, storageDir, dashboard: true, output: () => {}, handleSignals: false });
    await app.ready;
    for (const name of names) await app.coordinator.get(name, TestCounter).increment(1);
    // Load: 8 callers over the 10 objects until the test ends.
    load = Promise.all(
      Array.from({ length: 8 }, async (_, k) => {
        // Calls in flight when a host is killed fail (retryable): the load goes on.
        for (let i = k; !stop; i++) await app.coordinator.get(names[i % names.length]!, TestCounter).increment(1).catch(() => sleep(10));
      }),
    ).then(() => {});
    browser = await launchChromium();
  });
  afterAll(async () => {
    stop = true;
    await load;
    await browser?.close();
    await app?.close();
    rmSync(storageDir, { recursive: true, force: true });
  });

  it("shows the cluster as coordinator.health() sees it, with live charts, and saves a screenshot", async () => {
    const page = await browser.browser.newPage({ viewport: { width: 1200, height: 900 } });
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(`${app.url}/_sourdough/dashboard`);
    await page.waitForSelector("body[data-updated-at]");
    // A host dies under load and comes back: the page lists both under recent restarts.
    const killed = app.coordinator.hosts[1]!.pid!;
    process.kill(killed, "SIGKILL");
    for (let i = 0; i < 200 && (app.coordinator.hosts[1]!.pid === killed || app.coordinator.hosts[1]!.state !== "ready"); i++) await sleep(25);
    await sleep(5000); // a few samples for the charts (every 2 s)
    // Wait for a fresh refresh, then take health() at once: objects stay resident (no eviction within 60 s).
    const before = await page.getAttribute("body", "data-updated-at");
    await page.waitForFunction((prev) => (globalThis as unknown as { document: Doc }).document.body.dataset["updatedAt"] !== prev, before, { timeout: 5000 });
    const shown = await page.evaluate(() => {
      const document = (globalThis as unknown as { document: Doc }).document;
      const text = (sel: string) => document.querySelector(sel)?.textContent ?? "";
      const rows = [...document.querySelectorAll("#isolates tbody tr")].map((tr) => ({
        host: Number(tr.getAttribute("data-host")),
        isolate: Number(tr.getAttribute("data-isolate")),
        pid: Number(tr.children[1]?.textContent),
        objects: Number(tr.querySelector('[data-field="objects"]')?.textContent),
      }));
      const classes = Object.fromEntries([...document.querySelectorAll("#classes tbody tr")].map((tr) => [tr.getAttribute("data-class"), Number(tr.querySelector('[data-field="resident"]')?.textContent)]));
      const methods = [...document.querySelectorAll("#methods tbody tr")].map((tr) => [tr.children[0]?.textContent, Number(tr.children[1]?.textContent)]);
      const events = [...document.querySelectorAll("#events li")].map((li) => li.textContent ?? "");
      return { events, status: text("#status"), total: Number(text("#isolates-total")), objects: Number(text("#objects-total")), rows, classes, methods, canvases: document.querySelectorAll("canvas").length };
    });
    const health = await app.coordinator.health();
    expect(errors).toEqual([]);
    expect(shown.total).toBe(health.isolates.total);
    expect(shown.rows).toEqual(health.hosts.flatMap((h) => h.isolates.map((i) => ({ host: h.host, isolate: i.isolate, pid: h.pid, objects: i.objects_resident }))));
    const resident = health.hosts.flatMap((h) => h.isolates).reduce((n, i) => n + i.objects_resident, 0);
    expect(resident).toBe(names.length);
    expect(shown.objects).toBe(resident);
    expect(shown.classes).toEqual({ TestCounter: names.length });
    expect(["healthy", "degraded"]).toContain(shown.status); // degraded only if an isolate's event loop is saturated by the load
    expect(shown.methods[0]?.[0]).toBe("TestCounter.increment");
    expect(shown.methods[0]?.[1]).toBeGreaterThan(names.length);
    expect(shown.canvases).toBeGreaterThanOrEqual(2); // uPlot drew both charts
    expect(shown.events.some((e) => e.includes(`host-exit: host 1 (pid ${killed}) exited with SIGKILL`))).toBe(true);
    expect(shown.events.some((e) => /host-back: host 1 back after \d+ ms/.test(e))).toBe(true);
    expect(health.hosts[1]!.restarts).toBe(1);
    const data = (await page.evaluate(async () => (await fetch("/_sourdough/dashboard/data.json")).json())) as { series: { callsPerSecond: number[]; p50: Array<number | null> } };
    expect(data.series.callsPerSecond.length).toBeGreaterThanOrEqual(2);
    expect(Math.max(...data.series.callsPerSecond)).toBeGreaterThan(0);
    expect(data.series.p50.some((v) => v !== null && v > 0)).toBe(true);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, "dashboard.png"), fullPage: true });
  });

  it("is not served unless enabled", async () => {
    const plain = serve({ fetch: () => new Response("app", { status: 404 }) }, { durableObjects: {}, hostCount: 0, inMemoryNotice: false, handleSignals: false });
    await plain.ready;
    try {
      const res = await fetch(`${plain.url}/_sourdough/dashboard`);
      expect([res.status, await res.text()]).toEqual([404, "app"]);
    } finally {
      await plain.close();
    }
  });
});
