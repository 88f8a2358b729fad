import CofferCore
import CofferProtocol
import CofferStore

/// A `SecretId` as the caller wrote it: a name, a full ARN, or a partial ARN (the ARN without `-XXXXXX`).
enum SecretReference: Sendable {
    case name(String)
    case fullARN(String)
    case partialARN(name: String)
    /// An ARN of another partition, region, account or service: it can name nothing here.
    case foreign(String)

    /// What authorization sees when the secret does not exist (and what a denial names): the caller's own text,
    /// completed to an ARN without the random suffix. It never reveals whether the secret exists.
    func resourceLabel(_ identity: VaultIdentity) -> String {
        switch self {
        case .name(let name), .partialARN(let name): return identity.secretARNPrefix + name
        case .fullARN(let arn), .foreign(let arn): return arn
        }
    }
}

extension Vault {
    /// Parses and validates a `SecretId` (AWS: names are checked for their charset before any lookup).
    func reference(_ request: Document, key: String = "SecretId") throws(ServiceError) -> SecretReference {
        try reference(try request.requiredString(key), key: key)
    }

    func reference(_ id: String, key: String = "SecretId") throws(ServiceError) -> SecretReference {
        try Check.length(id, key, min: 1, max: Limits.maxSecretIdLength)
        guard id.hasPrefix("arn:") else {
            guard Identifiers.isValidSecretName(id) else { throw ServiceError.invalidName }
            return .name(id)
        }
        guard let arn = ARN(parsing: id), arn.partition == identity.partition, arn.service == "secretsmanager",
            arn.region == identity.region, arn.account == identity.accountID, arn.resource.hasPrefix("secret:")
        else { return .foreign(id) }
        let rest = String(arn.resource.dropFirst("secret:".count))
        // AWS: an ARN whose resource ends in "-" + 6 characters is taken as complete; otherwise it is partial.
        if Identifiers.endsWithARNSuffix(rest) { return .fullARN(id) }
        guard Identifiers.isValidSecretName(rest) else { return .foreign(id) }
        return .partialARN(name: rest)
    }

    /// Looks the secret up. A secret whose recovery window has passed is gone, even before the purge removes it.
    func lookup(_ reference: SecretReference, in db: some StoreQueries, now: Timestamp) throws -> SecretRow? {
        let row: SecretRow?
        switch reference {
        case .name(let name), .partialARN(let name): row = try db.secret(named: name)
        case .fullARN(let arn): row = try db.secret(arn: arn)
        case .foreign: row = nil
        }
        guard let row else { return nil }
        if let deletion = row.deletionMs, deletion <= now.milliseconds { return nil }
        return row
    }

    /// Resolves and authorizes; then requires existence. The order hides existence from callers who may not act.
    /// Tags are read only when the caller's policies could test them, or when `withTags` (the operation needs them).
    func resolve(
        _ reference: SecretReference, _ caller: Caller, _ action: String, in db: some StoreQueries, now: Timestamp,
        requestKeys: [String: [String]] = [:], withTags: Bool = true
    ) throws -> (SecretRow, [(key: String, value: String)]) {
        let row = try lookup(reference, in: db, now: now)
        return try authorizeResolved(
            reference, row, caller, action, in: db, requestKeys: requestKeys, withTags: withTags)
    }

    /// Authorizes `action` on an already looked-up secret (nil: missing), then requires it to exist.
    func authorizeResolved(
        _ reference: SecretReference, _ row: SecretRow?, _ caller: Caller, _ action: String, in db: some StoreQueries,
        requestKeys: [String: [String]], withTags: Bool
    ) throws -> (SecretRow, [(key: String, value: String)]) {
        var tags: [(key: String, value: String)] = []
        if let row, withTags || authorizer.needsResourceTags(for: caller, resourcePolicy: row.resourcePolicy) {
            tags = try db.tags(secretID: row.id)
        }
        try authorize(
            caller, action, secret: row, tags: tags, resourceLabel: reference.resourceLabel(identity),
            requestKeys: requestKeys)
        guard let row else { throw ServiceError.secretNotFound }
        return (row, tags)
    }
}
