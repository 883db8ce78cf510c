package dev.conduit.cli.command;

import dev.conduit.cli.CliException;
import dev.conduit.cli.ExitCode;
import dev.conduit.cli.RunControl;
import dev.conduit.cli.config.LogConfig;
import dev.conduit.cli.logging.Logging;
import dev.conduit.core.Conduit;
import dev.conduit.core.ConduitBuilder;
import dev.conduit.core.pki.Pem;
import dev.conduit.mitm.MitmServer;
import java.io.IOException;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code conduit cache serve}: the caching MITM proxy of seed 004 (dduct), with its settings under
 * clear names: {@code cert_dir} → {@code --cert-dir}, {@code file_dir} → {@code --cache-dir},
 * {@code tcp_bind} → {@code --listen}, {@code tls_bind} → {@code --tls-listen}, {@code filters} →
 * {@code --filter}, the certificate names → {@code --intercept} (hosts whose CONNECT tunnels are
 * opened; everything else is a blind tunnel).
 */
@Command(name = "serve", mixinStandardHelpOptions = true,
    description = "Run the caching proxy: HTTP forward proxy + HTTPS interception with conduit's CA + disk cache.",
    footer = {"", "Example:",
        "  conduit cache serve --cert-dir /var/lib/conduit/certs --cache-dir /var/cache/conduit \\",
        "      --listen 127.0.0.1:8000 --intercept '*.docker.io' --intercept quay.io --intercept '*.quay.io'",
        "  curl --cacert /var/lib/conduit/certs/ca.crt -x http://127.0.0.1:8000 https://some.thing/here.txz"})
public final class CacheServeCommand extends BaseCommand implements Callable<Integer> {
  private static final Logger log = LoggerFactory.getLogger(CacheServeCommand.class);

  @Option(names = "--cert-dir", paramLabel = "DIR",
      description = "Where the CA lives (ca.crt, ca.key 0600, ca.p12); created on first start (default: certs next to the jar).")
  Path certDir;

  @Option(names = "--cache-dir", paramLabel = "DIR", description = "The blob cache directory (default: files next to the jar).")
  Path cacheDir;

  @Option(names = "--listen", paramLabel = "IP:PORT",
      description = "Plain HTTP proxy listener (default: 127.0.0.1:8000).")
  String listen;

  @Option(names = "--tls-listen", paramLabel = "IP:PORT",
      description = "HTTPS proxy listener (curl -x https://...), with a certificate from conduit's CA.")
  String tlsListen;

  @Option(names = "--tls-name", paramLabel = "NAME", description = "The HTTPS listener's certificate name.")
  String tlsName;

  @Option(names = "--intercept", paramLabel = "HOST",
      description = "Open CONNECT tunnels to HOST (exact), *.HOST (subdomains) or * (all); repeatable.")
  List<String> intercept = new ArrayList<>();

  @Option(names = "--filter", paramLabel = "REGEX",
      description = "Cache URLs whose path matches; repeatable (default: OCI blobs, packages, archives).")
  List<String> filters = new ArrayList<>();

  @Option(names = "--trust-upstream-ca", paramLabel = "FILE",
      description = "Trust this CA for upstream servers, besides the system trust store; repeatable.")
  List<Path> upstreamCas = new ArrayList<>();

  @Option(names = "--max-cache-size", paramLabel = "BYTES", defaultValue = "10737418240",
      description = "Evict least recently used entries above this size (default: 10 GiB).")
  long maxCacheBytes;

  @Mixin
  LogOptions logOptions = new LogOptions();

  @Mixin
  CacheServeOptions cacheOptions = new CacheServeOptions();

  @Override
  public Integer call() throws IOException, InterruptedException {
    java.util.Optional<SeedToml> seed = SeedToml.load(cacheOptions.cfg);
    if (seed.isPresent()) {
      SeedToml t = seed.get();
      certDir = certDir != null ? certDir : t.certDir;
      cacheDir = cacheDir != null ? cacheDir : t.fileDir;
      listen = listen != null ? listen : t.tcpBind;
      tlsListen = tlsListen != null ? tlsListen : t.tlsBind;
      logOptions.level = logOptions.level != null ? logOptions.level : t.logLevel;
    }
    certDir = certDir != null ? certDir : SeedToml.home().resolve("certs");
    cacheDir = cacheDir != null ? cacheDir : SeedToml.home().resolve("files");
    MitmServer.Builder b = MitmServer.builder().certDir(certDir).fileDir(cacheDir)
        .tcpBind(listen != null ? listen : "127.0.0.1:8000").maxCacheBytes(maxCacheBytes);
    try {
      cacheOptions.apply(b, seed, !intercept.isEmpty(), !filters.isEmpty(), tlsName != null);
      if (tlsListen != null) {
        b.tlsBind(tlsListen);
      }
      if (tlsName != null) {
        b.tlsName(tlsName);
      }
      intercept.forEach(b::intercept);
      if (!filters.isEmpty()) {
        b.filters(filters);
      }
      for (Path ca : upstreamCas) {
        for (X509Certificate c : Pem.readCertificates(ca)) {
          b.trustUpstreamCa(c);
        }
      }
    } catch (IllegalArgumentException e) {
      throw CliException.usage(e.getMessage());
    }
    LogConfig logConfig;
    try {
      logConfig = logOptions.apply(LogConfig.defaults());
    } catch (IllegalArgumentException e) {
      throw CliException.usage(e.getMessage());
    }
    Logging.configure(logConfig);
    seed.ifPresent(t -> t.notices.forEach(n -> err().println("notice: " + n)));
    MitmServer server = b.open();
    ConduitBuilder cb = Conduit.builder();
    server.listeners().forEach(cb::listener);
    Serve.accessLog(logConfig).ifPresent(cb::observer);
    cacheOptions.metrics(server).ifPresent(cb::observer);
    Conduit conduit;
    try {
      conduit = cb.build().start();
    } catch (IOException e) {
      server.close();
      throw CliException.failure(e.getMessage(), e);
    }
    log.info("caching proxy: CA {}, cache {}; trust {}/ca.crt in clients", certDir, cacheDir, certDir);
    dev.conduit.core.admin.AdminServer admin;
    try {
      admin = cacheOptions.startAdmin(conduit, server);
    } catch (CliException e) {
      conduit.close();
      server.close();
      throw e;
    }
    RunControl control = context().runControl();
    control.started(conduit);
    try {
      control.awaitStop();
    } finally {
      cacheOptions.stopAdmin(admin, server);
      try {
        conduit.stop().get(60, TimeUnit.SECONDS);
      } catch (Exception e) {
        log.warn("stop did not finish cleanly: {}", e.toString());
      }
      server.close();
      log.info("stopped");
    }
    return ExitCode.OK;
  }
}
