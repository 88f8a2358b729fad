import CofferCore
import CofferProtocol

/// A tag on a secret (AWS `Tag`).
public struct Tag: Sendable, Hashable, CustomStringConvertible {
    public var key: String
    public var value: String

    public init(key: String, value: String) {
        self.key = key
        self.value = value
    }

    var document: Document { ["Key": .string(key), "Value": .string(value)] }

    public var description: String { "\(key)=\(value)" }
}

/// A ListSecrets / BatchGetSecretValue filter (AWS `Filter`): several values are alternatives, several filters must
/// all match. Keys: `name`, `description`, `tag-key`, `tag-value`, `primary-region`, `owning-service`, `all`; a
/// value starting with `!` negates.
public struct Filter: Sendable, Hashable {
    public var key: String
    public var values: [String]

    public init(key: String, values: [String]) {
        self.key = key
        self.values = values
    }

    var document: Document { ["Key": .string(key), "Values": .list(values.map { .string($0) })] }
}

/// A rotation schedule (AWS `RotationRules`).
public struct RotationRules: Sendable, Hashable {
    public var automaticallyAfterDays: Int?
    public var duration: String?
    public var scheduleExpression: String?

    public init(automaticallyAfterDays: Int? = nil, duration: String? = nil, scheduleExpression: String? = nil) {
        self.automaticallyAfterDays = automaticallyAfterDays
        self.duration = duration
        self.scheduleExpression = scheduleExpression
    }

    var document: Document {
        var document = Document()
        if let automaticallyAfterDays { document["AutomaticallyAfterDays"] = .int(Int64(automaticallyAfterDays)) }
        if let duration { document["Duration"] = .string(duration) }
        if let scheduleExpression { document["ScheduleExpression"] = .string(scheduleExpression) }
        return document
    }
}

/// Request documents for every Secrets Manager operation, with AWS's member names (docs/PROTOCOL.md, section 10.2).
/// Only the members given are included; the daemon validates values and answers AWS's errors.
///
/// Create, Put, Update and Rotate get a fresh ClientRequestToken (a UUID) when none is given, as the AWS SDKs and CLI
/// do: it makes the request idempotent, so that a client may send it again after a lost connection.
public enum SecretsManagerRequests {
    public static func getSecretValue(
        secretId: String, versionId: String? = nil, versionStage: String? = nil
    )
        -> Document
    {
        var document: Document = ["SecretId": .string(secretId)]
        document["VersionId"] = versionId.map(Value.string)
        document["VersionStage"] = versionStage.map(Value.string)
        return document
    }

    public static func createSecret(
        name: String,
        secretString: SensitiveBytes? = nil,
        secretBinary: SensitiveBytes? = nil,
        description: String? = nil,
        kmsKeyId: String? = nil,
        tags: [Tag] = [],
        clientRequestToken: String? = nil
    ) -> Document {
        var document: Document = ["Name": .string(name)]
        document["ClientRequestToken"] = .string(clientRequestToken ?? Identifiers.randomUUID())
        document["Description"] = description.map(Value.string)
        document["KmsKeyId"] = kmsKeyId.map(Value.string)
        document["SecretBinary"] = secretBinary.map { .secret($0, isString: false) }
        document["SecretString"] = secretString.map { .secret($0, isString: true) }
        if !tags.isEmpty { document["Tags"] = .list(tags.map { .map($0.document) }) }
        return document
    }

    public static func putSecretValue(
        secretId: String,
        secretString: SensitiveBytes? = nil,
        secretBinary: SensitiveBytes? = nil,
        versionStages: [String]? = nil,
        clientRequestToken: String? = nil
    ) -> Document {
        var document: Document = ["SecretId": .string(secretId)]
        document["ClientRequestToken"] = .string(clientRequestToken ?? Identifiers.randomUUID())
        document["SecretBinary"] = secretBinary.map { .secret($0, isString: false) }
        document["SecretString"] = secretString.map { .secret($0, isString: true) }
        document["VersionStages"] = versionStages.map { .list($0.map(Value.string)) }
        return document
    }

    public static func updateSecret(
        secretId: String,
        secretString: SensitiveBytes? = nil,
        secretBinary: SensitiveBytes? = nil,
        description: String? = nil,
        kmsKeyId: String? = nil,
        clientRequestToken: String? = nil
    ) -> Document {
        var document: Document = ["SecretId": .string(secretId)]
        document["ClientRequestToken"] = .string(clientRequestToken ?? Identifiers.randomUUID())
        document["Description"] = description.map(Value.string)
        document["KmsKeyId"] = kmsKeyId.map(Value.string)
        document["SecretBinary"] = secretBinary.map { .secret($0, isString: false) }
        document["SecretString"] = secretString.map { .secret($0, isString: true) }
        return document
    }

    public static func updateSecretVersionStage(
        secretId: String, versionStage: String, removeFromVersionId: String? = nil, moveToVersionId: String? = nil
    ) -> Document {
        var document: Document = ["SecretId": .string(secretId), "VersionStage": .string(versionStage)]
        document["RemoveFromVersionId"] = removeFromVersionId.map(Value.string)
        document["MoveToVersionId"] = moveToVersionId.map(Value.string)
        return document
    }

    public static func describeSecret(secretId: String) -> Document { ["SecretId": .string(secretId)] }

