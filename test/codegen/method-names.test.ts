import { describe, expect, it } from "vitest";
import { methodNameRule } from "../../codegen/method-names.ts";

describe("methodNameRule", () => {
  it.each([
    { given: "increment", want: "rpc" },
    { given: "scheduled", want: "rpc" },
    { given: "fetch", want: "fetch" },
    { given: "constructor", want: "skip" },
    { given: "alarm", want: "skip" },
    { given: "webSocketMessage", want: "skip" },
    { given: "webSocketClose", want: "skip" },
    { given: "webSocketError", want: "skip" },
    { given: "_private", want: "skip" },
    { given: "ctx", want: "skip" },
    { given: "env", want: "skip" },
    { given: "toString", want: "skip" },
    { given: "hasOwnProperty", want: "skip" },
    { given: "dup", want: "error" },
    { given: "id", want: "error" },
    { given: "name", want: "error" },
    { given: "then", want: "error" },
    { given: "connect", want: "warning" },
    { given: "toJSON", want: "warning" },
  ])("treats $given as $want", ({ given, want }) => {
    expect(methodNameRule(given).kind).toBe(want);
  });

  it("says why and how to fix, in the house style", () => {
    expect(methodNameRule("dup")).toEqual({
      kind: "error",
      why: "'dup' is a reserved method (stubs use it to duplicate themselves), so the runtime refuses it over RPC, as workerd does",
      fix: "Rename the method",
    });
    expect(methodNameRule("id")).toEqual({ kind: "error", why: "`stub.id` is the object's DurableObjectId, so this method can never be called through a stub", fix: "Rename the method" });
    expect(methodNameRule("connect")).toMatchObject({ kind: "warning", fix: "Rename the method to call it over RPC" });
  });
});
