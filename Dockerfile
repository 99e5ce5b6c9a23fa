# syntax=docker/dockerfile:1
# portcullis container images. Two targets:
#
#   runtime (default, the last stage): the gateway alone on distroless/cc, non-root
#     (uid 65532), no shell. For HTTP upstreams; what Kubernetes runs.
#       docker build -t portcullis .
#   with-node: the same binary on node:22-slim, non-root (uid 1000), with
#     @modelcontextprotocol/server-everything installed, so the gateway can spawn
#     a stdio MCP server inside its own container (docker-compose.yml uses it).
#       docker build --target with-node -t portcullis:with-node .
#
# Both run `portcullis serve --config /etc/portcullis/portcullis.yaml`; mount the
# configuration there. The shipped policies/ and examples/ are in /etc/portcullis
# so a configuration can name them relative to its own folder.

FROM rust:1.95-bookworm AS builder
WORKDIR /src
# Dependencies first, so that a source change does not rebuild them: a stub
# crate with the real manifest and lock file.
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src benches/support \
    && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
    && for b in pipeline auth session scan audit authz; do echo 'fn main() {}' > benches/$b.rs; done \
    && for e in upstream floor_proxy rmcp_upstream; do echo 'fn main() {}' > benches/support/$e.rs; done \
    && mkdir -p tests && echo '' > tests/main.rs \
    && cargo build --release --locked --bin portcullis \
    && rm -rf src benches tests
COPY src src
COPY policies policies
COPY examples examples
COPY benches benches
COPY tests tests
# The binary embeds policies/ (demo and scan rule packs, the model) and
# examples/demo.yaml.
RUN touch src/main.rs src/lib.rs \
    && cargo build --release --locked --bin portcullis \
    && install -D -m 0755 target/release/portcullis /out/portcullis

FROM node:22-bookworm-slim AS with-node
# The stdio demo server, pinned like the test peers (tests/peers/package.json).
RUN npm install --global --no-audit --no-fund @modelcontextprotocol/server-everything@2026.8.31 \
    && mkdir -p /var/log/portcullis && chown node:node /var/log/portcullis
COPY --from=builder /out/portcullis /usr/local/bin/portcullis
COPY policies /etc/portcullis/policies
COPY examples /etc/portcullis/examples
USER node
WORKDIR /var/lib/portcullis
EXPOSE 8080 9090
ENTRYPOINT ["/usr/local/bin/portcullis"]
CMD ["serve", "--config", "/etc/portcullis/portcullis.yaml"]

FROM gcr.io/distroless/cc-debian12:nonroot AS runtime
COPY --from=builder /out/portcullis /usr/local/bin/portcullis
COPY policies /etc/portcullis/policies
COPY examples /etc/portcullis/examples
USER 65532:65532
WORKDIR /var/lib/portcullis
EXPOSE 8080 9090
ENTRYPOINT ["/usr/local/bin/portcullis"]
CMD ["serve", "--config", "/etc/portcullis/portcullis.yaml"]
