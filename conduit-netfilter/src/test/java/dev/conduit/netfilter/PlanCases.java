package dev.conduit.netfilter;

import java.util.LinkedHashMap;
import java.util.Map;

/** The plans covered by golden files: every mode × family × match kind, plus the exclusions. */
final class PlanCases {

  private PlanCases() {}

  static Map<String, CapturePlan> all() {
    Map<String, CapturePlan> cases = new LinkedHashMap<>();
    for (CaptureMode mode : CaptureMode.values()) {
      String m = mode.name().toLowerCase(java.util.Locale.ROOT);
      cases.put(m + "-v4-address", base(mode, IpFamily.IPV4).captureAddress("198.18.0.2").build());
      cases.put(m + "-v4-network", base(mode, IpFamily.IPV4).captureNetwork("198.18.1.0/24").build());
      cases.put(m + "-v4-endpoint", base(mode, IpFamily.IPV4).captureEndpoint("198.18.0.2:80").build());
      cases.put(m + "-v4-ports", base(mode, IpFamily.IPV4).capturePort(80)
          .capturePorts(PortRange.parse("8000-8100")).build());
      cases.put(m + "-v6-address", base(mode, IpFamily.IPV6).captureAddress("fd00::2").build());
      cases.put(m + "-v6-network", base(mode, IpFamily.IPV6).captureNetwork("fd00:1::/64").build());
      cases.put(m + "-v6-endpoint", base(mode, IpFamily.IPV6).captureEndpoint("[fd00::2]:443").build());
      cases.put(m + "-v6-ports", base(mode, IpFamily.IPV6).capturePort(443).build());
      cases.put(m + "-dual-all-kinds-exclusions", base(mode, IpFamily.IPV4, IpFamily.IPV6)
          .captureAddress("198.18.0.2").captureAddress("fd00::2")
          .captureNetwork("198.18.1.0/24").captureNetwork("fd00:1::/64")
          .captureEndpoint("198.18.0.3:80").captureEndpoint("[fd00::3]:80")
          .capturePort(8080).capturePorts(new PortRange(9000, 9010))
          .excludeSource("198.18.5.0/24").excludeSource("fd00:5::/64")
          .excludeDestination("198.18.1.9/32").excludeDestination("fd00:1::9/128")
          .excludeOutputInterface("br+").excludeInputInterface("eth9")
          .gatewayInterfaces("veth+", "tap0")
          .build());
      cases.put(m + "-capture-all-gateway", base(mode, IpFamily.IPV4, IpFamily.IPV6)
          .captureAllTcp().localCapture(false).gatewayCapture(true)
          .excludeDestination("198.18.0.0/15").build());
    }
    cases.put("redirect-dnat-loopback", base(CaptureMode.REDIRECT, IpFamily.IPV4)
        .dnatAddress(java.net.InetAddress.getLoopbackAddress()).capturePort(80)
        .gatewayCapture(true).build());
    cases.put("tproxy-custom-marks", CapturePlan.builder().prefix("MESH_2").mode(CaptureMode.TPROXY)
        .targetPort(15006).captureNetwork("198.18.0.0/15").bypassMark(0x100, 0x100)
        .tproxyMark(0x200, 0x200).routingTable(2000).routingRulePriority(32000)
        .divertEstablished(false).families(IpFamily.IPV4).build());
    cases.put("tproxy-udp-dual-local-destinations", base(CaptureMode.TPROXY, IpFamily.IPV4, IpFamily.IPV6)
        .captureUdp(true).captureLocalDestinations(true).captureEndpoint("198.18.0.3:53")
        .captureNetwork("fd00:1::/64").capturePort(5353).gatewayCapture(true).build());
    return cases;
  }

  private static CapturePlan.Builder base(CaptureMode mode, IpFamily... families) {
    return CapturePlan.builder().mode(mode).families(families).targetPort(15001);
  }
}
