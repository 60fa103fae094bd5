"""kfn: the implementation of the kestra-gcp Cloud Run functions (one module per function).

How a function works
--------------------
`functions/main.py` declares one functions-framework HTTP entry point per function; each calls
`kfn.wrapper.serve("<name>", request)`, which:

1. parses the JSON body into a `kfn.request.Call` (`call.task` = the task's properties with every
   `{{secret:NAME}}` marker already replaced, `call.execution` = the execution reference);
2. imports `kfn.<name>` lazily (keeps cold start small) and calls its `handle(call) -> dict`;
3. returns `{"outputs": <that dict>}` with status 200, or maps any exception to the contract's error
   body (`kfn.errors`), with every secret value redacted from messages, logs and outputs.

Adding a function module (`kfn/<name>.py`)
------------------------------------------
- Define `def handle(call: Call) -> dict[str, Any]`; dispatch on `call.type` when the function serves a
  plugin family. Read properties with `call.prop("name", default)` / `call.require("name")`.
- Raise `TaskError` (the task's own failure, 400), `NotFound`, `Conflict`, `BadRequest`, or
  `TransientError` (503, retried by the workflow). Messages need not start with the function name: the
  wrapper prefixes it. Exceptions from google-api-core, google-resumable-media and requests are mapped
  automatically (5xx/429/connection faults -> transient, 404 -> NotFound, 409/412 -> Conflict).
- Storage: `kfn.storage` (`execution_uri`, `open_read`, `open_write` (atomic resumable upload),
  `upload_pieces` (atomic, one reused chunk buffer: for large streams), `parse_gs_uri`, `client`).
  Durations: `kfn.durations.parse_duration`. Logging: `kfn.logs.log`.
- Import heavy libraries inside `handle` or at the top of your module (the module itself is imported
  lazily), never from `main.py`.
- Add the entry point in `main.py` if it is new, and the dependency in `requirements.txt`.
"""
