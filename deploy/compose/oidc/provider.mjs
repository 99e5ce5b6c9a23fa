// The OpenID provider of the docker-compose stack: oidc-provider 9 issuing
// short-lived (5 minute) RFC 9068 JWT access tokens for the gateway's resource
// URL by client credentials. It shares the gateway container's network
// namespace, so the gateway reaches its issuer on loopback (http://127.0.0.1:3000)
// and docker publishes it on the host at the same address.
//
// Get a token on the host:
//   curl -s -d grant_type=client_credentials -d scope=mcp:tools \
//     -d resource=http://localhost:8080/mcp -u mcp-agent:agent-secret-0123456789 \
//     http://127.0.0.1:3000/token
// Clients: `mcp-agent` (role reader), `mcp-writer` (role writer). Their secrets
// come from the environment (see docker-compose.yml); the defaults are for the
// demo only.
import http from "node:http";
import Provider from "oidc-provider";
import * as jose from "jose";

const issuer = process.env.ISSUER ?? "http://127.0.0.1:3000";
const resource = process.env.RESOURCE ?? "http://localhost:8080/mcp";
const port = Number(process.env.PORT ?? 3000);
const roles = { "mcp-agent": ["reader"], "mcp-writer": ["writer"] };

const { privateKey } = await jose.generateKeyPair("RS256", { extractable: true });
const key = { ...(await jose.exportJWK(privateKey)), kid: "compose-1", alg: "RS256", use: "sig" };

const client = (id, secret) => ({
  client_id: id,
  client_secret: secret,
  grant_types: ["client_credentials"],
  redirect_uris: [],
  response_types: [],
  scope: "mcp:tools",
});

const provider = new Provider(issuer, {
  clients: [
    client("mcp-agent", process.env.AGENT_SECRET ?? "agent-secret-0123456789"),
    client("mcp-writer", process.env.WRITER_SECRET ?? "writer-secret-0123456789"),
  ],
  jwks: { keys: [key] },
  scopes: ["mcp:tools"],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => resource,
      useGrantedResource: () => true,
      getResourceServerInfo: (ctx, indicator) => {
        if (indicator !== resource) throw new Error(`unknown resource ${indicator}`);
        return { scope: "mcp:tools", audience: resource, accessTokenTTL: 300, accessTokenFormat: "jwt", jwt: { sign: { alg: "RS256" } } };
      },
    },
  },
  extraTokenClaims: (ctx, token) => ({ roles: roles[token.clientId] ?? [] }),
});

http.createServer(provider.callback()).listen(port, "0.0.0.0", () => {
  console.log(`oidc: issuer ${issuer}, tokens for ${resource}`);
});
