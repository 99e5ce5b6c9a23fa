// A real TypeScript MCP SDK (1.x) client calling a tool as a task
// (2025-11-25, experimental tasks), summarised as JSON on stdout.
//
// Usage (Node 22): PEERS_NODE_MODULES=.peers/node/node_modules node ts_task_client.mjs URL TOOL
//                  ... ts_task_client.mjs URL --others [TASK_ID ...]
// Prints {created, statuses, result, error, polled}: the task the call created,
// the distinct status messages seen while polling, the tool's result (from `tasks/result`)
// or the error, and `tasks/get` of the task afterwards (or its error).
// With --others, a second client's view: {listed, results}: the task ids
// `tasks/list` shows it, and what `tasks/result` gives it for each TASK_ID.
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const modules = process.env.PEERS_NODE_MODULES;
const sdk = (p) => import(pathToFileURL(join(modules, "@modelcontextprotocol/sdk/dist/esm", p)).href);
const { Client } = await sdk("client/index.js");
const { StreamableHTTPClientTransport } = await sdk("client/streamableHttp.js");
const { CallToolResultSchema } = await sdk("types.js");

const [url, tool] = process.argv.slice(2);
const client = new Client({ name: "portcullis-ts-task-test", version: "1.0.0" }, { capabilities: {} });
await client.connect(new StreamableHTTPClientTransport(new URL(url)));

if (tool === "--others") {
  // Another client's view: the tasks listed, and the result of each.
  const seen = { listed: null, results: {} };
  try {
    seen.listed = (await client.experimental.tasks.listTasks()).tasks.map((t) => t.taskId);
  } catch (e) {
    seen.listed = { error: e.message, code: e.code ?? null };
  }
  for (const id of process.argv.slice(4)) {
    try {
      seen.results[id] = await client.experimental.tasks.getTaskResult(id, CallToolResultSchema);
    } catch (e) {
      seen.results[id] = { error: e.message, code: e.code ?? null };
    }
  }
  console.log(JSON.stringify(seen));
  await client.close();
  process.exit(0);
}

const out = { created: null, statuses: [], result: null, error: null, polled: null };
const stream = client.experimental.tasks.callToolStream(
  { name: tool, arguments: { url: "https://shop.example" } },
  CallToolResultSchema,
  { task: { ttl: 60000 } },
);
for await (const message of stream) {
  if (message.type === "taskCreated") out.created = message.task;
  else if (message.type === "taskStatus") {
    const said = message.task.statusMessage ?? null;
    if (said !== null && !out.statuses.includes(said)) out.statuses.push(said);
  }
  else if (message.type === "result") out.result = message.result;
  else if (message.type === "error") out.error = { message: message.error.message, code: message.error.code ?? null };
}
if (out.created) {
  try {
    out.polled = await client.experimental.tasks.getTask(out.created.taskId);
  } catch (e) {
    out.polled = { error: e.message, code: e.code ?? null };
  }
}
console.log(JSON.stringify(out));
await client.close();
