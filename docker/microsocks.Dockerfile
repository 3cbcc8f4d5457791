# The customer's SOCKS5 proxy: microsocks (a real third-party server) from Debian, with username auth.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends microsocks \
 && rm -rf /var/lib/apt/lists/*
USER nobody
EXPOSE 1080
ENTRYPOINT ["microsocks"]
