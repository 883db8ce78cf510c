package dev.conduit.cli.command;

import picocli.CommandLine;

/** {@code conduit egress gateway|route}: the egress guard's enforcing roles. */
@CommandLine.Command(name = "egress", mixinStandardHelpOptions = true,
    description = "The egress guard: a gateway that forwards the protected networks' traffic only to"
        + " allowlisted addresses, and a route agent that sends a host's public traffic to it.",
    subcommands = {EgressGatewayCommand.class, EgressRouteCommand.class})
public final class EgressCommand {}
