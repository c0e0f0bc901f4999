// bench/run.ts's report: the Markdown table (medians, ranges, paired ratios, targets, notes) and
// the JSON results.
import * as os from "node:os";
import { round, stats, type Stats } from "../rpc-drivers.ts";
import type { Registry, Target, Unit } from "./measure.ts";
import { GATE_IN_FLIGHT, clusters } from "./scenarios.ts";
import type { Args, Settings } from "./settings.ts";


export function fmt(value: number, unit: Unit): string {
  if (!Number.isFinite(value)) return "n/a";
  switch (unit) {
    case "µs":
      return `${value.toFixed(1)} µs`;
    case "ms":
      return `${value.toFixed(0)} ms`;
    case "count":
      return value.toLocaleString("en-US");
    case "MiB":
      return `${Math.round(value).toLocaleString("en-US")} MiB`;
    case "×":
      return `${value >= 0.1 ? value.toFixed(2) : value.toPrecision(2)}×`;
    case "frames/s":
    case "calls/s":
    case "req/s":
      return `${Math.round(value).toLocaleString("en-US")}/s`;
  }
}

export function fmtRange(st: Stats, unit: Unit): string {
  return `${fmt(st.min, unit)} – ${fmt(st.max, unit)}`;
}

export function targetMet(t: Target, reg: Registry): boolean | undefined {
  let v: number;
  if (t.ratio !== undefined) {
    const r = reg.ratios.find((x) => x.key === t.ratio);
    if (r === undefined) return undefined;
    v = stats(reg.pairedRatios(r)).median;
  } else {
    v = stats(reg.figures.get(t.figure)?.runs ?? []).median;
  }
  if (!Number.isFinite(v)) return undefined;
  return t.op === "<=" ? v <= t.value : v >= t.value;
}

export function markdownTable(reg: Registry, s: Settings, extraNotes: string[]): string {
  const lines: string[] = [];
  lines.push("| Scenario | Median | Min – max | Ratio to the baseline of the same round (raw echo; workerd for HTTP; sync API for the input gate): median (min – max) | Target (on the median) |");
  lines.push("|---|---:|---:|---|---|");
  for (const f of reg.figures.values()) {
    if (f.once === true) continue;
    if (f.skipped !== undefined && f.runs.length === 0) {
      lines.push(`| ${f.label} | skipped: ${f.skipped} | — | — | |`);
      continue;
    }
    const st = stats(f.runs);
    const ratios = reg.ratios.filter((r) => r.num === f.key && reg.pairedRatios(r).length > 0);
    const ratioText = ratios
      .map((r) => {
        const rs = stats(reg.pairedRatios(r));
        const ofMedians = st.median / stats(reg.figures.get(r.den)?.runs ?? []).median;
        return `${fmt(rs.median, "×")} ${r.label} (${fmt(rs.min, "×")} – ${fmt(rs.max, "×")}; ratio of medians ${fmt(ofMedians, "×")})`;
      })
      .join("; ");
    const targets = reg.targets
      .filter((t) => t.figure === f.key)
      .map((t) => {
        const met = targetMet(t, reg);
        return `${t.text} ${met === undefined ? "?" : met ? "✓" : "✗"}`;
      })
      .join("; ");
    lines.push(`| ${f.label} | ${fmt(st.median, f.unit)} | ${fmtRange(st, f.unit)} | ${ratioText === "" ? "—" : ratioText} | ${targets} |`);
  }
  const once = [...reg.figures.values()].filter((f) => f.once === true);
  if (once.length > 0) {
    lines.push("");
    lines.push("Measured once, not alternated (set-up before round 1; file descriptors, disk and close after the last round):");
    lines.push("");
    lines.push("| Setup | Value |");
    lines.push("|---|---:|");
    for (const f of once) lines.push(`| ${f.label} | ${fmt(f.runs[0] ?? Number.NaN, f.unit)} |`);
  }
  lines.push("");
  const echoRuns = reg.figures.get("echo.seq.p50")?.runs ?? [];
  const echoPipe = reg.figures.get(`echo.pipe.${s.inFlight}`)?.runs ?? [];
  lines.push(`Notes:`);
  if (s.rpc) {
    lines.push(
      `- ${s.rounds} rounds, alternating baseline and scenarios within each round: echo sequential → every RPC sequential scenario → echo pipelined → every RPC throughput scenario. ` +
        `Ratios pair each RPC run with the echo run of the same round; "Min – max" is over rounds.`,
    );
    lines.push(
      `- Before round 1, every coordinator started, activated all objects and created their SQLite files, then ran one unrecorded warm-up pass of every RPC scenario. Sequential: ${s.echoSequentialCalls.toLocaleString("en-US")} echo round trips / ${s.rpcSequentialCalls.toLocaleString("en-US")} RPC calls per run after warm-up, one object. ` +
        `Throughput: exactly 256 (or 16) calls in flight, round-robin over ${s.objects} objects (or on one object), ${s.throughputWarmupMs} ms warm-up + ${s.throughputMs} ms window per run; echo pipelined ${s.echoPipelinedMs} ms per level.`,
    );
    lines.push(
      `- Raw echo p50 per round: ${echoRuns.map((v) => v.toFixed(1)).join(", ")} µs; echo @${s.inFlight} per round: ${echoPipe.map((v) => Math.round(v / 1000).toLocaleString("en-US") + "k").join(", ")}/s. ` +
        `On this VM cross-core wake-ups are expensive and the echo baseline is bimodal (≈ 60 µs typical, ≈ 18 µs when the scheduler packs both processes on one core); paired ratios compare runs that saw the same conditions.`,
    );
    lines.push(`- KV writes: one \`ctx.storage.kv.put\` per call, committed (SQLite WAL, synchronous=NORMAL) before the reply leaves, each call to a different object than the calls beside it (no group commit); every commit appends a page to that object's WAL, so storage grows during the run (see "Storage on disk"); storage in a temp dir on ${os.tmpdir()}.`);
  } else if (s.gate) {
    lines.push(`- ${s.rounds} rounds; raw echo sequential and typed RPC scenarios not run (--scenarios); echo pipelined ${s.echoPipelinedMs} ms per level, beside the input gate.`);
  } else {
    lines.push(`- ${s.rounds} rounds; raw echo and typed RPC not run (--scenarios).`);
  }
  if (s.gate) lines.push(gateNote(s));
  lines.push(...extraNotes);
  return lines.join("\n");
}

