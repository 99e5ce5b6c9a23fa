"""Test keys and tokens from an independent JOSE library (PyJWT + cryptography).

  mint.py keys DIR    writes DIR/<kid>.pem private keys for every asymmetric
                      algorithm, DIR/jwks.json (their public JWKs, kid = alg in
                      lower case, alg pinned), DIR/hmac.b64 (48 random bytes) and
                      DIR/weak.b64 (16 bytes).
  mint.py tokens DIR  reads a JSON list of specs on stdin, prints a JSON list of
                      tokens. A spec: {"alg", "kid"? (default alg in lower
                      case, null for none), "header"?, "claims"? |
                      "payload"? (raw text), "key"? ("hmac", "weak", a kid,
                      "public-pem:<kid>" to MAC with a public key's PEM),
                      "unsigned"? (alg-none style: empty signature)}.
"""

import base64
import hashlib
import hmac
import json
import os
import sys

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

ASYMMETRIC = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA"]


def generate(alg):
    if alg.startswith(("RS", "PS")):
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    if alg == "ES384":
        return ec.generate_private_key(ec.SECP384R1())
    return ed25519.Ed25519PrivateKey.generate()


def to_jwk(alg, public):
    if alg.startswith(("RS", "PS")):
        return json.loads(RSAAlgorithm.to_jwk(public))
    if alg.startswith("ES"):
        return json.loads(ECAlgorithm.to_jwk(public))
    return json.loads(OKPAlgorithm.to_jwk(public))


def keys(folder):
    os.makedirs(folder, exist_ok=True)
    jwks = []
    for alg in ASYMMETRIC:
        kid = alg.lower()
        key = generate(alg)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        with open(os.path.join(folder, f"{kid}.pem"), "wb") as f:
            f.write(pem)
        public_pem = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        with open(os.path.join(folder, f"{kid}.pub.pem"), "wb") as f:
            f.write(public_pem)
        jwk = to_jwk(alg, key.public_key())
        jwk.update({"kid": kid, "alg": alg, "use": "sig"})
        jwks.append(jwk)
    with open(os.path.join(folder, "jwks.json"), "w") as f:
        json.dump({"keys": jwks}, f)
    with open(os.path.join(folder, "hmac.b64"), "w") as f:
        f.write(base64.b64encode(os.urandom(48)).decode() + "\n")
    with open(os.path.join(folder, "weak.b64"), "w") as f:
        f.write(base64.b64encode(b"secret-password!").decode() + "\n")


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def read(folder, name):
    with open(os.path.join(folder, name), "rb") as f:
        return f.read()


def token(folder, spec):
    alg = spec["alg"]
    header = {"alg": alg, "typ": "at+jwt", "kid": spec.get("kid", alg.lower())}
    header.update(spec.get("header", {}))
    header = {k: v for k, v in header.items() if v is not None}
    payload = spec.get("payload")
    payload = payload.encode() if payload is not None else json.dumps(spec.get("claims", {})).encode()
    key_name = spec.get("key") or alg.lower()
    if spec.get("unsigned"):
        head = b64(json.dumps(header).encode())
        return f"{head}.{b64(payload)}."
    if key_name.startswith("public-pem:"):
        # The RS256 -> HS256 confusion: the public key's PEM used as an HMAC secret.
        secret = read(folder, key_name.split(":", 1)[1] + ".pub.pem")
        signing_input = f"{b64(json.dumps(header).encode())}.{b64(payload)}"
        mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{b64(mac)}"
    if alg.startswith("HS"):
        key = base64.b64decode(read(folder, key_name + ".b64").strip())
    else:
        key = serialization.load_pem_private_key(read(folder, key_name + ".pem"), password=None)
    extra = {k: v for k, v in header.items() if k != "alg"}
    # api_jws signs the payload bytes as given, so raw (even duplicate-member)
    # payloads can be signed; PyJWT sets typ itself unless told.
    return jwt.api_jws.encode(payload, key, algorithm=alg, headers=extra, sort_headers=False)


def main():
    command, folder = sys.argv[1], sys.argv[2]
    if command == "keys":
        keys(folder)
    else:
        specs = json.load(sys.stdin)
        json.dump([token(folder, s) for s in specs], sys.stdout)


if __name__ == "__main__":
    main()
