# Pulse controller image: built from Debian packages only, runs as a non-root user.
#   podman build --format docker --isolation=chroot -t localhost/pulse:latest .
# (--format docker keeps the HEALTHCHECK; podman's default OCI format drops it.)
# Stage 1 builds the daemon and the CLI; stage 2 carries only them and their shared libraries.
FROM debian:bookworm-slim AS build
COPY scripts/install-deps.sh /src/scripts/install-deps.sh
RUN bash /src/scripts/install-deps.sh --build-only
COPY . /src
RUN cmake -S /src -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DPULSE_BUILD_TESTS=OFF \
 && cmake --build /build --target pulse-controller pulsectl pulse-plan -j"$(nproc)" \
 && install -D -m 0755 /build/daemon/pulse-controller /out/usr/local/bin/pulse-controller \
 && install -D -m 0755 /build/northbound/pulsectl /out/usr/local/bin/pulsectl \
 && install -D -m 0755 /build/tools/pulse-plan /out/usr/local/bin/pulse-plan

FROM debian:bookworm-slim
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      libgrpc++1.51 libgrpc29 libprotobuf32 libyaml-cpp0.7 libabsl20220623 libglpk40 \
      libhiredis0.14 libssl3 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/pulse --create-home pulse
COPY --from=build /out/ /
COPY examples/ /etc/pulse/examples/
COPY examples/container.yaml /etc/pulse/pulse.yaml
USER pulse
WORKDIR /var/lib/pulse
# pulsectl (and so the health check) talks to this address; override it with the listen address.
ENV PULSE_SERVER=127.0.0.1:50051
# 50051: gRPC API; 6653: OpenFlow (with an openflow section); 9464: Prometheus metrics (with
# metrics_listen: 0.0.0.0:9464).
EXPOSE 50051 6653 9464
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
  CMD ["/usr/local/bin/pulsectl", "--insecure", "health"]
ENTRYPOINT ["/usr/local/bin/pulse-controller"]
CMD ["--config", "/etc/pulse/pulse.yaml"]
