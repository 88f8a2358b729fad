import CofferCore
import CofferProtocol
import CofferStore

/// Opaque pagination tokens (base64 of a small text record). Tampering gives InvalidNextTokenException, nothing
/// more: every page is filtered and authorized anew.
enum PageToken {
    static func encodeVersions(secretID: Int64, afterSeq: Int64) -> String {
        Base64.encode(Array("v1|versions|\(secretID)|\(afterSeq)".utf8))
    }

    static func decodeVersions(_ token: String, secretID: Int64) -> Int64? {
        guard let bytes = Base64.decode(token), let text = String(validating: bytes, as: UTF8.self) else { return nil }
        let parts = text.split(separator: "|", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "v1", parts[1] == "versions", Int64(parts[2]) == secretID else {
            return nil
        }
        return Int64(parts[3])
    }

    /// Where a BatchGetSecretValue by id list continues: the index of the next id, tied to the exact list.
    static func encodeBatch(ids: [String], next: Int) -> String {
        Base64.encode(Array("v1|batch|\(fingerprint(ids))|\(next)".utf8))
    }

    static func decodeBatch(_ token: String, ids: [String]) -> Int? {
        guard let bytes = Base64.decode(token), let text = String(validating: bytes, as: UTF8.self) else { return nil }
        let parts = text.split(separator: "|", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "v1", parts[1] == "batch", parts[2] == Substring(fingerprint(ids)),
            let next = Int(parts[3]), next >= 0, next < ids.count
        else { return nil }
        return next
    }

    /// FNV-1a over the ids (not a security measure: a token for another list is merely refused).
    static func fingerprint(_ ids: [String]) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for id in ids {
            for byte in id.utf8 + [0] {
                hash ^= UInt64(byte)
                hash = hash &* 0x100_0000_01b3
            }
        }
        return String(hash, radix: 16)
    }

    /// A list scan's position, tied to its sort order and deleted-secret visibility.
    static func encodeScan(_ scope: String, _ cursor: ScanCursor) -> String {
        let value: String
        switch cursor.sortValue {
        case .int(let v): value = "i" + String(v)
        case .text(let t): value = "t" + Base64.encode(Array(t.utf8))
        }
        return Base64.encode(Array("v1|\(scope)|\(cursor.id)|\(value)".utf8))
    }

    static func decodeScan(_ token: String, scope: String) -> ScanCursor? {
        guard let bytes = Base64.decode(token), let text = String(validating: bytes, as: UTF8.self) else { return nil }
        let parts = text.split(separator: "|", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "v1", String(parts[1]) == scope, let id = Int64(parts[2]),
            let kind = parts[3].first
        else { return nil }
        let payload = String(parts[3].dropFirst())
        switch kind {
        case "i":
            guard let v = Int64(payload) else { return nil }
            return ScanCursor(sortValue: .int(v), id: id)
        case "t":
            guard let raw = Base64.decode(payload), let t = String(validating: raw, as: UTF8.self) else { return nil }
            return ScanCursor(sortValue: .text(t), id: id)
        default:
            return nil
        }
    }
}

/// One ListSecrets filter: a key and up to 10 values (OR), each possibly negated with a leading `!`.
struct SecretFilter: Sendable {
    enum Key: String, CaseIterable, Sendable {
        case description, name, tagKey = "tag-key", tagValue = "tag-value", primaryRegion = "primary-region"
        case owningService = "owning-service", all
    }
    var key: Key
    var values: [String]

    static let allowedKeys = ["description", "name", "tag-key", "tag-value", "primary-region", "owning-service", "all"]

    /// Parses `Filters` with AWS's constraints (ValidationException for the model, InvalidParameterException for an
    /// empty filter).
    static func parse(_ documents: [Document]?) throws(ServiceError) -> [SecretFilter] {
        guard let documents else { return [] }
        if documents.count > Limits.maxFilters {
            throw ServiceError.constraint(at: "filters", "Member must have length less than or equal to 10")
        }
        var filters: [SecretFilter] = []
        for (index, filter) in documents.enumerated() {
            try filter.checkOnly(["Key", "Values"])
            guard let keyText = try filter.string("Key") else {
                throw ServiceError(.invalidParameter, "Invalid filter key")
            }
            guard let key = Key(rawValue: keyText) else {
                throw ServiceError.constraint(
                    keyText, at: "filters.\(index + 1).member.key",
                    "Member must satisfy enum value set: [\(allowedKeys.joined(separator: ", "))]")
            }
            guard let values = try filter.stringList("Values"), !values.isEmpty else {
                throw ServiceError(.invalidParameter, "Invalid filter values")
            }
            if values.count > Limits.maxFilterValues {
                throw ServiceError.constraint(
                    at: "filters.\(index + 1).member.values", "Member must have length less than or equal to 10")
            }
            for value in values {
                try Check.length(
                    value, "filters.\(index + 1).member.values.member", min: 0,
                    max: Limits.maxFilterValueLength)
                guard isAllowedFilterValue(value) else {
                    throw ServiceError.constraint(
                        value, at: "filters.\(index + 1).member.values.member",
                        "Member must satisfy regular expression pattern: ^\\!?[a-zA-Z0-9 :_@\\/\\+\\=\\.\\-\\!]*$")
                }
            }
            filters.append(SecretFilter(key: key, values: values))
        }
        return filters
    }

    /// `^\!?[a-zA-Z0-9 :_@\/\+\=\.\-\!]*$`
    static func isAllowedFilterValue(_ value: String) -> Bool {
        value.utf8.allSatisfy { c in
            switch c {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"):
                return true
            case UInt8(ascii: " "), UInt8(ascii: ":"), UInt8(ascii: "_"), UInt8(ascii: "@"), UInt8(ascii: "/"),
                UInt8(ascii: "+"), UInt8(ascii: "="), UInt8(ascii: "."), UInt8(ascii: "-"), UInt8(ascii: "!"):
                return true
            default:
                return false
            }
        }
    }

    /// AWS semantics (verified against AWS by moto's tests): values OR together; `!v` matches when some attribute
    /// does not match `v`. name/tag-key/tag-value: case-sensitive prefix. description/all: case-insensitive word
    /// prefix over the words of the attributes (see ``Words``).
    func matches(_ secret: SecretRow, tags: [(key: String, value: String)]) -> Bool {
        let attributes: [String]
        let wordMatch: Bool
        switch key {
        case .name:
            attributes = [secret.name]
            wordMatch = false
        case .tagKey:
            attributes = tags.map(\.key)
            wordMatch = false
        case .tagValue:
            attributes = tags.map(\.value)
            wordMatch = false
        case .description:
            attributes = secret.description.map { [$0] } ?? []
            wordMatch = true
        case .all:
            attributes = [secret.name] + (secret.description.map { [$0] } ?? []) + tags.map(\.key) + tags.map(\.value)
            wordMatch = true
        case .primaryRegion, .owningService:
            attributes = []  // a local vault has no replicas and no owning service
            wordMatch = false
        }
        for value in values where value.hasPrefix("!") {
            let pattern = String(value.dropFirst())
            if attributes.contains(where: { !SecretFilter.match(pattern, $0, words: wordMatch) }) { return true }
        }
        for value in values where !value.hasPrefix("!") {
            if attributes.contains(where: { SecretFilter.match(value, $0, words: wordMatch) }) { return true }
        }
        return false
    }

    static func match(_ pattern: String, _ attribute: String, words: Bool) -> Bool {
        guard words else { return attribute.hasPrefix(pattern) }
        let patternWords = Words.split(pattern.lowercased())
        guard !patternWords.isEmpty else { return false }
        let attributeWords = Words.split(attribute).map { $0.lowercased() }
        return patternWords.allSatisfy { p in attributeWords.contains { $0.hasPrefix(p) } }
    }
}

/// Word splitting for ListSecrets' `description` and `all` filters: words are separated by `/ - _ + = . @` and
/// white space, and a new word starts at a character that is not a lower-case letter when it is followed by a
/// lower-case letter (camel-case humps: `MyTest` → `My`, `Test`; `COMPANYthings` → `COMPAN`, `Ythings`).
enum Words {
    static func split(_ text: String) -> [String] {
        var words: [String] = []
        for piece in text.split(whereSeparator: { "/-_+=.@ \t\n".contains($0) }) {
            let chars = Array(piece)
            var start = 0
            var i = 1
            while i < chars.count {
                if !isLower(chars[i]) && i + 1 < chars.count && isLower(chars[i + 1]) && i > start {
                    words.append(String(chars[start..<i]))
                    start = i
                }
                i += 1
            }
            words.append(String(chars[start...]))
        }
        return words
    }

    static func isLower(_ c: Character) -> Bool { c >= "a" && c <= "z" }
}

extension Vault {
    // MARK: ListSecrets

    func listSecrets(
        _ request: Document, _ caller: Caller, _ reader: VaultReader, _ now: Timestamp
    ) throws
        -> Document
    {
        try request.checkOnly(["IncludePlannedDeletion", "MaxResults", "NextToken", "Filters", "SortOrder", "SortBy"])
        let includeDeleted = try request.bool("IncludePlannedDeletion") ?? false
        let maxResults = try request.int("MaxResults")
        if let maxResults { try Check.range(maxResults, "MaxResults", Limits.listMaxResults) }
        let filters = try SecretFilter.parse(try request.mapList("Filters"))
        let sortOrder = try request.string("SortOrder") ?? "asc"
        try Check.oneOf(sortOrder, "SortOrder", ["asc", "desc"])
        let sortText = try request.string("SortBy") ?? SecretSortKey.createdDate.rawValue
        try Check.oneOf(sortText, "SortBy", SecretSortKey.allCases.map(\.rawValue))
        let sort = SecretSortKey(rawValue: sortText) ?? .createdDate
        let token = try request.string("NextToken")
        if let token { try Check.length(token, "NextToken", min: 1, max: 4_096) }
        try authorizeGlobal(caller, "secretsmanager:ListSecrets")

        let (page, next) = try scan(
            reader.store, sort: sort, descending: sortOrder == "desc", includeDeleted: includeDeleted, token: token,
            limit: Int(maxResults ?? 100), now: now
        ) { secret, tags in
            filters.allSatisfy { $0.matches(secret, tags: tags) }
                && isAllowed(caller, "secretsmanager:DescribeSecret", secret: secret, tags: tags)
        }
        var entries: [Value] = []
        for (secret, tags) in page {
            let stages = try reader.store.stages(secretID: secret.id)
            entries.append(.map(Shapes.metadata(secret, tags: tags, stages: stages, listEntry: true)))
        }
        var doc: Document = ["SecretList": .list(entries)]
        if let next { doc["NextToken"] = .string(next) }
        return doc
    }

    /// Scans secrets in order from `token`, keeping those `include` accepts, until `limit` are found. Returns the
    /// page and a token only if at least one more accepted secret exists (pages are full; the last has no token).
    func scan(
        _ db: some StoreQueries, sort: SecretSortKey, descending: Bool, includeDeleted: Bool, token: String?,
        limit: Int, now: Timestamp, include: (SecretRow, [(key: String, value: String)]) -> Bool
    ) throws -> ([(SecretRow, [(key: String, value: String)])], String?) {
        let scope = Vault.scanScope(sort: sort, descending: descending, includeDeleted: includeDeleted)
        var cursor: ScanCursor?
        if let token {
            guard let decoded = PageToken.decodeScan(token, scope: scope) else {
                throw ServiceError(.invalidNextToken, "The NextToken value is invalid.")
            }
            cursor = decoded
        }
        var page: [(SecretRow, [(key: String, value: String)])] = []
        var lastReturned: ScanCursor?
        let batch = min(max(limit * 2, 32), 512)
        while true {
            let rows = try db.scanSecrets(
                sort: sort, descending: descending, after: cursor, includeDeleted: includeDeleted, limit: batch)
            for row in rows {
                cursor = Vault.cursor(for: row, sort: sort)
                if let deletion = row.deletionMs, deletion <= now.milliseconds { continue }  // expired: gone
                let tags = try db.tags(secretID: row.id)
                guard include(row, tags) else { continue }
                if page.count == limit {
                    // One more match exists: the page is full and a next page is due.
                    return (page, lastReturned.map { PageToken.encodeScan(scope, $0) })
                }
                page.append((row, tags))
                lastReturned = cursor
            }
            if rows.count < batch { return (page, nil) }
        }
    }

    static func scanScope(sort: SecretSortKey, descending: Bool, includeDeleted: Bool) -> String {
        "\(sort.rawValue),\(descending ? "d" : "a"),\(includeDeleted ? 1 : 0)"
    }

    /// BatchGetSecretValue's filter scans: creation order, live secrets only.
    static let batchScope = scanScope(sort: .createdDate, descending: false, includeDeleted: false)

    static func cursor(for row: SecretRow, sort: SecretSortKey) -> ScanCursor {
        switch sort {
        case .createdDate: return ScanCursor(sortValue: .int(row.createdMs), id: row.id)
        case .lastAccessedDate: return ScanCursor(sortValue: .int(row.lastAccessedMs ?? -1), id: row.id)
        case .lastChangedDate: return ScanCursor(sortValue: .int(row.lastChangedMs), id: row.id)
        case .name: return ScanCursor(sortValue: .text(row.name), id: row.id)
        }
    }

    // MARK: BatchGetSecretValue

    func batchGetSecretValue(
        _ request: Document, _ caller: Caller, _ reader: VaultReader, _ now: Timestamp
    ) throws
        -> Document
    {
        try request.checkOnly(["SecretIdList", "Filters", "MaxResults", "NextToken"])
        let ids = try request.stringList("SecretIdList")
        let filterDocs = try request.mapList("Filters")
        let maxResults = try request.int("MaxResults")
        let token = try request.string("NextToken")
        if (ids == nil) == (filterDocs == nil) {
            throw ServiceError(.invalidParameter, "Either 'SecretIdList' or 'Filters' must be provided, but not both.")
        }
        if maxResults != nil && filterDocs == nil {
            throw ServiceError(
                .invalidParameter,
                "'Filters' not specified. 'Filters' must also be specified when 'MaxResults' is provided.")
        }
        if let maxResults { try Check.range(maxResults, "MaxResults", Limits.batchGetMaxResults) }
        if let ids { try Check.count(ids, "SecretIdList", min: 1, max: Limits.batchGetMaxIds) }
        let filters = try SecretFilter.parse(filterDocs)
        try authorizeGlobal(caller, "secretsmanager:BatchGetSecretValue")
        // AWS: with Filters, the caller also needs ListSecrets (the filter enumerates secrets).
        if filterDocs != nil { try authorizeGlobal(caller, "secretsmanager:ListSecrets") }

        let db = reader.store
        var values: [Value] = []
        var errors: [Value] = []
        // Replies must fit in one frame (docs/PROTOCOL.md): 20 values of 64 KiB would not. Stop before the budget
        // runs out and continue with NextToken, as AWS does when it "did not show all results".
        let budget = Limits.maxFrameBytes - 16 * 1_024
        var used = 0
        func failure(_ id: String, _ error: ServiceError) {
            errors.append(
                .map([
                    "SecretId": .string(id), "ErrorCode": .string(error.code.rawValue),
                    "Message": .string(error.message),
                ]))
            used += 256 + id.utf8.count + error.message.utf8.count
        }
        /// Adds the secret's value; false (nothing added) if it would not fit in this reply.
        func fetch(_ secret: SecretRow, id: String) throws -> Bool {
            if secret.isScheduledForDeletion {
                failure(id, .markedForDeletion)
                return true
            }
            do {
                let version = try fetchVersion(secret, versionID: nil, stage: nil, in: db)
                let size = 512 + secret.arn.utf8.count * 2 + (version.seal.ciphertext.count)
                if used + size > budget && !values.isEmpty { return false }
                let stages = try db.stages(secretID: secret.id, versionID: version.versionID)
                values.append(.map(try valueEntry(secret, version, stages, scratch: reader.scratch)))
                used += size
                recordAccess(secret, version, now)
            } catch let error as ServiceError {
                failure(id, error)
            }
            return true
        }
        let keys = ["secretsmanager:versionstage": [Stage.current]]
        var doc = Document()
        if let ids {
            var start = 0
            if let token {
                guard let index = PageToken.decodeBatch(token, ids: ids) else {
                    throw ServiceError(.invalidNextToken, "The NextToken value is invalid.")
                }
                start = index
            }
            for (index, id) in ids.enumerated().dropFirst(start) {
                do {
                    let (secret, _) = try resolve(
                        try reference(id), caller, "secretsmanager:GetSecretValue", in: db, now: now, requestKeys: keys)
                    if try !fetch(secret, id: id) {
                        doc["NextToken"] = .string(PageToken.encodeBatch(ids: ids, next: index))
                        break
                    }
                } catch let error as ServiceError {
                    failure(id, error)
                }
            }
        } else {
            let (page, next) = try scan(
                db, sort: .createdDate, descending: false, includeDeleted: false, token: token,
                limit: Int(maxResults ?? 20), now: now
            ) { secret, tags in
                // Only secrets the caller may see are enumerated at all, as in ListSecrets.
                filters.allSatisfy { $0.matches(secret, tags: tags) }
                    && isAllowed(caller, "secretsmanager:DescribeSecret", secret: secret, tags: tags)
            }
            var cutAfter: SecretRow?
            for (secret, tags) in page {
                guard isAllowed(caller, "secretsmanager:GetSecretValue", secret: secret, tags: tags, requestKeys: keys)
                else {
                    failure(
                        secret.arn,
                        ServiceError.accessDenied(
                            AuthorizationRequest(
                                caller: caller, action: "secretsmanager:GetSecretValue",
                                resource: secret.arn)))
                    cutAfter = secret
                    continue
                }
                if try !fetch(secret, id: secret.arn) { break }
                cutAfter = secret
            }
            if let last = cutAfter, last.id != page.last?.0.id {
                doc["NextToken"] = .string(
                    PageToken.encodeScan(Vault.batchScope, Vault.cursor(for: last, sort: .createdDate)))
            } else if let next {
                doc["NextToken"] = .string(next)
            }
        }
        doc["SecretValues"] = .list(values)
        doc["Errors"] = .list(errors)
        return doc
    }
}
