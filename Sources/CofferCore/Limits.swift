/// Every limit Coffer enforces, in one place, each with the reason for its value.
public enum Limits {
    // MARK: AWS Secrets Manager quotas and shape constraints (botocore service-2.json, reference_limits.html)

    /// A secret value (SecretString or SecretBinary) is at most 65,536 bytes in AWS.
    public static let maxSecretValueBytes = 65_536
    /// Secret names: 1–512 characters (AWS `NameType`).
    public static let maxNameLength = 512
    /// Descriptions: at most 2,048 characters (AWS `DescriptionType`).
    public static let maxDescriptionLength = 2_048
    /// ClientRequestToken / VersionId: 32–64 characters (AWS `ClientRequestTokenType`).
    public static let clientRequestTokenLength = 32...64
    /// SecretId (name or ARN): 1–2,048 characters (AWS `SecretIdType`).
    public static let maxSecretIdLength = 2_048
    /// Staging labels: 1–256 characters, at most 20 per version (AWS `SecretVersionStageType`, quota).
    public static let maxStageLength = 256
    public static let maxStagesPerVersion = 20
    /// Tags: key 1–128, value 0–256, at most 50 per secret (AWS tagging quotas).
    public static let maxTagKeyLength = 128
    public static let maxTagValueLength = 256
    public static let maxTagsPerSecret = 50
    /// Versions kept per secret before the oldest deprecated ones are pruned (AWS: "more than 100").
    public static let versionRetentionCount = 100
    /// Deprecated versions younger than this are never pruned (AWS: "created less than 24 hours ago").
    public static let versionRetentionMinimumAgeMilliseconds: Int64 = 24 * 3_600 * 1_000
    /// Hard cap on stored versions per secret; more gives LimitExceededException as in AWS, where sustained writes
    /// faster than one per ten minutes "eventually hit the versions quota". AWS does not publish the number.
    public static let maxVersionsPerSecret = 500
    /// DeleteSecret recovery window (AWS: 7–30 days, default 30).
    public static let recoveryWindowDays = 7...30
    public static let defaultRecoveryWindowDays = 30
    /// List pagination (AWS `MaxResults` 1–100).
    public static let listMaxResults = 1...100
    /// ListSecrets filters: at most 10 filters, 10 values each, values at most 512 characters.
    public static let maxFilters = 10
    public static let maxFilterValues = 10
    public static let maxFilterValueLength = 512
    /// BatchGetSecretValue: 1–20 ids, MaxResults 1–20.
    public static let batchGetMaxIds = 20
    public static let batchGetMaxResults = 1...20
    /// GetRandomPassword: length 1–4,096, default 32.
    public static let passwordLength = 1...4_096
    public static let defaultPasswordLength = 32
    /// Resource policies: 1–20,480 characters (AWS `NonEmptyResourcePolicyType`).
    public static let maxResourcePolicyLength = 20_480

    // MARK: Wire protocol (see docs/PROTOCOL.md)

    /// Largest frame body a peer may send or receive: the 64 KiB AWS secret limit plus room for the other fields of
    /// the largest request (name, ARN, token, 20 labels, tags, description, a 20 KiB policy). Checked on the 4-byte
    /// length prefix *before* any allocation.
    public static let maxFrameBytes = 256 * 1_024
    /// Hard cap on concurrent client connections (each costs an fd and ~1 KiB of state).
    public static let maxConnections = 4_096
    /// Per-uid cap so that one local user cannot exhaust the daemon's connection table for everybody else.
    public static let maxConnectionsPerUID = 256
    /// A frame that has started must be complete within this deadline (slowloris defence).
    public static let frameDeadlineMilliseconds = 5_000
    /// A connection with no request in flight and nothing received for this long is closed.
    public static let idleTimeoutMilliseconds = 300_000
    /// Requests a single connection may have in flight (pipelining depth) before the daemon stops reading from it.
    public static let maxInFlightPerConnection = 64

    // MARK: JSON documents (policies, CLI input)

    /// Nesting depth accepted by the JSON parser; IAM policies need far less. Bounds recursion.
    public static let maxJSONDepth = 64
}
