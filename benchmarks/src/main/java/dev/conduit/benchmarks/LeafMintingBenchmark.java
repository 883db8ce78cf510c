package dev.conduit.benchmarks;

import dev.conduit.core.pki.CertificateAuthority;
import dev.conduit.core.pki.IssuedCertificate;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Time to mint one MITM server leaf (the target is well under 5 ms): with a fresh P-256 key per leaf (the
 * default) and with {@link CertificateAuthority#withSharedLeafKey()}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class LeafMintingBenchmark {

  private CertificateAuthority ca;
  private CertificateAuthority sharedKeyCa;
  private int counter;

  /** Creates the CAs once. */
  @Setup
  public void setUp() {
    ca = CertificateAuthority.builder().commonName("benchmark CA").build();
    sharedKeyCa = ca.withSharedLeafKey();
  }

  /** Mints a leaf with a fresh key. */
  @Benchmark
  public IssuedCertificate freshKey() {
    return ca.mintServerLeaf("host" + (counter++) + ".example.com");
  }

  /** Mints a leaf with the CA's shared leaf key. */
  @Benchmark
  public IssuedCertificate sharedKey() {
    return sharedKeyCa.mintServerLeaf("host" + (counter++) + ".example.com");
  }
}
