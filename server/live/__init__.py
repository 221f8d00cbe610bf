"""The live wing: subscriptions over WebSocket, from the handshake to the bytes on the socket.

Read in this order:
- endpoint: the handshake (origin, subprotocol), then one connection per graphql-transport-ws
  socket; the legacy graphql-ws, when offered, on Strawberry's own view and handler.
- connection: the protocol, all 8 message types (connection_init, connection_ack, ping, pong,
  subscribe, next, error, complete), its deadlines, rate limit, persisted queries, operation
  limit and logs; Strawberry only through its public `Schema.stream` / `Schema.subscribe`.
- messages: close codes and the shape a client's message must have; heartbeat: the ping
  interval a client may choose in `connection_init`; deadlines: one timer for every connection.
- fanout_plan, fanout: which subscriptions share one execution, and the engine that runs one per
  group and splices its JSON into every member's frame; what each execution's resolver says of
  its stream (cursor, listening) comes back through its root value, schema.stream_tap.StreamTap.
- outbox: one connection's bounded queue of frames, written straight to the socket when it can.
- frames: WebSocket frames built once per message (plain, or deflated without context takeover).
- uvicorn_fast_path: the optional extension that writes those frames to the socket under uvicorn.

Every reach-in into a dependency, and the test that fails loudly when an upgrade moves it:
- uvicorn_fast_path, uvicorn's `WebSocketsSansIOProtocol` (subclassed, its `__init__` replaced;
  the attributes and methods its docstring names) and websockets' `ServerProtocol` parser,
  `Protocol.parse`, `StreamReader.at_eof` and `PerMessageDeflate` attributes; and for `upgrade`
  (called by server/http_protocol.py), what uvicorn's `HttpToolsProtocol.handle_websocket_upgrade`
  reads and calls and websockets' `http11` header limits: checked at start-up
  by `uvicorn_fast_path.check()` (off, with one log line, when they moved) and by
  tests/server/test_uvicorn_fast_path.py, which also pins the versions it was checked against.
- Nothing else in this folder: Starlette's WebSocket, Strawberry's `Schema.stream`/`subscribe`,
  `PreExecutionError`, `ExecutionResult` and `CannotGetOperationTypeError` are their public API.
  (The executions it runs use schema.schema.PerEventMemo, a reach-in into graphql-core guarded by
  tests/schema/test_per_event_memo.py.)"""
