/**
 * Codec cost per call (issue 3, issue 5 scenario 3): encode + decode of the params and of the result,
 * for `increment(by: number): number` and for a medium payload (10 fields incl. a 1 KB string and 100
 * numbers), with sourdough-gen's generated codecs, msgpackr (the runtime's fallback) and capnp-ts
 * (schema-driven, through test/support/capnp-oracle.ts; needs the `capnp` tool), alternating rounds
 * in one process. Targets: ≤ 2.5 µs per call for increment; generated ≥ 5× faster than capnp-ts on
 * the medium payload.
 *
 *   node --import tsx bench/codecs.ts [--quick]
 *
 * Writes bench/results/codecs-latest.{json,md}.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import { fileURLToPath } from "node:url";
import { decodePayload, encodePayload } from "../runtime/wire/payload.ts";
import { capnpAvailable, decodeWithSchema, encodeWithSchema, loadSchema } from "../test/support/capnp-oracle.ts";
import { codecs } from "../test/codegen/fixtures/bench/expected/codecs.ts";

const quick = process.argv.includes("--quick");
const ROUNDS = quick ? 3 : 7;
const WINDOW_MS = quick ? 150 : 400;

const medium = {
  id: 7,
  name: "x".repeat(1024),
  values: Array.from({ length: 100 }, (_, i) => i * 1.5),
  active: true,
  ratio: 0.25,
  tags: ["a", "bb", "ccc"],
  createdAt: 1_700_000_000_000,
  kind: "medium",
  origin: { x: 1, y: 2 },
  note: "hello",
};

type Step = () => void;
/** µs per call of `step`, measured for WINDOW_MS after a short warm-up. */
function perCall(step: Step): number {
  const warm = performance.now() + 30;
  while (performance.now() < warm) step();
  let n = 0;
  const t = performance.now();
  const end = t + WINDOW_MS;
  while (performance.now() < end) {
    for (let i = 0; i < 100; i++) step();
    n += 100;
  }
  return ((performance.now() - t) * 1000) / n;
}

const inc = codecs["Bench"]!["increment"]!;
const med = codecs["Bench"]!["medium"]!;
const scenarios: Record<string, Record<string, Step>> = {
  "increment(by: number): number": {
    generated: () => void inc.decodeResult(inc.encodeResult((inc.decodeParams(inc.encodeParams([41]))[0] as number) + 1)),
    msgpackr: () => void decodePayload(encodePayload((decodePayload(encodePayload([41], "a"), "a") as number[])[0]! + 1, "r"), "r"),
  },
  "medium payload (10 fields, 1 KB string, 100 numbers)": {
    generated: () => void med.decodeResult(med.encodeResult(med.decodeParams(med.encodeParams([medium]))[0])),
    msgpackr: () => void decodePayload(encodePayload((decodePayload(encodePayload([medium], "a"), "a") as unknown[])[0], "r"), "r"),
  },
};

if (capnpAvailable()) {
  const schema = await loadSchema(fileURLToPath(new URL("../test/codegen/fixtures/bench/expected/schema.capnp", import.meta.url)));
  const roundTrip = (struct: string, value: Record<string, unknown>) => decodeWithSchema(schema, struct, encodeWithSchema(schema, struct, value));
  scenarios["increment(by: number): number"]!["capnp-ts"] = () => {
    const p = roundTrip("BenchIncrementParams", { by: 41 });
    roundTrip("BenchIncrementResults", { result: (p["by"] as number) + 1 });
  };
  const mediumStruct = { ...medium, createdAt: BigInt(medium.createdAt), hasNote: true };
  scenarios["medium payload (10 fields, 1 KB string, 100 numbers)"]!["capnp-ts"] = () => {
    const p = roundTrip("BenchMediumParams", { payload: mediumStruct });
    roundTrip("BenchMediumResults", { result: p["payload"] as Record<string, unknown> });
  };
}

const results: Record<string, Record<string, number[]>> = {};
for (let round = 0; round < ROUNDS; round++) {
  for (const [scenario, codecsOf] of Object.entries(scenarios)) {
    for (const [name, step] of Object.entries(codecsOf)) ((results[scenario] ??= {})[name] ??= []).push(perCall(step));
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const names = ["generated", "msgpackr", "capnp-ts"];
const lines = [
  `sourdough codec bench — ${os.cpus()[0]?.model ?? "cpu"} (${os.cpus().length} cores), Node ${process.version}, ${new Date().toISOString()}, \`node --import tsx bench/codecs.ts${quick ? " --quick" : ""}\`, ${ROUNDS} alternating rounds`,
  "",
  "µs per call: encode + decode of the params and of the result (median, min–max over rounds).",
  "",
  `| Scenario | ${names.join(" | ")} | capnp-ts ÷ generated |`,
  `|---|${names.map(() => "---:").join("|")}|---:|`,
  ...Object.entries(results).map(([scenario, r]) => {
    const cell = (n: string) => (r[n] === undefined ? "skipped (no capnp tool)" : `${median(r[n]!).toFixed(2)} (${Math.min(...r[n]!).toFixed(2)}–${Math.max(...r[n]!).toFixed(2)})`);
    const ratio = r["capnp-ts"] === undefined ? "—" : `${(median(r["capnp-ts"]!) / median(r["generated"]!)).toFixed(1)}×`;
    return `| ${scenario} | ${names.map(cell).join(" | ")} | ${ratio} |`;
  }),
  "",
  "Targets: increment ≤ 2.5 µs with generated codecs; generated ≥ 5× faster than capnp-ts on the medium payload. capnp-ts runs through a schema-driven reader/writer (test/support/capnp-oracle.ts), not capnpc-ts classes.",
];
const md = `${lines.join("\n")}\n`;
process.stdout.write(md);
const dir = new URL("./results/", import.meta.url);
fs.mkdirSync(dir, { recursive: true });
fs.writeFileSync(new URL("codecs-latest.md", dir), md);
fs.writeFileSync(new URL("codecs-latest.json", dir), `${JSON.stringify({ quick, rounds: ROUNDS, results }, null, 2)}\n`);
