package dev.conduit.cli.command;

import picocli.CommandLine;

/** {@code conduit egress server|gateway|route}: the egress guard's roles. */
@CommandLine.Command(name = "egress", mixinStandardHelpOptions = true,
    description = "The egress guard: a server that keeps the allowlist and pushes it to gateways, a gateway"
        + " that forwards the protected networks' traffic only to allowlisted addresses, and a route agent that"
        + " sends a host's public traffic to it.",
    subcommands = {EgressServerCommand.class, EgressGatewayCommand.class, EgressRouteCommand.class})
public final class EgressCommand {}