    public static func listSecrets(
        includePlannedDeletion: Bool? = nil,
        maxResults: Int? = nil,
        nextToken: String? = nil,
        filters: [Filter] = [],
        sortBy: String? = nil,
        sortOrder: String? = nil
    ) -> Document {
        var document = Document()
        document["IncludePlannedDeletion"] = includePlannedDeletion.map(Value.bool)
        document["MaxResults"] = maxResults.map { .int(Int64($0)) }
        document["NextToken"] = nextToken.map(Value.string)
        if !filters.isEmpty { document["Filters"] = .list(filters.map { .map($0.document) }) }
        document["SortBy"] = sortBy.map(Value.string)
        document["SortOrder"] = sortOrder.map(Value.string)
        return document
    }

    public static func listSecretVersionIds(
        secretId: String, maxResults: Int? = nil, nextToken: String? = nil, includeDeprecated: Bool? = nil
    ) -> Document {
        var document: Document = ["SecretId": .string(secretId)]
        document["MaxResults"] = maxResults.map { .int(Int64($0)) }
        document["NextToken"] = nextToken.map(Value.string)
        document["IncludeDeprecated"] = includeDeprecated.map(Value.bool)
        return document
    }

    public static func deleteSecret(
        secretId: String, recoveryWindowInDays: Int? = nil, forceDeleteWithoutRecovery: Bool? = nil
    ) -> Document {
        var document: Document = ["SecretId": .string(secretId)]
        document["RecoveryWindowInDays"] = recoveryWindowInDays.map { .int(Int64($0)) }
        document["ForceDeleteWithoutRecovery"] = forceDeleteWithoutRecovery.map(Value.bool)
        return document
    }

    public static func restoreSecret(secretId: String) -> Document { ["SecretId": .string(secretId)] }

    public static func tagResource(secretId: String, tags: [Tag]) -> Document {
        ["SecretId": .string(secretId), "Tags": .list(tags.map { .map($0.document) })]
    }

    public static func untagResource(secretId: String, tagKeys: [String]) -> Document {
        ["SecretId": .string(secretId), "TagKeys": .list(tagKeys.map(Value.string))]
    }

    public static func getRandomPassword(
        passwordLength: Int? = nil,
        excludeCharacters: String? = nil,
        excludeNumbers: Bool? = nil,
        excludePunctuation: Bool? = nil,
        excludeUppercase: Bool? = nil,
        excludeLowercase: Bool? = nil,
        includeSpace: Bool? = nil,
        requireEachIncludedType: Bool? = nil
    ) -> Document {
        var document = Document()
        document["PasswordLength"] = passwordLength.map { .int(Int64($0)) }
        document["ExcludeCharacters"] = excludeCharacters.map(Value.string)
        document["ExcludeNumbers"] = excludeNumbers.map(Value.bool)
        document["ExcludePunctuation"] = excludePunctuation.map(Value.bool)
        document["ExcludeUppercase"] = excludeUppercase.map(Value.bool)
        document["ExcludeLowercase"] = excludeLowercase.map(Value.bool)
        document["IncludeSpace"] = includeSpace.map(Value.bool)
        document["RequireEachIncludedType"] = requireEachIncludedType.map(Value.bool)
        return document
    }

    public static func batchGetSecretValue(
        secretIdList: [String]? = nil, filters: [Filter]? = nil, maxResults: Int? = nil, nextToken: String? = nil
    ) -> Document {
        var document = Document()
        document["SecretIdList"] = secretIdList.map { .list($0.map(Value.string)) }
        document["Filters"] = filters.map { .list($0.map { .map($0.document) }) }
        document["MaxResults"] = maxResults.map { .int(Int64($0)) }
        document["NextToken"] = nextToken.map(Value.string)
        return document
    }

    public static func putResourcePolicy(
        secretId: String, resourcePolicy: String, blockPublicPolicy: Bool? = nil
    )
        -> Document
    {
        var document: Document = ["SecretId": .string(secretId), "ResourcePolicy": .string(resourcePolicy)]
        document["BlockPublicPolicy"] = blockPublicPolicy.map(Value.bool)
        return document
    }

    public static func getResourcePolicy(secretId: String) -> Document { ["SecretId": .string(secretId)] }

    public static func deleteResourcePolicy(secretId: String) -> Document { ["SecretId": .string(secretId)] }

    public static func validateResourcePolicy(secretId: String? = nil, resourcePolicy: String) -> Document {
        var document = Document()
        document["SecretId"] = secretId.map(Value.string)
        document["ResourcePolicy"] = .string(resourcePolicy)
        return document
    }

    public static func rotateSecret(
        secretId: String,
        clientRequestToken: String? = nil,
        rotationLambdaARN: String? = nil,
        rotationRules: RotationRules? = nil,
        rotateImmediately: Bool? = nil
    ) -> Document {
        var document: Document = ["SecretId": .string(secretId)]
        document["ClientRequestToken"] = .string(clientRequestToken ?? Identifiers.randomUUID())
        document["RotationLambdaARN"] = rotationLambdaARN.map(Value.string)
        document["RotationRules"] = rotationRules.map { .map($0.document) }
        document["RotateImmediately"] = rotateImmediately.map(Value.bool)
        return document
    }

    public static func cancelRotateSecret(secretId: String) -> Document { ["SecretId": .string(secretId)] }

    /// Adds a fresh ClientRequestToken to a hand-written request of an operation that takes one (Create, Put, Update,
    /// Rotate) when it has none, as the AWS CLI does for `aws secretsmanager create-secret`.
    public static func fillingIdempotencyToken(_ operation: Operation, _ request: Document) -> Document {
        switch operation {
        case .createSecret, .putSecretValue, .updateSecret, .rotateSecret:
            guard request["ClientRequestToken"] == nil else { return request }
            var filled = request
            filled["ClientRequestToken"] = .string(Identifiers.randomUUID())
            return filled
        default:
            return request
        }
    }
}
