package dev.conduit.cli.command;

import com.fasterxml.jackson.databind.JsonNode;
import dev.conduit.cli.CliException;
import dev.conduit.cli.ExitCode;
import dev.conduit.cli.config.ManagerConfig;
import dev.conduit.cli.logging.Logging;
import dev.conduit.core.control.enrol.CaPin;
import dev.conduit.core.control.enrol.EnrolmentException;
import dev.conduit.core.mesh.ManagerAdminClient;
import dev.conduit.core.mesh.MeshManager;
import dev.conduit.core.mesh.MeshManagerService;
import dev.conduit.core.runtime.ConduitRuntime;
import dev.conduit.core.runtime.Service;
import dev.conduit.core.pki.Pem;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code conduit manager -c manager.yaml} runs the mesh manager; {@code conduit manager nodes|token|status} are
 * the operator's commands against its admin API.
 */
@Command(name = "manager", mixinStandardHelpOptions = true,
    description = {"Run the mesh manager (CA, enrolment, admin API) from manager.yaml,",
        "or talk to a running one: nodes ls|show|approve|revoke|rm, token create, status."},
    subcommands = {ManagerCommand.Nodes.class, ManagerCommand.Token.class, ManagerCommand.Status.class})
public final class ManagerCommand extends BaseCommand implements Callable<Integer> {

  @Option(names = {"-c", "--config"}, paramLabel = "FILE", description = "The manager's configuration (manager.yaml).")
  Path config;

  @Override
  public Integer call() throws Exception {
    if (config == null) {
      throw CliException.usage("missing -c manager.yaml (or a subcommand: nodes, token, status)");
    }
    ManagerConfig cfg = ManagerConfig.load(config);
    Logging.configure(cfg.log());
    MeshManagerService plain = new MeshManagerService(cfg.toBuilder()).withPolicy(cfg.policy());
    MeshManagerService service = cfg.pushBind().map(plain::withPush).orElse(plain);
    Service announce = new Service() {
      @Override
      public String name() {
        return "manager-announce";
      }

      @Override
      public void start() {
        MeshManager manager = service.manager();
        out().println("conduit manager listening on " + manager.address() + " (" + cfg.store().driver().name()
            .toLowerCase(java.util.Locale.ROOT) + ", trust domain " + cfg.trustDomain() + ")");
        out().println("CA pin: " + manager.caPin());
        service.push().flatMap(p -> p.address()).ifPresent(p -> out().println("membership push channel on wss://"
            + Lifecycle.hostPort(p) + dev.conduit.core.control.push.PushServer.DEFAULT_PATH));
        out().println("nodes pin it with manager.ca_pin: " + manager.caPin()
            + "; join tokens: conduit manager token create --ttl 1h -c " + config.toAbsolutePath());
        if (cfg.autoApprove()) {
          out().println("warning: auto_approve is on: any host that reaches the manager joins the mesh");
        }
        manager.store().nodes().stream().filter(n -> n.state() == dev.conduit.core.control.store.NodeState.PENDING)
            .forEach(n -> out().println("pending: " + n.name() + " " + n.addresses() + "; approve with: "
                + manager.enrolment().approveCommand(n.name())));
        out().flush();
      }

      @Override
      public void close() {}
    };
    Lifecycle.run(ConduitRuntime.builder().service(service).service(announce).build(), context(), null,
        Lifecycle::startError);
    return ExitCode.OK;
  }

  /** Where the admin API is and how to authenticate: from manager.yaml, or given one by one. */
  static final class Target {
    @Option(names = {"-c", "--config"}, paramLabel = "FILE",
        description = "The manager's manager.yaml (on the manager's host): address, CA and admin token from it.")
    Path config;

    @Option(names = "--manager", paramLabel = "HOST:PORT", split = ",", description = "The manager's address(es).")
    List<String> managers;

    @Option(names = "--ca-pin", paramLabel = "sha256:HEX", description = "The manager's CA pin.")
    String caPin;

    @Option(names = "--token-file", paramLabel = "FILE", description = "The admin token file.")
    Path tokenFile;

    @Option(names = "--cert", paramLabel = "FILE", description = "An operator certificate chain (PEM, URI"
        + " spiffe://TRUST-DOMAIN/admin/NAME, issued by the manager's CA) to present instead of the token.")
    Path certFile;