export function gateNote(s: Settings): string {
  const checked = clusters
    .filter((c) => c.topo.gate)
    .map((c) =>
      c.gate.stored === c.gate.calls
        ? `${c.gate.calls.toLocaleString("en-US")} calls, counter ${c.gate.stored.toLocaleString("en-US")}, on ${c.topo.label}`
        : `LOST UPDATES on ${c.topo.label}: counter ${c.gate.stored.toLocaleString("en-US")} after ${c.gate.calls.toLocaleString("en-US")} calls`,
    )
    .join("; ");
  return (
    `- Input gate: one object (\`gate\`), one counter, every call \`n = get("n") + 1; put("n", n)\` with ${GATE_IN_FLIGHT} calls in flight; per round the sync API run, then the async API run on the same object, ` +
    `each ${s.throughputWarmupMs} ms warm-up + ${s.throughputMs} ms window, one commit per call (output gate). With the async API each call awaits storage twice; the input gate makes the object's other calls wait meanwhile, so no two calls read the same \`n\`. ` +
    `The gate holds the sync variant too (the runtime cannot tell which API a method uses): the ratio is the cost of the awaits under the gate, and the gate's own cost shows in the one-object rows against an earlier commit. ` +
    `After every run (warm-up pass included) the bench reads the stored counter, which must equal the calls made so far, or the run fails (a lost update): ${checked === "" ? "not run" : checked}.`
  );
}

export interface JsonFigure {
  label: string;
  unit: Unit;
  runs: number[];
  median: number;
  min: number;
  max: number;
  once?: boolean;
}

export function jsonResults(reg: Registry, s: Settings, args: Args, command: string, date: string, extra: Record<string, unknown>): unknown {
  const figures: Record<string, JsonFigure> = {};
  for (const f of reg.figures.values()) figures[f.key] = { label: f.label, unit: f.unit, runs: f.runs, ...stats(f.runs), ...(f.once === true ? { once: true } : {}) };
  const ratios: Record<string, unknown> = {};
  for (const r of reg.ratios) {
    const paired = reg.pairedRatios(r).map((v) => round(v, 4));
    const st = stats(paired);
    const num = stats(reg.figures.get(r.num)?.runs ?? []).median;
    const den = stats(reg.figures.get(r.den)?.runs ?? []).median;
    ratios[r.key] = { numerator: r.num, denominator: r.den, pairing: "same round", runs: paired, ...st, ratioOfMedians: round(num / den, 4) };
  }
  const targets = reg.targets.map((t) => ({ figure: t.figure, ratio: t.ratio, op: t.op, value: t.value, text: t.text, met: targetMet(t, reg) ?? null }));
  return {
    machine: {
      cpuModel: os.cpus()[0]?.model ?? "unknown",
      cores: os.availableParallelism(),
      platform: `${os.type()} ${os.release()} ${os.arch()}`,
      memoryGiB: round(os.totalmem() / 2 ** 30, 1),
      node: process.version,
    },
    date,
    quick: args.quick,
    profile: args.profile,
    command,
    settings: { ...s, topologies: s.topologies.map((t) => ({ id: t.id, label: t.label, hostCount: t.hostCount, isolatesPerHost: t.isolatesPerHost, sequential: t.sequential, throughput: t.throughput })) },
    figures,
    ratios,
    targets,
    ...extra,
  };
}

