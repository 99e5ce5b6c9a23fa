// A real TypeScript MCP SDK (1.x) client session, summarised as JSON.
//
// portcullis' tests run this against an upstream directly and through the
// gateway and require identical summaries. Usage (Node 22, from the peer folder):
//   PEERS_NODE_MODULES=.peers/node/node_modules node ts_client.mjs URL PROFILE
// PROFILE is `fixture` (the conformance fixture) or `everything`.
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const modules = process.env.PEERS_NODE_MODULES;
const sdk = (p) => import(pathToFileURL(join(modules, "@modelcontextprotocol/sdk/dist/esm", p)).href);
const { Client } = await sdk("client/index.js");
const { StreamableHTTPClientTransport } = await sdk("client/streamableHttp.js");
const types = await sdk("types.js");

const [url, profile = "fixture"] = process.argv.slice(2);
const counters = { progress: 0, logs: 0, sampling: 0, elicitation: 0 };

const client = new Client(
  { name: "portcullis-ts-test", version: "1.0.0" },
  { capabilities: { sampling: {}, elicitation: { form: {} } } },
);
client.setRequestHandler(types.CreateMessageRequestSchema, async () => {
  counters.sampling += 1;
  return { role: "assistant", content: { type: "text", text: "Paris" }, model: "portcullis-test-model", stopReason: "endTurn" };
});
client.setRequestHandler(types.ElicitRequestSchema, async (req) => {
  counters.elicitation += 1;
  const props = req.params.requestedSchema?.properties ?? {};
  const content = {};
  for (const [key, prop] of Object.entries(props)) {
    content[key] = prop.type === "boolean" ? true : prop.type === "number" || prop.type === "integer" ? 7 : "Ada";
  }
  return { action: "accept", content };
});
client.setNotificationHandler(types.LoggingMessageNotificationSchema, async () => {
  counters.logs += 1;
});

const strip = (v) => {
  if (Array.isArray(v)) return v.map(strip);
  if (v && typeof v === "object") {
    const out = {};
    for (const k of Object.keys(v).sort()) if (k !== "_meta") out[k] = strip(v[k]);
    return out;
  }
  return v;
};

const calls = {
  fixture: [
    ["test_simple_text", {}],
    ["test_image_content", {}],
    ["test_error_handling", {}],
    ["test_tool_with_progress", {}],
    ["test_tool_with_logging", {}],
    ["test_sampling", { prompt: "Say hello" }],
    ["test_elicitation", { message: "Your name?" }],
  ],
  everything: [
    ["echo", { message: "hello through the gateway" }],
    ["get-sum", { a: 2, b: 3 }],
  ],
}[profile];

const transport = new StreamableHTTPClientTransport(new URL(url));
await client.connect(transport);
const summary = { protocol: transport.protocolVersion ?? null, server: client.getServerVersion()?.name };
if (profile === "fixture") await client.setLoggingLevel("debug");
summary.tools = (await client.listTools()).tools.map((t) => t.name).sort();
summary.calls = {};
for (const [name, args] of calls) {
  const result = await client.callTool({ name, arguments: args }, undefined, {
    onprogress: () => { counters.progress += 1; },
  });
  summary.calls[name] = strip(result);
}
const uris = (await client.listResources()).resources.map((r) => r.uri).sort();
summary.resources = uris.slice(0, 5);
summary.read = strip(await client.readResource({ uri: profile === "fixture" ? "test://static-text" : uris[0] }));
summary.prompts = (await client.listPrompts()).prompts.map((p) => p.name).sort();
summary.callbacks = counters;
await transport.terminateSession();
await client.close();
process.stdout.write(JSON.stringify(summary, null, 1) + "\n");
