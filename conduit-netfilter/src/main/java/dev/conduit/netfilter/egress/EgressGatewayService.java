package dev.conduit.netfilter.egress;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.runtime.Service;
import dev.conduit.netfilter.CommandRunner;
import dev.conduit.netfilter.NetfilterException;
import java.io.IOException;
import java.net.InetSocketAddress;

/**
 * The egress gateway as a {@link Service}: installs its nftables table with the initial allowlist and serves its
 * metrics at start; stops the metrics server and removes the table at close.
 */
public final class EgressGatewayService implements Service {

  private final EgressGatewayConfig config;
  private final Allowlist initial;
  private final CommandRunner runner;
  private final InetSocketAddress metricsBind;
  private final EgressMetrics metrics;
  private volatile EgressGateway gateway;
  private volatile EgressMetricsServer metricsServer;

  /**
   * Creates the service.
   *
   * @param config the gateway's table, mode and protected networks
   * @param initial the allowlist enforced from the start
   * @param runner runs {@code nft}
   * @param metricsBind where {@code /metrics} is served
   * @param metrics renders the metrics
   */
  public EgressGatewayService(EgressGatewayConfig config, Allowlist initial, CommandRunner runner,
      InetSocketAddress metricsBind, EgressMetrics metrics) {
    this.config = requireNonNull(config, "config");
    this.initial = requireNonNull(initial, "initial");
    this.runner = requireNonNull(runner, "runner");
    this.metricsBind = requireNonNull(metricsBind, "metricsBind");
    this.metrics = requireNonNull(metrics, "metrics");
  }

  @Override
  public String name() {
    return "egress-gateway";
  }

  @Override
  public void start() throws Exception {
    EgressGateway g = EgressGateway.install(config, initial, runner);
    try {
      metricsServer = EgressMetricsServer.start(metricsBind, g, metrics);
    } catch (IOException e) {
      g.close();
      throw new IOException("metrics: cannot bind " + metricsBind + ": " + e.getMessage(), e);
    }
    gateway = g;
  }

  /** Returns the installed gateway, or throws {@link IllegalStateException} before {@link #start()}. */
  public EgressGateway gateway() {
    EgressGateway g = gateway;
    if (g == null) {
      throw new IllegalStateException("not started");
    }
    return g;
  }

  /** Returns the metrics server's bound address, or throws {@link IllegalStateException} before start. */
  public InetSocketAddress metricsAddress() {
    EgressMetricsServer m = metricsServer;
    if (m == null) {
      throw new IllegalStateException("not started");
    }
    return m.address();
  }

  @Override
  public void close() throws NetfilterException {
    EgressMetricsServer m = metricsServer;
    if (m != null) {
      m.close();
    }
    EgressGateway g = gateway;
    if (g != null) {
      g.close();
    }
  }

  @Override
  public String toString() {
    return "EgressGatewayService{table " + config.table() + "}";
  }
}
