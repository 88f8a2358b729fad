import CofferCore
import CofferProtocol

// Typed views of response documents. Members a type does not model stay reachable through `document`, and members
// this build does not know are ignored (docs/PROTOCOL.md, section 7.2). A member that is present with the wrong type,
// or a required one that is missing, is a malformed reply.

/// A reader over a response document that turns shape problems into ``CofferClientError/malformedReply(_:)``.
struct ReplyReader {
    let document: Document

    init(_ document: Document) { self.document = document }

    func required(_ key: String) throws(CofferClientError) -> String {
        guard let value = try string(key) else { throw .malformedReply("the response has no \(key)") }
        return value
    }

    func string(_ key: String) throws(CofferClientError) -> String? {
        try typed { () throws(ServiceError) in try document.string(key) }
    }

    func bool(_ key: String) throws(CofferClientError) -> Bool? {
        try typed { () throws(ServiceError) in try document.bool(key) }
    }

    func int(_ key: String) throws(CofferClientError) -> Int64? {
        try typed { () throws(ServiceError) in try document.int(key) }
    }

    func timestamp(_ key: String) throws(CofferClientError) -> Timestamp? {
        try typed { () throws(ServiceError) in try document.timestamp(key) }
    }

    func strings(_ key: String) throws(CofferClientError) -> [String]? {
        try typed { () throws(ServiceError) in try document.stringList(key) }
    }

    func documents(_ key: String) throws(CofferClientError) -> [Document]? {
        try typed { () throws(ServiceError) in try document.mapList(key) }
    }

    func map(_ key: String) throws(CofferClientError) -> Document? {
        try typed { () throws(ServiceError) in try document.map(key) }
    }

    /// `{version id: [label]}` in document order.
    func stageMap(_ key: String) throws(CofferClientError) -> [(versionId: String, stages: [String])]? {
        guard let map = try map(key) else { return nil }
        var out: [(versionId: String, stages: [String])] = []
        for (versionId, _) in map.fields {
            let stages = try typed { () throws(ServiceError) in try map.stringList(versionId) } ?? []
            out.append((versionId, stages))
        }
        return out
    }

    func tags(_ key: String) throws(CofferClientError) -> [Tag]? {
        guard let list = try documents(key) else { return nil }
        var tags: [Tag] = []
        for entry in list {
            let reader = ReplyReader(entry)
            tags.append(Tag(key: try reader.required("Key"), value: try reader.string("Value") ?? ""))
        }
        return tags
    }

    private func typed<T>(_ body: () throws(ServiceError) -> T) throws(CofferClientError) -> T {
        do {
            return try body()
        } catch {
            throw .malformedReply(error.message)
        }
    }
}

/// A secret's value and the version it came from (GetSecretValue's response, one BatchGetSecretValue entry).
///
/// The value is held in ``SensitiveBytes`` (wiped when the last reference goes, never printed); `description`
/// shows metadata only.
public struct SecretValue: Sendable, CustomStringConvertible {
    public var arn: String
    public var name: String
    public var versionId: String
    public var versionStages: [String]
    public var createdDate: Timestamp?
    /// The value's bytes: SecretString's UTF-8, or SecretBinary's raw bytes (see ``isBinary``).
    public var value: SensitiveBytes
    /// True when the version holds SecretBinary, false for SecretString.
    public var isBinary: Bool

    public init(
        arn: String, name: String, versionId: String, versionStages: [String], createdDate: Timestamp?,
        value: SensitiveBytes, isBinary: Bool
    ) {
        self.arn = arn
        self.name = name
        self.versionId = versionId
        self.versionStages = versionStages
        self.createdDate = createdDate
        self.value = value
        self.isBinary = isBinary
    }

    /// Reads GetSecretValue's response.
    public init(document: Document) throws(CofferClientError) {
        let reader = ReplyReader(document)
        arn = try reader.required("ARN")
        name = try reader.required("Name")
        versionId = try reader.required("VersionId")
        versionStages = try reader.strings("VersionStages") ?? []
        createdDate = try reader.timestamp("CreatedDate")
        if let bytes = try SecretValue.secret(document, SecretMembers.secretString, isString: true) {
            value = bytes
            isBinary = false
        } else if let bytes = try SecretValue.secret(document, SecretMembers.secretBinary, isString: false) {
            value = bytes
            isBinary = true
        } else {
            throw .malformedReply("the response has neither SecretString nor SecretBinary")
        }
    }

    /// SecretString's bytes, or nil for a binary secret.
    public var secretString: SensitiveBytes? { isBinary ? nil : value }
    /// SecretBinary's bytes, or nil for a string secret.
    public var secretBinary: SensitiveBytes? { isBinary ? value : nil }

