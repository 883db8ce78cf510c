package dev.conduit.netfilter;

/**
 * A stand-in for a conduit that crashes: applies a plan with the given backend, prints {@code
 * APPLIED} and waits to be killed. Arguments: {@code <iptables|nftables> <prefix>}.
 */
public final class ApplyAndWait {

  private ApplyAndWait() {}

  public static void main(String[] args) throws Exception {
    CommandRunner runner = CommandRunner.system();
    NetfilterBackend backend = args[0].equals("iptables")
        ? NetfilterBackend.iptables(runner) : NetfilterBackend.nftables(runner);
    backend.apply(NetfilterSystemTest.everything(args[1], CaptureMode.TPROXY).build());
    System.out.println("APPLIED");
    System.out.flush();
    Thread.sleep(60_000);
  }
}
