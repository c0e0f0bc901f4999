# sourdough RPC envelope: every frame on a sourdough socket is one `Message`, sent with Cap'n Proto's
# standard stream framing (segment table, then segments). Hand-written; the runtime's direct codec
# (runtime/wire/envelope.ts) writes exactly this layout, and test/wire checks it against capnp-ts.
@0xd3a2c61b9f4e8a71;

struct Message {
  union {
    call @0 :Call;
    return @1 :Return;
    exception @2 :Exception;
    cancel @3 :Cancel;
    control @4 :Control;
    release @5 :Release;
    finish @6 :Finish;
  }
}

enum CallKind {
  method @0;   # an RPC method call: `method` names it, `payload` holds the arguments array
  fetch @1;    # `stub.fetch(request)`: `payload` holds the serialized Request
  webSocket @2; # a WebSocket event for the object (webSocketMessage/Close/Error, sync), answered with a
                # Return; or, from an isolate to serve()'s process with questionId 0 and no answer, an
                # operation on a client socket (send, close, attach, auto). `payload` is msgpackr.
}

struct Call {
  questionId @0 :UInt32;   # chosen by the caller, unique among its calls in flight on this connection
  kind @1 :CallKind;
  methodId @2 :UInt16;     # 0 = dispatch by `method` name; generated codecs use stable ids
  namespace @3 :Text;      # the Durable Object class (namespace) name
  objectId @4 :Data;       # 32 bytes: the object's id
  method @5 :Text;
  payload @6 :Data;        # arguments, msgpackr-encoded (structured-clone semantics) until generated codecs exist
  name @7 :Text;           # the name given to idFromName, when there is one (ctx.id.name)
  target @8 :UInt32;       # 0: the object named above; else an export id of the receiver of this
                           # message (a function or RpcTarget it passed by reference); `method`
                           # names the RpcTarget's method, "" calls the function itself
  promisedAnswer @9 :UInt32; # 0: none; else the question id (of the sender, on this connection) of
                           # an earlier call whose result, an RpcTarget or function, is the target
                           # (promise pipelining: sent before that result arrived)
}

struct Return {
  questionId @0 :UInt32;
  payload @1 :Data;        # the result, msgpackr-encoded
  heldAnswer @2 :Bool;     # the result is a reference the callee keeps for pipelined calls on this
                           # question until the caller sends Finish or releases that reference
}

struct Exception {
  questionId @0 :UInt32;
  retryable @1 :Bool;      # true when the call may be retried as is (the callee did not run it, or died)
  name @2 :Text;           # Error.name as thrown
  message @3 :Text;
  code @4 :Text;           # the error's `code`, when it has one
  stack @5 :Text;          # the remote stack, for diagnostics
}

struct Cancel {
  questionId @0 :UInt32;   # the caller no longer wants this answer
}

struct Release {
  exportId @0 :UInt32;     # an export id of the receiver: the sender drops `count` references to it
  count @1 :UInt32;        # how many times the sender had received it
}

struct Finish {
  questionId @0 :UInt32;   # the sender's question whose held answer (Return.heldAnswer) may be dropped
}

struct Control {
  union {
    ping @0 :UInt64;       # liveness probe; answered with pong carrying the same value
    pong @1 :UInt64;
    goodbye @2 :Text;      # the sender is closing this connection; the text says why
  }
}
