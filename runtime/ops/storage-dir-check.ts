// An unusable storageDir (not creatable, not writable, a file in the way) becomes one clear error on
// `ready`, naming the path and the fix, instead of a bare SQLITE_CANTOPEN or EACCES thrown from serve().
import { ErrorCode, SourdoughError } from "../errors.ts";

export function storageDirError(dir: string, cause: unknown): Error {
  if (cause instanceof SourdoughError && cause.code === ErrorCode.STORAGE_IN_USE) return cause;
  const detail = cause instanceof Error ? cause.message : String(cause);
  const code = (cause as { code?: unknown } | null)?.code;
  return new SourdoughError(
    ErrorCode.STORAGE,
    `ClusterCoordinator: storageDir ${dir} cannot be used: ${typeof code === "string" && !detail.startsWith(code) ? `${code}: ` : ""}${detail}. Give storageDir a directory this user (uid ${process.getuid?.() ?? "?"}) can create and write (e.g. chown or chmod it, or pick a path under your project), or leave storageDir out to keep objects in memory.`,
    { cause },
  );
}
