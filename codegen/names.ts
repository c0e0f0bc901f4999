// Cap'n Proto names from TypeScript names: type names are UpperCamel, field and enumerant names
// lowerCamel, letters and digits only (the capnp compiler rejects underscores). Uniqueness is the
// caller's: pass the set of names already taken.

/** Built-in Cap'n Proto type names a declaration would shadow. */
const BUILTIN_TYPES = new Set([
  "Void", "Bool", "Int8", "Int16", "Int32", "Int64", "UInt8", "UInt16", "UInt32", "UInt64",
  "Float32", "Float64", "Text", "Data", "List", "AnyPointer", "AnyStruct", "AnyList", "Capability",
]);

function words(raw: string): string[] {
  return raw.split(/[^A-Za-z0-9]+/).filter((w) => w.length > 0);
}

const upperFirst = (w: string): string => w.charAt(0).toUpperCase() + w.slice(1);

/** `my_class` → `MyClass`, `Page<Item>` → `PageItem`; never a built-in name, never empty. */
export function typeName(raw: string): string {
  let name = words(raw).map(upperFirst).join("");
  if (name === "" || /^[0-9]/.test(name)) name = `T${name}`;
  return BUILTIN_TYPES.has(name) ? `${name}Type` : name;
}

/** `user_id` → `userId`, `URLPath` → `urlPath`, `ID` → `id`; never empty, never starts with a digit. */
export function memberName(raw: string): string {
  const parts = words(raw);
  const first = parts[0];
  if (first === undefined) return "empty";
  const lead = lowerLeading(first);
  const name = lead + parts.slice(1).map(upperFirst).join("");
  return /^[0-9]/.test(name) ? `v${name}` : name;
}

// Lowercases the leading run of capitals, keeping the last one when a lowercase letter follows (URLPath → urlPath).
function lowerLeading(w: string): string {
  const run = /^[A-Z]+/.exec(w)?.[0] ?? "";
  if (run.length === 0) return w;
  if (run.length === w.length) return w.toLowerCase();
  const keep = run.length > 1 && /[a-z]/.test(w.charAt(run.length)) ? run.length - 1 : run.length;
  return w.slice(0, keep).toLowerCase() + w.slice(keep);
}

/** `name`, or `name2`, `name3`, ... : the first not in `taken`; adds it to `taken`. */
export function unique(name: string, taken: Set<string>): string {
  let candidate = name;
  for (let n = 2; taken.has(candidate); n++) candidate = `${name}${n}`;
  taken.add(candidate);
  return candidate;
}

/** True when `name` can be written as `obj.name` in TypeScript. */
export function isIdentifier(name: string): boolean {
  return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(name);
}
