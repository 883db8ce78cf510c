package dev.conduit.netfilter.egress;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.runtime.Service;
import dev.conduit.netfilter.CommandRunner;
import dev.conduit.netfilter.NetfilterException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.Optional;

/**
 * The egress gateway as a {@link Service}: installs its nftables table with the initial allowlist and serves its
 * metrics at start; stops the metrics server and removes the table at close. With an L7 check, the check follows
 * the gateway's mode: a switch through {@link EgressGateway#mode(EgressMode)} switches the check's report-only flag
 * too.
 */
public final class EgressGatewayService implements Service {

  private final EgressGatewayConfig config;
  private final Allowlist initial;
  private final CommandRunner runner;
  private final InetSocketAddress metricsBind;
  private final EgressMetrics metrics;
  private final Optional<EgressL7CheckService> l7Check;
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
    this(config, initial, runner, metricsBind, metrics, Optional.empty());
  }

  /**
   * Creates the service with an L7 check that follows the gateway's mode (start the check's service first).
   *
   * @param config the gateway's table, mode and protected networks
   * @param initial the allowlist enforced from the start
   * @param runner runs {@code nft}
   * @param metricsBind where {@code /metrics} is served
   * @param metrics renders the metrics
   * @param l7Check the L7 check whose report-only flag follows the gateway's mode, if any
   */
  public EgressGatewayService(EgressGatewayConfig config, Allowlist initial, CommandRunner runner,
      InetSocketAddress metricsBind, EgressMetrics metrics, Optional<EgressL7CheckService> l7Check) {
    this.l7Check = requireNonNull(l7Check, "l7Check");
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
    l7Check.ifPresent(l7 -> {
      l7.check().reportOnly(config.mode() == EgressMode.REPORT_ONLY);
      g.onModeSwitch(mode -> l7.check().reportOnly(mode == EgressMode.REPORT_ONLY));
    });
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
