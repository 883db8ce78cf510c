package dev.conduit.netfilter.egress;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.conduit.core.net.IpAddress;
import dev.conduit.core.net.IpPrefix;
import dev.conduit.netfilter.egress.internal.EgressNft;
import dev.conduit.netfilter.egress.internal.NflogCapture;
import dev.conduit.netfilter.egress.internal.ServerName;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLParameters;
import org.junit.jupiter.api.Test;

/**
 * What the gateway reads from the kernel for its reports: the SNI of a real ClientHello (the JDK's),
 * the Host of an HTTP request, NFLOG records in a pcap stream, conntrack lines, and the nft rules that
 * copy first packets to the flow log.
 */
class FlowParsingTest {

  static byte[] clientHello(String serverName) throws Exception {
    SSLEngine engine = SSLContext.getDefault().createSSLEngine(serverName, 443);
    engine.setUseClientMode(true);
    SSLParameters p = engine.getSSLParameters();
    p.setServerNames(List.of(new SNIHostName(serverName)));
    engine.setSSLParameters(p);
    ByteBuffer out = ByteBuffer.allocate(engine.getSession().getPacketBufferSize());
    engine.beginHandshake();
    engine.wrap(ByteBuffer.allocate(0), out);
    return Arrays.copyOf(out.array(), out.position());
  }

  @Test
  void findsTheSniOfARealClientHelloAndNothingInATruncatedOne() throws Exception {
    byte[] hello = clientHello("api.Example.com");
    assertThat(ServerName.sni(hello)).contains("api.example.com");
    assertThat(ServerName.sni(Arrays.copyOf(hello, 60))).isEmpty();
    assertThat(ServerName.sni("GET / HTTP/1.1\r\n".getBytes(StandardCharsets.US_ASCII))).isEmpty();
    assertThat(ServerName.sni(new byte[0])).isEmpty();
  }

  @Test
  void findsTheHostOfAnHttpRequestWithoutItsPort() {
    assertThat(ServerName.httpHost(bytes("GET /x HTTP/1.1\r\nUser-Agent: t\r\nhost: Plain.Example.NET:8000\r\n\r\n")))
        .contains("plain.example.net");
    assertThat(ServerName.httpHost(bytes("POST / HTTP/1.0\r\nHost: [fd00:3::2]:80\r\n\r\n"))).contains("fd00:3::2");
    assertThat(ServerName.httpHost(bytes("GET / HTTP/1.1\r\nAccept: */*\r\n\r\nHost: late\r\n"))).isEmpty();
    assertThat(ServerName.httpHost(bytes("GET / HTTP/1.1\r\nHost: bad host<script>\r\n\r\n"))).isEmpty();
    assertThat(ServerName.httpHost(bytes("SSH-2.0-OpenSSH\r\n"))).isEmpty();
  }

