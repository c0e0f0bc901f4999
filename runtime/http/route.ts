// route(): an HTTP handler that forwards each request to one object's fetch(), picked by an id
// extractor (default: the `id` query parameter, used as a name).
import { ErrorCode, SourdoughError } from "../errors.ts";
import type { ClusterCoordinator } from "../coordinator/cluster-coordinator.ts";
import type { DurableObjectId } from "../ids.ts";
import type { DurableObject, DurableObjectClass } from "../object/durable-object.ts";

/** Returns the object's name (or id) for a request, or null/undefined when it has none. */
export type IdExtractor = (request: Request) => string | DurableObjectId | null | undefined;

const byIdParam: IdExtractor = (request) => new URL(request.url).searchParams.get("id");

/** An HTTP handler sending each request to the `fetch()` of the object its id names. 400 without an id. */
export function route<T extends DurableObject>(
  coordinator: ClusterCoordinator,
  Class: DurableObjectClass<T>,
  idExtractor: IdExtractor = byIdParam,
): (request: Request) => Promise<Response> {
  const namespace = coordinator.namespace(Class);
  return async (request) => {
    const id = idExtractor(request);
    if (id === null || id === undefined || id === "") {
      return new Response(`Missing Durable Object id for ${Class.name}: pass ?id=<name> (or use a custom idExtractor).\n`, {
        status: 400,
        headers: { "content-type": "text/plain; charset=utf-8" },
      });
    }
    try {
      const stub = typeof id === "string" ? namespace.getByName(id) : namespace.get(id);
      return await stub.fetch(request);
    } catch (error) {
      if (error instanceof SourdoughError && error.code === ErrorCode.BAD_ID) {
        return new Response(`${error.message}\n`, { status: 400, headers: { "content-type": "text/plain; charset=utf-8" } });
      }
      throw error;
    }
  };
}