    /// SecretString as a Swift `String`, for APIs that need one. The copy is ordinary memory that is not wiped:
    /// prefer ``value`` where the consumer takes bytes.
    public func stringValue() -> String? {
        guard !isBinary else { return nil }
        return value.withUnsafeBytes { String(decoding: $0, as: UTF8.self) }
    }

    public var description: String {
        "SecretValue(name: \(name), versionId: \(versionId), stages: \(versionStages), value: \(value))"
    }

    static func secret(
        _ document: Document, _ key: String, isString: Bool
    ) throws(CofferClientError)
        -> SensitiveBytes?
    {
        do {
            return try document.secret(key, isString: isString)
        } catch {
            throw .malformedReply(error.message)
        }
    }
}

/// The ARN and name a write answers with, and the version it made, if any (CreateSecret, PutSecretValue,
/// UpdateSecret, UpdateSecretVersionStage, RestoreSecret, RotateSecret, CancelRotateSecret, PutResourcePolicy,
/// DeleteResourcePolicy).
public struct SecretReference: Sendable, Hashable {
    public var arn: String
    public var name: String
    public var versionId: String?
    /// PutSecretValue: the labels now on the new version.
    public var versionStages: [String]?

    public init(arn: String, name: String, versionId: String? = nil, versionStages: [String]? = nil) {
        self.arn = arn
        self.name = name
        self.versionId = versionId
        self.versionStages = versionStages
    }

    public init(document: Document) throws(CofferClientError) {
        let reader = ReplyReader(document)
        arn = try reader.required("ARN")
        name = try reader.required("Name")
        versionId = try reader.string("VersionId")
        versionStages = try reader.strings("VersionStages")
    }
}

/// DeleteSecret's answer.
public struct DeletedSecret: Sendable, Hashable {
    public var arn: String
    public var name: String
    /// When the secret will be (or was) removed.
    public var deletionDate: Timestamp?

    public init(document: Document) throws(CofferClientError) {
        let reader = ReplyReader(document)
        arn = try reader.required("ARN")
        name = try reader.required("Name")
        deletionDate = try reader.timestamp("DeletionDate")
    }
}

/// A secret's metadata: DescribeSecret's response, or one ListSecrets entry. Never holds a value.
public struct SecretMetadata: Sendable {
    public var arn: String
    public var name: String
    public var description: String?
    public var kmsKeyId: String?
    public var rotationEnabled: Bool?
    public var rotationLambdaARN: String?
    public var rotationRules: RotationRules?
    public var lastRotatedDate: Timestamp?
    public var lastChangedDate: Timestamp?
    public var lastAccessedDate: Timestamp?
    /// Set while the secret is scheduled for deletion.
    public var deletedDate: Timestamp?
    public var nextRotationDate: Timestamp?
    public var tags: [Tag]?
    /// Labelled versions and their labels (`VersionIdsToStages`, or `SecretVersionsToStages` in a list).
    public var versionIdsToStages: [(versionId: String, stages: [String])]?
    public var owningService: String?
    public var createdDate: Timestamp?
    /// The whole response document, for members this type does not model.
    public var document: Document

    public init(document: Document) throws(CofferClientError) {
        let reader = ReplyReader(document)
        self.document = document
        arn = try reader.required("ARN")
        name = try reader.required("Name")
        description = try reader.string("Description")
        kmsKeyId = try reader.string("KmsKeyId")
        rotationEnabled = try reader.bool("RotationEnabled")
        rotationLambdaARN = try reader.string("RotationLambdaARN")
        if let rules = try reader.map("RotationRules") {
            let rulesReader = ReplyReader(rules)
            rotationRules = RotationRules(
                automaticallyAfterDays: try rulesReader.int("AutomaticallyAfterDays").map { Int($0) },
                duration: try rulesReader.string("Duration"),
                scheduleExpression: try rulesReader.string("ScheduleExpression"))
        }
        lastRotatedDate = try reader.timestamp("LastRotatedDate")
        lastChangedDate = try reader.timestamp("LastChangedDate")
        lastAccessedDate = try reader.timestamp("LastAccessedDate")
        deletedDate = try reader.timestamp("DeletedDate")
        nextRotationDate = try reader.timestamp("NextRotationDate")
        tags = try reader.tags("Tags")
        if let stages = try reader.stageMap("VersionIdsToStages") {
            versionIdsToStages = stages
        } else {
            versionIdsToStages = try reader.stageMap("SecretVersionsToStages")
        }
        owningService = try reader.string("OwningService")
        createdDate = try reader.timestamp("CreatedDate")
    }
}

