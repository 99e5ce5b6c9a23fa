// A real OpenID provider (oidc-provider 9) on 127.0.0.1 for portcullis' tests:
// JWT access tokens (RFC 9068) for a resource indicator, client credentials,
// RFC 8693 token exchange, and signing-key rotation on demand.
//
// Usage (Node 22): PEERS_NODE_MODULES=... node oidc_provider.mjs RESOURCE...
// Prints `LISTENING <issuer>` once serving. The issuer is its own origin.
// Clients: `mcp-agent` / `agent-secret-0123456789` (client_credentials),
// `gateway` / `gateway-secret-0123456789` (client_credentials, token exchange).
// POST /__rotate: the next key signs, the previous one stays published (overlap).
// POST /__retire: only the current signing key stays published.
// Key sets live in one Provider per phase; phases swap the request handler, so the
// issuer, port and clients never change.
import http from "node:http";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const modules = process.env.PEERS_NODE_MODULES;
const load = (p) => import(pathToFileURL(join(modules, p)).href);
const { default: Provider } = await load("oidc-provider/lib/index.js");
const jose = await load("jose/dist/webapi/index.js");

const resources = process.argv.slice(2);
const EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";

async function newKey(n) {
  const { privateKey } = await jose.generateKeyPair("RS256", { extractable: true });
  const jwk = await jose.exportJWK(privateKey);
  return { ...jwk, kid: `key-${n}`, alg: "RS256", use: "sig" };
}

let generation = 1;
let published = [await newKey(1)];

const server = http.createServer((req, res) => {
  if (req.method === "POST" && (req.url === "/__rotate" || req.url === "/__retire")) {
    const next = req.url === "/__rotate" ? rotate() : retire();
    next.then(
      () => { res.writeHead(200, { "content-type": "application/json" }); res.end(JSON.stringify({ kids: published.map((k) => k.kid) })); },
      (e) => { res.writeHead(500); res.end(String(e)); },
    );
    return;
  }
  current.callback()(req, res);
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;
let current = provider(published);

async function rotate() {
  generation += 1;
  published = [await newKey(generation), ...published];
  current = provider(published);
}

async function retire() {
  published = published.slice(0, 1);
  current = provider(published);
}

function provider(keys) {
  const p = new Provider(issuer, {
    clients: [
      { client_id: "mcp-agent", client_secret: "agent-secret-0123456789", grant_types: ["client_credentials"], redirect_uris: [], response_types: [], scope: "mcp:tools" },
      { client_id: "gateway", client_secret: "gateway-secret-0123456789", grant_types: ["client_credentials", EXCHANGE], redirect_uris: [], response_types: [], scope: "mcp:tools upstream:read" },
    ],
    // The first key of an algorithm signs; the rest are only published.
    jwks: { keys },
    scopes: ["mcp:tools", "upstream:read"],
    // Explicit lifetimes: the provider's defaults print a notice on stdout,
    // which the test harness stops reading after the LISTENING line.
    ttl: { AccessToken: 300, ClientCredentials: 300 },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => resources[0],
        useGrantedResource: () => true,
        getResourceServerInfo: (ctx, indicator) => {
          if (!resources.includes(indicator)) throw new Error(`unknown resource ${indicator}`);
          return { scope: "mcp:tools upstream:read", audience: indicator, accessTokenTTL: 300, accessTokenFormat: "jwt", jwt: { sign: { alg: "RS256" } } };
        },
      },
    },
    extraTokenClaims: (ctx) => (ctx.oidc.params?.grant_type === EXCHANGE ? { act: { sub: ctx.oidc.client.clientId } } : undefined),
  });
  p.registerGrantType(EXCHANGE, exchange(p), ["subject_token", "subject_token_type", "resource", "audience", "scope", "requested_token_type"]);
  return p;
}

// RFC 8693: a token for `resource` in exchange for one this provider issued, for
// the same subject, naming the asking client as actor.
function exchange(p) {
  return async (ctx) => {
    const { subject_token: subject, resource, scope } = ctx.oidc.params;
    const localKeys = jose.createLocalJWKSet({ keys: published.map(({ kid, kty, n, e, alg }) => ({ kid, kty, n, e, alg })) });
    let verified;
    try {
      verified = await jose.jwtVerify(subject, localKeys, { issuer });
    } catch {
      ctx.status = 400;
      ctx.body = { error: "invalid_grant" };
      return;
    }
    const info = { scope: "mcp:tools upstream:read", audience: resource, accessTokenTTL: 300, accessTokenFormat: "jwt", jwt: { sign: { alg: "RS256" } } };
    // The new token's subject is the subject token's; the client that asked is its actor (`act`).
    const token = new p.AccessToken({ accountId: verified.payload.sub, client: ctx.oidc.client, scope: scope || "upstream:read", gty: "token_exchange" });
    token.resourceServer = new p.ResourceServer(resource, info);
    const value = await token.save();
    ctx.body = { access_token: value, issued_token_type: "urn:ietf:params:oauth:token-type:access_token", token_type: "Bearer", expires_in: token.expiration, scope: token.scope };
  };
}

console.log(`LISTENING ${issuer}`);