    @Option(names = "--key", paramLabel = "FILE", description = "The private key of --cert (PEM).")
    Path keyFile;

    @Option(names = "--json", description = "Print the API's JSON answer.")
    boolean json;

    ManagerAdminClient client() throws IOException {
      List<String> addresses = managers;
      String pin = caPin;
      Path token = tokenFile;
      if (config != null) {
        ManagerConfig cfg = ManagerConfig.load(config);
        if (addresses == null) {
          addresses = List.of(cfg.localAddress());
        }
        if (pin == null) {
          Path ca = cfg.dataDirectory().resolve(MeshManager.CA_FILE);
          if (!Files.exists(ca)) {
            throw CliException.failure(ca + ": no such file (has the manager started once?)");
          }
          pin = CaPin.of(Pem.readCertificates(ca).get(0));
        }
        if (token == null) {
          token = cfg.effectiveAdminTokenFile();
        }
      }
      if ((certFile == null) != (keyFile == null)) {
        throw CliException.usage("--cert and --key go together (an operator certificate and its key)");
      }
      if (certFile != null && addresses != null && pin != null) {
        try {
          return ManagerAdminClient.withCertificate(addresses, pin, Pem.readPrivateKey(keyFile),
              Pem.readCertificates(certFile));
        } catch (IOException | IllegalArgumentException e) {
          throw CliException.usage("--cert/--key: " + e.getMessage());
        }
      }
      if (addresses == null || pin == null || token == null) {
        throw CliException.usage("say which manager: -c manager.yaml, or --manager HOST:PORT --ca-pin PIN "
            + "--token-file FILE (or --cert FILE --key FILE)");
      }
      String secret;
      try {
        secret = Files.readString(token, StandardCharsets.UTF_8).strip();
      } catch (java.nio.file.NoSuchFileException e) {
        throw CliException.failure(token + ": no such file (the admin token)");
      }
      try {
        return ManagerAdminClient.withToken(addresses, pin, secret);
      } catch (IllegalArgumentException e) {
        throw CliException.usage(e.getMessage());
      }
    }
  }

  /** Runs one admin call, turning refusals into one-line failures. */
  static JsonNode call(AdminCall call) {
    try {
      return call.run();
    } catch (EnrolmentException e) {
      throw CliException.failure("manager: " + e.getMessage() + " (HTTP " + e.status() + ")");
    } catch (IOException e) {
      throw CliException.failure(e.getMessage(), e);
    }
  }

  @FunctionalInterface
  interface AdminCall {
    JsonNode run() throws IOException;
  }

  /** {@code conduit manager nodes ls|show|approve|revoke|rm}. */
  @Command(name = "nodes", mixinStandardHelpOptions = true, description = "List and manage the mesh's nodes.",
      subcommands = {Nodes.Ls.class, Nodes.Show.class, Nodes.Approve.class, Nodes.Revoke.class, Nodes.Rm.class})
  static final class Nodes {

    @Command(name = "ls", mixinStandardHelpOptions = true, description = "List the nodes.")
    static final class Ls extends BaseCommand implements Callable<Integer> {
      @Mixin
      Target target;

      @Override
      public Integer call() throws IOException {
        ManagerAdminClient client = target.client();
        JsonNode nodes = ManagerCommand.call(client::nodes);
        if (target.json) {
          out().println(nodes.toPrettyString());
        } else {
          printNodes(out(), nodes.get("nodes"));
        }
        return ExitCode.OK;
      }
    }

    @Command(name = "show", mixinStandardHelpOptions = true, description = "Show one node.")
    static final class Show extends BaseCommand implements Callable<Integer> {
      @Mixin
      Target target;

      @Parameters(paramLabel = "NAME", description = "The node's name.")
      String name;

      @Override
      public Integer call() throws IOException {
        ManagerAdminClient client = target.client();
        out().println(ManagerCommand.call(() -> client.node(name)).toPrettyString());
        return ExitCode.OK;
      }
    }

    @Command(name = "approve", mixinStandardHelpOptions = true, description = "Admit a pending node.")
    static final class Approve extends Change {
      @Override
      JsonNode change(ManagerAdminClient client) throws IOException {
        return client.approve(name);
      }
    }

    @Command(name = "revoke", mixinStandardHelpOptions = true,
        description = "Revoke a node: its certificates are revoked and peers drop it.")
    static final class Revoke extends Change {
      @Override
      JsonNode change(ManagerAdminClient client) throws IOException {
        return client.revoke(name);
      }
    }