  static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.ISO_8859_1);
  }

  /** An IPv4 TCP packet to 198.19.2.2:443 with the payload. */
  static byte[] ipv4(int flags, byte[] payload) {
    ByteBuffer b = ByteBuffer.allocate(40 + payload.length);
    b.put(0, (byte) 0x45).putShort(2, (short) (40 + payload.length)).put(8, (byte) 64).put(9, (byte) 6);
    b.put(12, new byte[] {(byte) 198, 18, 1, 2}).put(16, new byte[] {(byte) 198, 19, 2, 2});
    b.putShort(20, (short) 40000).putShort(22, (short) 443).put(32, (byte) 0x50).put(33, (byte) flags);
    b.put(40, payload);
    return b.array();
  }

  /** A little-endian pcap stream of NFLOG records holding the packets. */
  static byte[] pcap(List<byte[]> packets) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteBuffer h = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN);
    h.putInt(0xa1b2c3d4).putShort((short) 2).putShort((short) 4).putInt(0).putInt(0).putInt(4096).putInt(239);
    out.write(h.array());
    int second = 1_700_000_000;
    for (byte[] packet : packets) {
      int padded = (packet.length + 3) & ~3;
      ByteBuffer r = ByteBuffer.allocate(4 + 8 + 4 + padded).order(ByteOrder.LITTLE_ENDIAN);
      r.put((byte) 2).put((byte) 0).putShort((short) 0); // family, version, group
      r.putShort((short) 8).putShort((short) 1).putInt(0x0800); // a packet-header attribute first
      r.putShort((short) (4 + packet.length)).putShort((short) 9).put(packet);
      ByteBuffer rh = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
      rh.putInt(second++).putInt(0).putInt(r.capacity()).putInt(r.capacity());
      out.write(rh.array());
      out.write(r.array());
    }
    return out.toByteArray();
  }

  @Test
  void readsNflogRecordsFromAPcapStream() throws Exception {
    byte[] hello = clientHello("secure.example.org");
    List<NflogCapture.Packet> seen = new ArrayList<>();
    NflogCapture.read(new ByteArrayInputStream(pcap(List.of(ipv4(0x02, new byte[0]), ipv4(0x18, hello),
        ipv4(0x18, bytes("GET / HTTP/1.1\r\nHost: plain.example.net\r\n\r\n"))))), seen::add);
    assertThat(seen).hasSize(3);
    assertThat(seen.get(0).syn()).isTrue();
    assertThat(seen.get(0).destination()).isEqualTo(IpAddress.parse("198.19.2.2"));
    assertThat(seen.get(0).port()).isEqualTo(443);
    assertThat(seen.get(0).at()).isEqualTo(Instant.ofEpochSecond(1_700_000_000));
    assertThat(seen.get(1).syn()).isFalse();
    assertThat(seen.get(1).sni()).contains("secure.example.org");
    assertThat(seen.get(2).host()).contains("plain.example.net");
    // an empty stream (tcpdump failed before writing) ends quietly; anything else but pcap is refused
    NflogCapture.read(new ByteArrayInputStream(new byte[0]), seen::add);
    assertThatThrownBy(() -> NflogCapture.read(new ByteArrayInputStream(new byte[24]), seen::add))
        .isInstanceOf(IOException.class).hasMessageContaining("not a pcap stream");
    byte[] huge = pcap(List.of(ipv4(0x02, new byte[0])));
    ByteBuffer.wrap(huge).order(ByteOrder.LITTLE_ENDIAN).putInt(24 + 8, 1 << 20);
    assertThatThrownBy(() -> NflogCapture.read(new ByteArrayInputStream(huge), seen::add))
        .isInstanceOf(IOException.class).hasMessageContaining("1048576 bytes (expected: 0-65535)");
  }

  @Test
  void keepsTheOriginalDestinationsOfEstablishedFlowsFromTheProtectedNetworks() {
    List<IpPrefix> nets = List.of(IpPrefix.parse("198.18.1.0/24"), IpPrefix.parse("fd00:1::/64"));
    Set<IpAddress> out = new TreeSet<>();
    for (String line : List.of(
        "tcp      6 431999 ESTABLISHED src=198.18.1.2 dst=198.19.2.1 sport=41234 dport=8000 src=198.19.2.1"
            + " dst=198.19.0.1 sport=8000 dport=41234 [ASSURED] mark=0 use=1",
        "tcp      6 431999 ESTABLISHED src=fd00:1::2 dst=fd00:3::1 sport=1 dport=8000 src=fd00:3::1 dst=fd00:2::1"
            + " sport=8000 dport=1 [ASSURED] mark=0 use=1",
        "tcp      6 117 TIME_WAIT src=198.18.1.2 dst=198.19.2.2 sport=1 dport=2 src=198.19.2.2 dst=198.18.1.2",
        "tcp      6 431999 ESTABLISHED src=198.19.0.1 dst=198.19.2.9 sport=1 dport=2 src=198.19.2.9 dst=198.19.0.1",
        "tcp      6 431999 ESTABLISHED src=198.18.1.2 dst=198.18.1.1 sport=1 dport=22 src=198.18.1.1 dst=198.18.1.2",
        "conntrack v1.4.7 (conntrack-tools): 5 flow entries have been shown.")) {
      ActiveFlows.destination(line, nets, out);
    }
    assertThat(out).containsExactly(IpAddress.parse("198.19.2.1"), IpAddress.parse("fd00:3::1"));
  }

  @Test
  void theFlowLogRulesCopyFirstPacketsAndInReportOnlyModeFirstPayloads() {
    EgressGatewayConfig.Builder b = EgressGatewayConfig.builder().protectedNetwork("10.0.0.0/8")
        .protectedNetwork("fd00:1::/64");
    String plain = EgressNft.replace(b.build(), List.of());
    assertThat(plain).doesNotContain("log group");
    String enforce = EgressNft.replace(b.flowLogGroup(17).build(), List.of());
    assertThat(enforce).contains("ip saddr @clients4 limit rate 200/second burst 400 packets log group 17 snaplen 128\n"
        + "    ip saddr @clients4 update @denied4 { ip daddr } drop\n").doesNotContain("@ih");
    String report = EgressNft.rewriteForward(b.mode(EgressMode.REPORT_ONLY).build());
    assertThat(report).contains("ip6 saddr @clients6 meta l4proto tcp @ih,0,16 0x1603 limit rate 100/second",
        "@ih,0,32 { 0x47455420, 0x504f5354", "log group 17 snaplen 2048");
    assertThat(report.indexOf("@ih")).isLessThan(report.indexOf("ct state established,related accept"));
    assertThat(b.build().withMode(EgressMode.ENFORCE).flowLogGroup()).hasValue(17);
    assertThatThrownBy(() -> EgressGatewayConfig.builder().flowLogGroup(0))
        .hasMessage("flowLogGroup: 0 (expected: 1-65535)");
  }

  @Test
  void deniedFlowRefusesABadPort() {
    assertThatThrownBy(() -> new DeniedFlow(IpAddress.parse("198.19.2.2"), 70000, Optional.empty(),
        Optional.empty(), 1, Instant.EPOCH)).hasMessage("port: 70000 (expected: 0-65535)");
  }
}