/// One page of ListSecrets.
public struct SecretListPage: Sendable {
    public var secrets: [SecretMetadata]
    /// Present when more pages follow.
    public var nextToken: String?

    public init(document: Document) throws(CofferClientError) {
        let reader = ReplyReader(document)
        var secrets: [SecretMetadata] = []
        for entry in try reader.documents("SecretList") ?? [] { secrets.append(try SecretMetadata(document: entry)) }
        self.secrets = secrets
        nextToken = try reader.string("NextToken")
    }
}

/// One version in ListSecretVersionIds.
public struct SecretVersionInfo: Sendable, Hashable {
    public var versionId: String
    /// Absent for a deprecated version (listed with `IncludeDeprecated`).
    public var versionStages: [String]?
    public var createdDate: Timestamp?
    public var lastAccessedDate: Timestamp?
    public var kmsKeyIds: [String]?

    init(document: Document) throws(CofferClientError) {
        let reader = ReplyReader(document)
        versionId = try reader.required("VersionId")
        versionStages = try reader.strings("VersionStages")
        createdDate = try reader.timestamp("CreatedDate")
        lastAccessedDate = try reader.timestamp("LastAccessedDate")
        kmsKeyIds = try reader.strings("KmsKeyIds")
    }
}

/// One page of ListSecretVersionIds.
public struct SecretVersionsPage: Sendable {
    public var arn: String
    public var name: String
    public var versions: [SecretVersionInfo]
    public var nextToken: String?

    public init(document: Document) throws(CofferClientError) {
        let reader = ReplyReader(document)
        arn = try reader.required("ARN")
        name = try reader.required("Name")
        var versions: [SecretVersionInfo] = []
        for entry in try reader.documents("Versions") ?? [] { versions.append(try SecretVersionInfo(document: entry)) }
        self.versions = versions
        nextToken = try reader.string("NextToken")
    }
}

/// BatchGetSecretValue's answer: the values it could read and an error for each it could not.
public struct BatchSecretValues: Sendable {
    public struct Failure: Sendable, Hashable {
        public var secretId: String
        /// The AWS error name, such as `ResourceNotFoundException`.
        public var errorCode: String
        public var message: String
    }

    public var values: [SecretValue]
    public var errors: [Failure]
    public var nextToken: String?

    public init(document: Document) throws(CofferClientError) {
        let reader = ReplyReader(document)
        var values: [SecretValue] = []
        for entry in try reader.documents("SecretValues") ?? [] { values.append(try SecretValue(document: entry)) }
        self.values = values
        var errors: [Failure] = []
        for entry in try reader.documents("Errors") ?? [] {
            let entryReader = ReplyReader(entry)
            errors.append(
                Failure(
                    secretId: try entryReader.string("SecretId") ?? "",
                    errorCode: try entryReader.string("ErrorCode") ?? "",
                    message: try entryReader.string("Message") ?? ""))
        }
        self.errors = errors
        nextToken = try reader.string("NextToken")
    }
}

/// GetResourcePolicy's answer.
public struct ResourcePolicy: Sendable, Hashable {
    public var arn: String
    public var name: String
    /// The policy JSON, or nil when the secret has none.
    public var resourcePolicy: String?

    public init(document: Document) throws(CofferClientError) {
        let reader = ReplyReader(document)
        arn = try reader.required("ARN")
        name = try reader.required("Name")
        resourcePolicy = try reader.string("ResourcePolicy")
    }
}

/// ValidateResourcePolicy's answer.
public struct PolicyValidation: Sendable, Hashable {
    public struct Finding: Sendable, Hashable {
        public var checkName: String
        public var errorMessage: String
    }

    public var policyValidationPassed: Bool
    public var validationErrors: [Finding]

    public init(document: Document) throws(CofferClientError) {
        let reader = ReplyReader(document)
        policyValidationPassed = try reader.bool("PolicyValidationPassed") ?? false
        var findings: [Finding] = []
        for entry in try reader.documents("ValidationErrors") ?? [] {
            let entryReader = ReplyReader(entry)
            findings.append(
                Finding(
                    checkName: try entryReader.string("CheckName") ?? "",
                    errorMessage: try entryReader.string("ErrorMessage") ?? ""))
        }
        validationErrors = findings
    }
}

/// Hello's answer: the protocol version the daemon chose and its name and version.
public struct ServerInfo: Sendable, Hashable {
    public var protocolVersion: Int64
    public var server: String

    public init(document: Document) throws(CofferClientError) {
        let reader = ReplyReader(document)
        protocolVersion = try reader.int("ProtocolVersion") ?? Int64(WireFormat.protocolVersion)
        server = try reader.string("Server") ?? ""
    }
}