    @Command(name = "rm", mixinStandardHelpOptions = true,
        description = "Remove a node (its certificates are revoked); it may enrol again.")
    static final class Rm extends Change {
      @Override
      JsonNode change(ManagerAdminClient client) throws IOException {
        return client.remove(name);
      }
    }

    abstract static class Change extends BaseCommand implements Callable<Integer> {
      @Mixin
      Target target;

      @Parameters(paramLabel = "NAME", description = "The node's name.")
      String name;

      abstract JsonNode change(ManagerAdminClient client) throws IOException;

      @Override
      public Integer call() throws IOException {
        ManagerAdminClient client = target.client();
        JsonNode result = ManagerCommand.call(() -> change(client));
        out().println(target.json ? result.toPrettyString() : "node " + name + ": " + result.path("result").asText());
        return ExitCode.OK;
      }
    }
  }

  /** {@code conduit manager token create --ttl 1h}. */
  @Command(name = "token", mixinStandardHelpOptions = true, description = "Join tokens.",
      subcommands = {Token.Create.class})
  static final class Token {
    @Command(name = "create", mixinStandardHelpOptions = true,
        description = "Create a single-use join token; a node enrols with it once, before it expires.")
    static final class Create extends BaseCommand implements Callable<Integer> {
      @Mixin
      Target target;

      @Option(names = "--ttl", paramLabel = "DURATION", defaultValue = "24h",
          description = "How long the token is valid, 1m to 30d (default: ${DEFAULT-VALUE}).")
      Duration ttl;

      @Option(names = "--description", paramLabel = "TEXT", description = "A note kept with the token.")
      String description;

      @Override
      public Integer call() throws IOException {
        ManagerAdminClient client = target.client();
        JsonNode token = ManagerCommand.call(() -> client.createToken(ttl, description));
        if (target.json) {
          out().println(token.toPrettyString());
        } else {
          out().println(token.get("token").asText());
          err().println("single use, expires " + token.get("expires_at").asText()
              + "; give it to one node as manager.token");
        }
        return ExitCode.OK;
      }
    }
  }

  /** {@code conduit manager status}. */
  @Command(name = "status", mixinStandardHelpOptions = true,
      description = "The manager's state version, CA, and every node: state, last seen, certificate expiry, "
          + "applied version.")
  static final class Status extends BaseCommand implements Callable<Integer> {
    @Mixin
    Target target;

    @Override
    public Integer call() throws IOException {
      ManagerAdminClient client = target.client();
      JsonNode status = ManagerCommand.call(client::status);
      if (target.json) {
        out().println(status.toPrettyString());
        return ExitCode.OK;
      }
      out().println("version " + status.get("version").asLong() + ", CA pin " + status.get("ca_pin").asText()
          + " (expires " + status.get("ca_not_after").asText() + "), trust domain "
          + status.get("trust_domain").asText());
      out().println("nodes: " + status.get("approved").asInt() + " approved, " + status.get("pending").asInt()
          + " pending, " + status.get("revoked").asInt() + " revoked");
      printNodes(out(), status.get("nodes"));
      return ExitCode.OK;
    }
  }

  static void printNodes(java.io.PrintWriter out, JsonNode nodes) {
    String format = "%-20s %-9s %-7s %-10s %-21s %-21s %s%n";
    out.printf(format, "NAME", "STATE", "ROLE", "APPLIED", "LAST SEEN", "CERT EXPIRES", "ADDRESSES");
    for (JsonNode n : nodes) {
      List<String> addresses = new ArrayList<>();
      n.path("addresses").forEach(a -> addresses.add(a.asText()));
      String applied = n.has("applied_version") ? n.get("applied_version").asText()
          + (n.path("lag").asLong() > 0 ? " (-" + n.get("lag").asLong() + ")" : "") : "-";
      out.printf(format, n.path("name").asText(), n.path("state").asText(), n.path("role").asText(), applied,
          shortTime(n.path("last_seen").asText("-")), shortTime(n.path("certificate_not_after").asText("-")),
          String.join(",", addresses));
    }
  }

  private static String shortTime(String iso) {
    return iso.length() > 19 ? iso.substring(0, 19) + "Z" : iso;
  }

}
