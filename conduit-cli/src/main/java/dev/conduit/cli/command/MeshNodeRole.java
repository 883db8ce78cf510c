package dev.conduit.cli.command;

import dev.conduit.cli.CliContext;
import dev.conduit.cli.CliException;
import dev.conduit.cli.config.ConduitConfig;
import dev.conduit.cli.config.MeshNodeConfig;
import dev.conduit.core.Conduit;
import dev.conduit.core.ConduitBuilder;
import dev.conduit.core.ConduitResources;
import dev.conduit.core.Destination;
import dev.conduit.core.control.store.NodeRole;
import dev.conduit.core.inbound.OriginalDestinationResolver;
import dev.conduit.core.mesh.MeshNode;
import dev.conduit.core.mesh.MeshTunnels;
import dev.conduit.core.route.RouteDecision;
import dev.conduit.core.route.Router;
import dev.conduit.core.runtime.ConduitRuntime;
import dev.conduit.core.runtime.ConduitService;
import dev.conduit.core.runtime.ConfigSections;
import dev.conduit.core.runtime.ReloadOutcome;
import dev.conduit.core.runtime.Service;
import dev.conduit.cli.config.MeshConfig;
import dev.conduit.core.tunnel.MeshPlan;
import dev.conduit.netfilter.ForwardTableCapture;
import dev.conduit.netfilter.NetfilterBackend;
import dev.conduit.netfilter.TransparentSockets;
import dev.conduit.netfilter.mesh.InboundEnforcementService;
import io.netty.util.NetUtil;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Mesh mode of the proxy role ({@code manager.enable: true}): the host's conduit is a member of the manager's mesh.
 * Services in start order: the event loops, the metrics, the conduit (tunnel client listener on
 * {@code client.listen}, plus {@code [::1]} on the same port for IPv6 when that is {@code 127.0.0.1}, and the
 * tunnel server on {@code server.listen.addr}), then the mesh node, which enrols, watches the membership and keeps
 * the tunnels ({@link MeshTunnels}) and the capture rules ({@link MeshCapture}) in step with it.
 */
final class MeshNodeRole {

  private MeshNodeRole() {}

  /** Adds the role's services to {@code runtime}; returns the conduit. */
  static Conduit assemble(ConduitConfig config, CliContext context, ConduitRuntime.Builder runtime) {
    MeshNodeConfig nc = config.meshNode().orElseThrow();
    MeshConfig mesh = config.mesh().orElse(new MeshConfig(null, null));
    boolean clientOn = mesh.client() != null && mesh.client().enable();
    boolean serverOn = mesh.server() != null && mesh.server().enable();
    ConduitResources resources = config.toResourcesBuilder().build();
    try {
      boolean captureOn = clientOn && ProxyRole.captureWanted(config);
      if (captureOn && !resources.isNativeTransport()) {
        throw CliException.failure("cannot capture the mesh's addresses: the native epoll transport is not"
            + " available (expected on Linux x86_64/aarch64; or set client.capture: false)");
      }
      OriginalDestinationResolver resolver = captureOn ? ForwardTableCapture.resolver()
          : OriginalDestinationResolver.NONE;
      String name = nc.name().orElseGet(MeshNodeRole::hostName);
      AtomicReference<MeshNode> node = new AtomicReference<>();
      MeshTunnels tunnels = new MeshTunnels(name, () -> node.get().tls().clientContext(),
          () -> node.get().tls().multiplexClientContext(), () -> node.get().addresses());
      // client.check_time and client.multiplex, as a client's peers have them
      tunnels.clientOptions(MeshNodeReload.clientOptions(config, config.timeouts().dial()));
      ConduitBuilder b = config.toConduitBuilder().resources(resources)
          .router(Router.builder().defaultDecision(RouteDecision.reject("not a mesh member yet")).build());
      boolean v6Twin = false;
      if (clientOn) {
        Destination listen = Destination.parse(mesh.client().listen(), -1);
        b.listener(MeshTunnels.clientListener(mesh.client().listen(), resolver));
        v6Twin = captureOn && listen.host().equals("127.0.0.1");
        if (v6Twin) {
          b.listener(MeshTunnels.clientListener(MeshTunnels.CLIENT_LISTENER_V6, "[::1]:" + listen.port(), resolver));
        }
      }
      if (serverOn) {
        b.listener(MeshTunnels.serverListener(mesh.server().listen().addr(),
            () -> node.get().tls().tunnelServerContext(), tunnels.denyList())); // revoked members refused
      }
      if (captureOn) {
        b.outboundSocketCustomizer(TransparentSockets.outboundMark(ForwardTableCapture.BYPASS_MARK));
      }
      ProxyRole.accessLog(config.log()).ifPresent(b::observer);
      MetricsService metrics = config.admin().isPresent() ? new MetricsService(b, resources) : null;
      Conduit conduit = b.build();

      MeshNode.Builder nb = MeshNode.builder(resources, nc.dial(), Path.of(nc.stateDirectory())).name(name)
          .role(clientOn && serverOn ? NodeRole.BOTH : clientOn ? NodeRole.CLIENT : NodeRole.SERVER)
          .listener(tunnels);
      if (serverOn) {
        nb.serverAddress(mesh.server().listen().addr());
      }
      String envToken = System.getenv(MeshNodeConfig.TOKEN_ENV);
      if (nc.token().isPresent()) {
        nb.token(nc.token().get());
      } else if (nc.tokenFile().isPresent()) {
        nb.tokenFile(Path.of(nc.tokenFile().get()));
      } else if (envToken != null && !envToken.isBlank()) {
        nb.token(envToken.strip());
      }
      nc.caPin().ifPresent(nb::caPin);
      if (!nc.addresses().isEmpty()) {
        nb.addresses(nc.addresses());
      }
      if (!nc.push().isEmpty()) {
        List<URI> push = new ArrayList<>();
        for (String p : nc.push()) {
          Destination d = Destination.parse(p, -1);
          String host = NetUtil.isValidIpV6Address(d.host()) ? "[" + d.host() + "]" : d.host();
          push.add(URI.create("wss://" + host + ":" + d.port() + dev.conduit.core.control.push.PushServer.DEFAULT_PATH));
        }
        nb.pushAddresses(push);
      }
      MeshCapture capture = null;
      if (captureOn) {
        boolean twin = v6Twin;
        capture = new MeshCapture(tunnels, () -> {
          List<InetSocketAddress> bound = new ArrayList<>();
          bound.add(conduit.address(MeshPlan.CLIENT_LISTENER));
          if (twin) {
            bound.add(conduit.address(MeshTunnels.CLIENT_LISTENER_V6));
          }
          return bound;
        }, NetfilterBackend.iptables(context.commandRunner()), context.commandRunner(),
            () -> MeshCapture.managerAddresses(nc), metrics == null ? null : metrics.registry(),
            ProxyRole.DRIFT_CHECK_INTERVAL);
        nb.listener(capture);
      }
      MeshNode built = nb.build();
      node.set(built);

      runtime.service(Service.closing("event-loops", resources));
      if (metrics != null) {
        MeshGuards.gaugeNode(metrics, built);
        runtime.service(metrics.of(conduit));
      }
      Optional<Service> enforcement = MeshGuards.enforcement(config);
      enforcement.ifPresent(runtime::service); // server.enforce: before the listeners open
      runtime.service(new ConduitService(conduit));
      runtime.service(new NodeService(built, tunnels, conduit, capture, new MeshNodeReload(config, tunnels,
          enforcement.map(InboundEnforcementService.class::cast))));
      config.admin().ifPresent(a -> runtime.admin(ProxyRole.admin(a)));
      return conduit;
    } catch (IllegalArgumentException | IllegalStateException e) {
      resources.close();
      throw CliException.usage(e.getMessage());
    } catch (RuntimeException e) {
      resources.close();
      throw e;
    }
  }

