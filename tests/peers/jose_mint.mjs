// Tokens from a second independent JOSE library, `jose` (Node).
//
// Usage (Node 22): PEERS_NODE_MODULES=.peers/node/node_modules node jose_mint.mjs DIR
// reads a JSON list of specs on stdin ({"alg", "kid"?, "claims"}), signs each with
// DIR/<kid>.pem (written by mint.py keys) and prints a JSON list of tokens.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const modules = process.env.PEERS_NODE_MODULES;
const jose = await import(pathToFileURL(join(modules, "jose/dist/webapi/index.js")).href);

const dir = process.argv[2];
const specs = JSON.parse(readFileSync(0, "utf8"));
const tokens = [];
for (const spec of specs) {
  const kid = spec.kid ?? spec.alg.toLowerCase();
  const pem = readFileSync(join(dir, `${kid}.pem`), "utf8");
  const key = await jose.importPKCS8(pem, spec.alg);
  const token = await new jose.SignJWT(spec.claims)
    .setProtectedHeader({ alg: spec.alg, kid, typ: "at+jwt" })
    .sign(key);
  tokens.push(token);
}
process.stdout.write(JSON.stringify(tokens));
