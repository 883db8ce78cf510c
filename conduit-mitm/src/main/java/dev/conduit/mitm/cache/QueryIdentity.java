package dev.conduit.mitm.cache;

import static java.util.Objects.requireNonNull;

import java.util.regex.Pattern;

/**
 * Decides whether a URL's query string is part of a {@link CacheKey}.
 *
 * <p>Why the default drops some queries: registries and package mirrors redirect blob downloads to
 * CDN URLs whose query carries a one-time signature ({@code X-Amz-Signature=…}, {@code sig=…},
 * {@code verify=…}). Such a query changes on every request while the bytes stay the same, so keeping
 * it would make every request a miss. Any other query is kept, because it may select different
 * content ({@code ?version=2}). Content-addressed blob keys ({@code sha256:…}) never include a query.
 */
public final class QueryIdentity {

  /**
   * Query parameters that mark a signed, per-request CDN URL (S3, CloudFront, GCS, Azure SAS,
   * Cloudflare, Akamai). Matched with {@code find()} against the raw query.
   */
  public static final Pattern SIGNED_CDN_QUERY = Pattern.compile(
      "(?i)(?:^|&)(?:x-amz-signature|x-amz-credential|x-amz-security-token|x-goog-signature"
          + "|x-goog-credential|signature|key-pair-id|policy|expires|sig|se|sp|sv|verify|hdnts"
          + "|token|__gda__|x-oss-signature|ossaccesskeyid)=");

  /** Keep the query unless it matches {@link #SIGNED_CDN_QUERY}. */
  public static final QueryIdentity DEFAULT = new QueryIdentity(Mode.DROP_MATCHING, SIGNED_CDN_QUERY);

  /** Every non-empty query is part of the key. */
  public static final QueryIdentity KEEP = new QueryIdentity(Mode.KEEP, null);

  /** The query is never part of the key. */
  public static final QueryIdentity IGNORE = new QueryIdentity(Mode.IGNORE, null);

  private enum Mode { KEEP, IGNORE, DROP_MATCHING }

  private final Mode mode;
  private final Pattern dropPattern;

  private QueryIdentity(Mode mode, Pattern dropPattern) {
    this.mode = mode;
    this.dropPattern = dropPattern;
  }

  /**
   * Keeps the query unless {@code pattern} is found in the raw query.
   *
   * @param pattern matched with {@code find()} against the raw (still percent-encoded) query
   */
  public static QueryIdentity dropWhen(Pattern pattern) {
    return new QueryIdentity(Mode.DROP_MATCHING, requireNonNull(pattern, "pattern"));
  }

  /**
   * Returns whether {@code rawQuery} belongs to the key.
   *
   * @param rawQuery the raw query without {@code ?}, or {@code null} when the URL has none
   */
  public boolean includes(String rawQuery) {
    if (rawQuery == null || rawQuery.isEmpty()) {
      return false;
    }
    switch (mode) {
      case KEEP:
        return true;
      case IGNORE:
        return false;
      default:
        return !dropPattern.matcher(rawQuery).find();
    }
  }

  @Override
  public String toString() {
    switch (mode) {
      case KEEP:
        return "QueryIdentity.KEEP";
      case IGNORE:
        return "QueryIdentity.IGNORE";
      default:
        return "QueryIdentity.dropWhen(" + dropPattern.pattern() + ")";
    }
  }
}