  /** The host name as a node name: its first label, lower case. */
  static String hostName() {
    try {
      String h = InetAddress.getLocalHost().getHostName().toLowerCase(Locale.ROOT);
      int dot = h.indexOf('.');
      return dot > 0 ? h.substring(0, dot) : h;
    } catch (UnknownHostException e) {
      throw new IllegalStateException("manager.name: not set and the host name is unknown (" + e.getMessage() + ")");
    }
  }

  /** The node on the runtime: tunnels attached to the running conduit, then enrolment and the membership. */
  private static final class NodeService implements Service {
    private final MeshNode node;
    private final MeshTunnels tunnels;
    private final Conduit conduit;
    private final MeshCapture capture;
    private final MeshNodeReload reload;

    NodeService(MeshNode node, MeshTunnels tunnels, Conduit conduit, MeshCapture capture, MeshNodeReload reload) {
      this.node = node;
      this.tunnels = tunnels;
      this.conduit = conduit;
      this.capture = capture;
      this.reload = reload;
    }

    /** SIGHUP: the tunnels' client options, {@code server.enforce} and the log level apply; the rest needs a restart. */
    @Override
    public ReloadOutcome reload(ConfigSections sections) throws Exception {
      return reload.reload(sections);
    }

    @Override
    public String name() {
      return "mesh-node";
    }

    @Override
    public void start() throws Exception {
      tunnels.attach(conduit);
      node.start();
    }

    @Override
    public void mount(dev.conduit.core.admin.AdminServer.Builder admin) {
      admin.route("/mesh/node", request -> {
        String body = "{\"name\": \"" + node.nodeName() + "\", \"membership_version\": "
            + node.membership().map(m -> m.version()).orElse(0L) + ", \"members\": "
            + node.membership().map(m -> m.members().keySet().stream().map(n -> "\"" + n + "\"").toList().toString())
                .orElse("[]") + ", \"certificate_expiry\": \"" + node.certificateExpiry() + "\", \"connected\": "
            + node.connectedTo().isPresent() + ", \"client\": {\"check_time_seconds\": "
            + tunnels.clientOptions().checkInterval().toSeconds() + ", \"multiplex\": "
            + tunnels.clientOptions().multiplex() + ", \"checked_members\": "
            + tunnels.checkedMembers().stream().sorted().map(n -> "\"" + n + "\"").toList() + "}}\n";
        return dev.conduit.core.admin.AdminResponse.json(200, body);
      });
    }

    @Override
    public void close() {
      tunnels.close(); // the health checks
      node.close();
      if (capture != null) {
        capture.close();
      }
    }
  }
}
