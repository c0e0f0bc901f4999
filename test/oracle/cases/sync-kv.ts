// Synchronous KV (ctx.storage.kv) and list() options, which the async list() shares: byte order of
// keys, every option alone and combined, and the edge values of each.
import type { OracleCase } from "../cases.ts";
import { tag, type Json, type Op } from "../ops.ts";
import { DOC } from "./docs.ts";

/** Keys whose UTF-8 byte order differs from locale order, case order and UTF-16 order. */
export const ORDER_KEYS = ["a", "aa", "ab", "a%", "a_", "b", "B", "A", "ä", "\u{1F600}", "\uFF21", "z", "%", "_x"];

const putKeys = (keys: readonly string[]): Op[] => keys.map((key) => ({ op: "kv.put", key, value: key }));

// Each options object is checked through kv.list() and the async list().
const LIST_OPTIONS: Array<{ name: string; options: { [key: string]: Json } }> = [
  { name: "no options: ascending UTF-8 byte order", options: {} },
  { name: "start is inclusive", options: { start: "aa" } },
  { name: "startAfter is exclusive", options: { startAfter: "aa" } },
  { name: "end is exclusive", options: { end: "b" } },
  { name: "start and end", options: { start: "a", end: "b" } },
  { name: "startAfter and end", options: { startAfter: "a", end: "b" } },
  { name: "start after every key", options: { start: "zzz\u{10FFFF}" } },
  { name: "start above end is empty", options: { start: "b", end: "a" } },
  { name: "start and startAfter together", options: { start: "a", startAfter: "a" } },
  { name: "prefix", options: { prefix: "a" } },
  { name: "prefix % is literal", options: { prefix: "%" } },
  { name: "prefix _ is literal", options: { prefix: "_" } },
  { name: "prefix a% is literal", options: { prefix: "a%" } },
  { name: "prefix is case-sensitive", options: { prefix: "A" } },
  { name: "empty prefix lists everything", options: { prefix: "" } },
  { name: "prefix of a non-ASCII key", options: { prefix: "\u00e4" } },
  { name: "prefix of an emoji key", options: { prefix: "\u{1F600}" } },
  { name: "prefix with start inside it", options: { prefix: "a", start: "a_" } },
  { name: "prefix with startAfter inside it", options: { prefix: "a", startAfter: "aa" } },
  { name: "prefix with end inside it", options: { prefix: "a", end: "aa" } },
  { name: "prefix with start outside it", options: { prefix: "a", start: "b" } },
  { name: "limit", options: { limit: 2 } },
  { name: "limit 0", options: { limit: 0 } },
  { name: "negative limit", options: { limit: -1 } },
  { name: "fractional limit", options: { limit: 1.5 } },
  { name: "limit above the key count", options: { limit: 1000 } },
  { name: "reverse", options: { reverse: true } },
  { name: "reverse with limit takes the largest keys", options: { reverse: true, limit: 2 } },
  { name: "reverse keeps start/end meaning (only flips order)", options: { start: "a", end: "b", reverse: true } },
  { name: "reverse with startAfter, end and limit", options: { startAfter: "a", end: "b", reverse: true, limit: 2 } },
  { name: "reverse with prefix and limit", options: { prefix: "a", reverse: true, limit: 2 } },
  { name: "reverse false is the default order", options: { reverse: false, limit: 3 } },
];

const listCases: OracleCase[] = LIST_OPTIONS.flatMap(({ name, options }) => [
  { name: `kv.list: ${name}`, doc: DOC.list, ops: [...putKeys(ORDER_KEYS), { op: "kv.list", options }] },
  { name: `list (async): ${name}`, doc: DOC.asyncList, ops: [...putKeys(ORDER_KEYS), { op: "list", options }] },
]);

export const SYNC_KV_CASES: OracleCase[] = [
  {
    name: "kv.get of a missing key is undefined; put then get; delete says whether the key existed",
    doc: DOC.syncKv,
    ops: [
      { op: "kv.get", key: "missing" },
      { op: "kv.put", key: "k", value: 1 },
      { op: "kv.get", key: "k" },
      { op: "kv.put", key: "k", value: 2 },
      { op: "kv.get", key: "k" },
      { op: "kv.delete", key: "k" },
      { op: "kv.delete", key: "k" },
      { op: "kv.get", key: "k" },
    ],
  },
  { name: "kv.list with no keys is empty", doc: DOC.syncKv, ops: [{ op: "kv.list" }] },
  {
    name: "kv: the empty string is a key",
    doc: DOC.syncKv,
    ops: [{ op: "kv.put", key: "", value: "empty" }, { op: "kv.get", key: "" }, { op: "kv.list" }, { op: "kv.delete", key: "" }],
  },
  {
    name: "kv: a key with a NUL character sorts by its bytes",
    doc: DOC.syncKv,
    ops: [...putKeys(["a", "a\u0000", "a\u0000b", "a\u0001"]), { op: "kv.get", key: "a\u0000b" }, { op: "kv.list" }, { op: "kv.list", options: { prefix: "a\u0000" } }],
  },
  {
    name: "kv: non-string keys (number, undefined)",
    doc: DOC.syncKv,
    ops: [
      { op: "kv.put", key: 1, value: "one" },
      { op: "kv.get", key: "1" },
      { op: "kv.put", key: tag.undefined, value: "u" },
      { op: "kv.get", key: "undefined" },
      { op: "kv.list" },
    ],
  },
  {
    name: "kv: keys with lone surrogates",
    doc: DOC.syncKv,
    ops: [{ op: "kv.put", key: tag.units("\uD800"), value: 1 }, { op: "kv.get", key: tag.units("\uD800") }, { op: "kv.get", key: "\uFFFD" }, { op: "kv.list" }],
  },
  {
    name: "kv: keys of 2048, 2049 and 10000 bytes",
    doc: DOC.limits,
    ops: [
      { op: "kv.put", key: tag.repeat("k", 2048), value: 1 },
      { op: "kv.put", key: tag.repeat("k", 2049), value: 1 },
      { op: "kv.put", key: tag.repeat("k", 10_000), value: 1 },
      { op: "kv.list", options: { limit: 5 } },
    ],
  },
  {
    name: "kv: values of 1 MB, 2 MiB and 3 MB",
    doc: DOC.limits,
    ops: [
      { op: "kv.put", key: "1MB", value: tag.repeat("x", 1_000_000) },
      { op: "kv.put", key: "2MiB+", value: tag.repeat("x", 2 * 1024 * 1024 + 1) },
      { op: "kv.put", key: "3MB", value: tag.repeat("x", 3_000_000) },
      { op: "kv.get", key: "1MB" },
      { op: "kv.get", key: "2MiB+" },
    ],
  },
  ...listCases,
];
