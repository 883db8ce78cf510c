package dev.conduit.netfilter;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Backends against a recording fake runner that returns canned listings. */
class BackendStateTest {

  /** Records commands; answers listings from a map keyed by the command line. */
  static final class FakeRunner implements CommandRunner {
    final List<String> commands = new ArrayList<>();
    final Map<String, CommandRunner.Result> answers;

    FakeRunner(Map<String, CommandRunner.Result> answers) {
      this.answers = answers;
    }

    @Override
    public Result run(List<String> argv, String stdin) {
      String line = String.join(" ", argv);
      commands.add(stdin.isEmpty() ? line : line + " <<\n" + stdin);
      return answers.getOrDefault(line, new Result(0, "", ""));
    }
  }

  private static final String SAVE = String.join("\n",
      "*nat",
      ":OUTPUT ACCEPT [0:0]",
      ":CONDUIT_OUTPUT - [0:0]",
      ":CONDUIT_MATCH_OUT - [0:0]",
      ":OTHER_OUTPUT - [0:0]",
      "-A OUTPUT -p tcp -m comment --comment \"conduit:CONDUIT\" -j CONDUIT_OUTPUT",
      "-A OUTPUT -p tcp -m comment --comment \"conduit:CONDUIT\" -j CONDUIT_OUTPUT",
      "-A OUTPUT -p tcp -m comment --comment \"conduit:CONDUIT_2\" -j CONDUIT_2_OUTPUT",
      "-A CONDUIT_OUTPUT -j CONDUIT_MATCH_OUT",
      "COMMIT",
      "*mangle",
      ":CONDUIT_DIVERT - [0:0]",
      "-A CONDUIT_DIVERT -m comment --comment \"conduit:CONDUIT route fwmark=0x1/0x1 table=7 priority=70\" -j MARK --set-xmark 0x1/0x1",
      "COMMIT",
      "");

  @Test
  void clearRemovesStaleDuplicatesChainsSetsAndRoutesOfItsPrefixOnly() throws Exception {
    FakeRunner runner = new FakeRunner(Map.of(
        "iptables-save", new CommandRunner.Result(0, SAVE, ""),
        "ipset list -n", new CommandRunner.Result(0, "CONDUIT_IP4\nCONDUIT_IP4_T\nCONDUIT_2_IP4\nOTHER\n", "")));
    NetfilterBackend.iptables(runner).clear("CONDUIT");
    String all = String.join("\n", runner.commands);
    assertThat(all).contains(
        "-D OUTPUT -p tcp -m comment --comment \"conduit:CONDUIT\" -j CONDUIT_OUTPUT\n"
            + "-D OUTPUT -p tcp -m comment --comment \"conduit:CONDUIT\" -j CONDUIT_OUTPUT\n",
        "-X CONDUIT_OUTPUT\n-X CONDUIT_MATCH_OUT\n",
        "-X CONDUIT_DIVERT",
        "ip -4 rule del fwmark 0x1/0x1 lookup 7 priority 70",
        "ip -6 route del local ::/0 dev lo table 7",
        "ipset destroy CONDUIT_IP4", "ipset destroy CONDUIT_IP4_T");
    assertThat(all).doesNotContain("CONDUIT_2", "OTHER");
  }

  @Test
  void applyOverStaleStateReplacesItInOneTransactionPerFamily() throws Exception {
    FakeRunner runner = new FakeRunner(Map.of("iptables-save", new CommandRunner.Result(0, SAVE, "")));
    NetfilterBackend.iptables(runner).apply(CapturePlan.builder().targetPort(1).capturePort(80)
        .families(IpFamily.IPV4).build());
    List<String> restores = runner.commands.stream()
        .filter(c -> c.startsWith("iptables-restore")).toList();
    assertThat(restores).hasSize(1);
    String payload = restores.get(0);
    // delete the stale jumps before inserting the new one, in the same COMMIT
    assertThat(payload.indexOf("-D OUTPUT")).isLessThan(payload.indexOf("-I OUTPUT 1"));
    assertThat(payload).contains("-X CONDUIT_DIVERT").doesNotContain("-X CONDUIT_OUTPUT");
  }

  @Test
  void failingCommandReportsItsStderr() {
    CommandRunner failing = (argv, stdin) -> new CommandRunner.Result(
        argv.get(0).endsWith("save") ? 0 : 1, "", "iptables-restore: line 3 failed");
    assertThatThrownBy(() -> NetfilterBackend.iptables(failing).apply(
        CapturePlan.builder().targetPort(1).capturePort(80).build()))
        .isInstanceOf(NetfilterException.class)
        .hasMessageContaining("exit 1").hasMessageContaining("line 3 failed");
  }

  @Test
  void prerequisitesNameThePackageToInstall() throws Exception {
    CommandRunner runner = (argv, stdin) -> {
      String line = String.join(" ", argv);
      if (line.equals("sh -c command -v ipset") || line.startsWith("cat /proc/net/ip6")) {
        return new CommandRunner.Result(1, "", "");
      }
      if (line.equals("id -u")) {
        return new CommandRunner.Result(0, "1000\n", "");
      }
      return new CommandRunner.Result(0, line.startsWith("cat") ? "REDIRECT\nTPROXY\n" : "", "");
    };
    CapturePlan plan = CapturePlan.builder().mode(CaptureMode.TPROXY).targetPort(1).capturePort(80).build();
    assertThat(Prerequisites.check(plan, "iptables", runner)).extracting(Prerequisites.Problem::fix)
        .containsExactly(
            "run conduit as root or grant it CAP_NET_ADMIN (e.g. systemd AmbientCapabilities=CAP_NET_ADMIN)",
            "apt-get install ipset (Debian/Ubuntu), dnf install ipset",
            "modprobe xt_TPROXY, or use a kernel built with CONFIG_NETFILTER_XT_TARGET_TPROXY, or use mode REDIRECT");
  }
}
