package dev.conduit.netfilter.internal;

import dev.conduit.netfilter.IpFamily;
import java.util.List;
import java.util.Locale;

/** The names of everything installed under a prefix. Exact names only: no prefix matching. */
final class Names {

  static final List<String> CHAIN_SUFFIXES =
      List.of("_PREROUTING", "_OUTPUT", "_MATCH_IN", "_MATCH_OUT", "_DIVERT");
  static final List<String> SET_SUFFIXES = List.of(
      "_SRC_EXCL4", "_SRC_EXCL6", "_DST_EXCL4", "_DST_EXCL6", "_IPPORT4", "_IPPORT6", "_PORT",
      "_IP4", "_IP6", "_NET4", "_NET6");
  static final String TEMP_SUFFIX = "_T";

  private Names() {}

  static String prerouting(String prefix) {
    return prefix + "_PREROUTING";
  }

  static String output(String prefix) {
    return prefix + "_OUTPUT";
  }

  static String matchIn(String prefix) {
    return prefix + "_MATCH_IN";
  }

  static String matchOut(String prefix) {
    return prefix + "_MATCH_OUT";
  }

  static String divert(String prefix) {
    return prefix + "_DIVERT";
  }

  static boolean isOwnChain(String prefix, String chain) {
    for (String suffix : CHAIN_SUFFIXES) {
      if (chain.equals(prefix + suffix)) {
        return true;
      }
    }
    return false;
  }

  static boolean isOwnSet(String prefix, String set) {
    for (String suffix : SET_SUFFIXES) {
      if (set.equals(prefix + suffix) || set.equals(prefix + suffix + TEMP_SUFFIX)) {
        return true;
      }
    }
    return false;
  }

  static String suffix(IpFamily family) {
    return family == IpFamily.IPV4 ? "4" : "6";
  }

  static String nftTable(String prefix) {
    return "conduit_" + prefix.toLowerCase(Locale.ROOT);
  }

  static String tag(String prefix) {
    return "conduit:" + prefix;
  }

  static String hex(int value) {
    return "0x" + Integer.toHexString(value);
  }
}
