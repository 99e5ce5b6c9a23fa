// A legacy HTTP+SSE (2024-11-05) session with the TypeScript MCP SDK (1.x)
// SSEClientTransport, summarised as JSON.
// Usage: PEERS_NODE_MODULES=.peers/node/node_modules node ts_legacy_sse.mjs SSE_URL TOKEN
// Initializes, lists the tools, calls `echo` and `delete_records`, and prints
// {"tools": [...], "echo": <result>, "denied": <error>}.
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const modules = process.env.PEERS_NODE_MODULES;
const sdk = (p) => import(pathToFileURL(join(modules, "@modelcontextprotocol/sdk/dist/esm", p)).href);
const { Client } = await sdk("client/index.js");
const { SSEClientTransport } = await sdk("client/sse.js");

const [url, token] = process.argv.slice(2);
const headers = { Authorization: `Bearer ${token}` };
const transport = new SSEClientTransport(new URL(url), { requestInit: { headers } });
const client = new Client({ name: "portcullis-ts-legacy", version: "1.0.0" });
await client.connect(transport);
const tools = (await client.listTools()).tools.map((t) => t.name).sort();
const echo = await client.callTool({ name: "echo", arguments: { text: "hi" } });
let denied;
try {
  denied = await client.callTool({ name: "delete_records", arguments: { table: "users" } });
} catch (e) {
  denied = { error: { code: e.code, message: e.message } };
}
process.stdout.write(JSON.stringify({ tools, echo, denied }) + "\n");
await client.close();
