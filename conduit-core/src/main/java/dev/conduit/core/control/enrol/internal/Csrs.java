package dev.conduit.core.control.enrol.internal;

import dev.conduit.core.pki.Pem;
import java.io.IOException;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.spec.ECGenParameterSpec;
import java.util.ArrayList;
import java.util.List;
import org.bouncycastle.asn1.DEROctetString;
import org.bouncycastle.asn1.pkcs.PKCSObjectIdentifiers;
import org.bouncycastle.asn1.x500.X500NameBuilder;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.ExtensionsGenerator;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequestBuilder;

/** Key pairs and certificate signing requests made on the node. */
public final class Csrs {

  private Csrs() {}

  /** Generates an ECDSA P-256 key pair. */
  public static KeyPair generateKeyPair() {
    try {
      KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
      generator.initialize(new ECGenParameterSpec("secp256r1"));
      return generator.generateKeyPair();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("EC P-256 is not available in this JDK", e);
    }
  }

  /** Returns the public half of a P-256 private key (a PKCS#8 EC key need not carry it). */
  public static java.security.PublicKey publicKeyOf(java.security.PrivateKey key) {
    if (!(key instanceof java.security.interfaces.ECPrivateKey ec)) {
      throw new IllegalArgumentException("key: " + key.getAlgorithm() + " (expected: an EC P-256 key)");
    }
    org.bouncycastle.asn1.x9.X9ECParameters curve = org.bouncycastle.asn1.x9.ECNamedCurveTable.getByName("secp256r1");
    org.bouncycastle.math.ec.ECPoint q = curve.getG().multiply(ec.getS()).normalize();
    try {
      return java.security.KeyFactory.getInstance("EC").generatePublic(new java.security.spec.ECPublicKeySpec(
          new java.security.spec.ECPoint(q.getAffineXCoord().toBigInteger(), q.getAffineYCoord().toBigInteger()),
          ec.getParams()));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("EC public key: " + e.getMessage(), e);
    }
  }

  /**
   * Returns a PEM CSR signed by {@code keyPair} with the common name, URI names and IP names given. IPs must be
   * literals (they are converted without any lookup).
   */
  public static String csr(KeyPair keyPair, String commonName, List<String> uris, List<String> ips) {
    try {
      JcaPKCS10CertificationRequestBuilder builder = new JcaPKCS10CertificationRequestBuilder(
          new X500NameBuilder(BCStyle.INSTANCE).addRDN(BCStyle.CN, commonName).build(), keyPair.getPublic());
      List<GeneralName> names = new ArrayList<>();
      for (String uri : uris) {
        names.add(new GeneralName(GeneralName.uniformResourceIdentifier, uri));
      }
      for (String ip : ips) {
        byte[] bytes = io.netty.util.NetUtil.createByteArrayFromIpAddressString(ip);
        if (bytes == null) {
          throw new IllegalArgumentException("ip: '" + ip + "' (expected: an IPv4 or IPv6 literal)");
        }
        names.add(new GeneralName(GeneralName.iPAddress, new DEROctetString(bytes)));
      }
      if (!names.isEmpty()) {
        ExtensionsGenerator extensions = new ExtensionsGenerator();
        extensions.addExtension(Extension.subjectAlternativeName, false,
            new GeneralNames(names.toArray(new GeneralName[0])));
        builder.addAttribute(PKCSObjectIdentifiers.pkcs_9_at_extensionRequest, extensions.generate());
      }
      byte[] der = builder.build(new JcaContentSignerBuilder("SHA256withECDSA").build(keyPair.getPrivate()))
          .getEncoded();
      return Pem.encode("CERTIFICATE REQUEST", der);
    } catch (IOException | OperatorCreationException e) {
      throw new IllegalStateException("csr: " + e.getMessage(), e);
    }
  }
}
