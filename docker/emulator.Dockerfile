# The emulator image (docker-compose.yml's `emulator` service). Build context: the repository root.
FROM node:20-bookworm-slim AS build
WORKDIR /app
# Compilers only in case better-sqlite3 has no prebuilt binary for this platform.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY fixtures ./fixtures
COPY web ./web
RUN npm ci --no-audit --no-fund && npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
# Transparent interception: network namespaces (iproute2), nftables redirects, conntrack lookups;
# util-linux (unshare, nsenter, setpriv) confines sandbox commands (perl-base, in the image, is their init).
RUN apt-get update \
 && apt-get install -y --no-install-recommends iproute2 nftables conntrack util-linux ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/fixtures ./fixtures
COPY --from=build /app/web ./web
EXPOSE 4780
ENTRYPOINT ["node", "dist/bin/main.js"]
CMD ["start", "--host", "0.0.0.0", "--port", "4780"]
