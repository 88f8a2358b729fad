import CofferCore

/// Vault-wide metadata (one row).
public struct VaultRow: Sendable, Equatable {
    public var vaultID: String
    public var partition: String
    public var region: String
    public var accountID: String
    public var createdMs: Int64

    public init(vaultID: String, partition: String, region: String, accountID: String, createdMs: Int64) {
        self.vaultID = vaultID
        self.partition = partition
        self.region = region
        self.accountID = accountID
        self.createdMs = createdMs
    }
}

/// A secret's metadata (names, descriptions and tags are metadata, as in AWS; values live in versions, sealed).
public struct SecretRow: Sendable, Equatable {
    public var id: Int64
    public var name: String
    public var arn: String
    public var description: String?
    public var kmsKeyID: String?
    public var createdMs: Int64
    public var lastChangedMs: Int64
    public var lastAccessedMs: Int64?
    public var deletedMs: Int64?
    public var deletionMs: Int64?
    public var tagsTouched: Bool
    public var rotationEnabled: Bool?
    public var rotationLambdaARN: String?
    public var rotationRules: String?
    public var lastRotatedMs: Int64?
    public var resourcePolicy: String?

    public var isScheduledForDeletion: Bool { deletedMs != nil }
}

/// The sealed form of a value as stored: everything needed to open it except the master key. Not secret.
public struct StoredSeal: Sendable, Equatable {
    public var format: Int
    public var masterKeyID: UInt32
    public var dataKeyID: [UInt8]
    public var wrappedKey: [UInt8]
    public var valueNonce: [UInt8]
    public var ciphertext: [UInt8]

    public init(
        format: Int, masterKeyID: UInt32, dataKeyID: [UInt8], wrappedKey: [UInt8], valueNonce: [UInt8],
        ciphertext: [UInt8]
    ) {
        self.format = format
        self.masterKeyID = masterKeyID
        self.dataKeyID = dataKeyID
        self.wrappedKey = wrappedKey
        self.valueNonce = valueNonce
        self.ciphertext = ciphertext
    }
}

/// One version with its sealed value.
public struct VersionRow: Sendable {
    public var secretID: Int64
    public var versionID: String
    public var seq: Int64
    public var createdMs: Int64
    public var lastAccessedMs: Int64?
    public var isBinary: Bool
    public var seal: StoredSeal
}

/// A version without its value, with the staging labels attached to it.
public struct VersionSummary: Sendable, Equatable {
    public var versionID: String
    public var seq: Int64
    public var createdMs: Int64
    public var lastAccessedMs: Int64?
    public var stages: [String]
}

/// How ListSecrets orders its scan (AWS `SortBy`).
public enum SecretSortKey: String, Sendable, CaseIterable {
    case createdDate = "created-date"
    case lastAccessedDate = "last-accessed-date"
    case lastChangedDate = "last-changed-date"
    case name = "name"
}

/// Where a paginated scan resumes: the sort value and id of the last row returned.
public struct ScanCursor: Sendable, Equatable {
    public var sortValue: ScanValue
    public var id: Int64
    public init(sortValue: ScanValue, id: Int64) {
        self.sortValue = sortValue
        self.id = id
    }
}

public enum ScanValue: Sendable, Equatable {
    case int(Int64)
    case text(String)
}
