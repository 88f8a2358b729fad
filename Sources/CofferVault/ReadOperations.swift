import CofferCore
import CofferCrypto
import CofferProtocol
import CofferStore

extension Vault {
    // MARK: GetSecretValue

    func getSecretValue(
        _ request: Document, _ caller: Caller, _ reader: VaultReader, _ now: Timestamp
    ) throws
        -> Document
    {
        try request.checkOnly(["SecretId", "VersionId", "VersionStage"])
        let reference = try reference(request)
        let versionID = try request.string("VersionId")
        let stage = try request.string("VersionStage")
        if let versionID { try Check.versionID(versionID, "VersionId") }
        if let stage { try Check.stage(stage, "VersionStage") }
        // docs/POLICY.md: with neither VersionId nor VersionStage the request reads AWSCURRENT, and the
        // secretsmanager:VersionStage key says so.
        var keys: [String: [String]] = [:]
        if let versionID { keys["secretsmanager:versionid"] = [versionID] }
        if let stage { keys["secretsmanager:versionstage"] = [stage] }
        if versionID == nil && stage == nil { keys["secretsmanager:versionstage"] = [Stage.current] }

        let db = reader.store
        let secret: SecretRow
        let version: VersionRow
        let stages: [String]
        if versionID == nil {
            // Hot path: the secret, the version holding the label and its labels in one statement.
            var name: String?
            var arn: String?
            switch reference {
            case .name(let n), .partialARN(let n): name = n
            case .fullARN(let a): arn = a
            case .foreign: break
            }
            let label = stage ?? Stage.current
            var found =
                name == nil && arn == nil ? nil : try reader.secretWithStage(named: name, arn: arn, stage: label)
            if let row = found?.0, let deletion = row.deletionMs, deletion <= now.milliseconds { found = nil }
            (secret, _) = try authorizeResolved(
                reference, found?.0, caller, "secretsmanager:GetSecretValue", in: db, requestKeys: keys,
                withTags: false)
            if secret.isScheduledForDeletion { throw ServiceError.markedForDeletion }
            guard let current = found?.1 else {
                throw ServiceError(
                    .resourceNotFound,
                    "Secrets Manager can't find the specified secret value for staging label: \(label)")
            }
            version = current
            stages = found?.2 ?? []
        } else {
            (secret, _) = try resolve(
                reference, caller, "secretsmanager:GetSecretValue", in: db, now: now, requestKeys: keys,
                withTags: false)
            if secret.isScheduledForDeletion { throw ServiceError.markedForDeletion }
            version = try fetchVersion(secret, versionID: versionID, stage: stage, in: db)
            stages = try db.stages(secretID: secret.id, versionID: version.versionID)
        }
        caller.trace?.recordVersion(id: version.versionID, stage: stage ?? (versionID == nil ? Stage.current : nil))
        let response = try valueEntry(secret, version, stages, scratch: reader.scratch)
        recordAccess(secret, version, now)
        return response
    }

    /// The version a GetSecretValue names (by id, by label, or AWSCURRENT), with AWS's errors.
    func fetchVersion(
        _ secret: SecretRow, versionID: String?, stage: String?, in db: some StoreQueries
    ) throws
        -> VersionRow
    {
        if let versionID {
            guard let version = try db.version(secretID: secret.id, versionID: versionID) else {
                throw ServiceError(
                    .resourceNotFound,
                    "Secrets Manager can't find the specified secret value for VersionId: \(versionID)")
            }
            if let stage, !(try db.stages(secretID: secret.id, versionID: versionID).contains(stage)) {
                throw ServiceError(
                    .invalidRequest, "You provided a VersionStage that is not associated to the provided VersionId.")
            }
            return version
        }
        let label = stage ?? Stage.current
        guard let version = try db.version(secretID: secret.id, stage: label) else {
            throw ServiceError(
                .resourceNotFound, "Secrets Manager can't find the specified secret value for staging label: \(label)")
        }
        return version
    }

    /// A GetSecretValue-shaped document (also BatchGetSecretValue's entries).
    func valueEntry(
        _ secret: SecretRow, _ version: VersionRow, _ stages: [String], scratch: OpenScratch?
    ) throws
        -> Document
    {
        let value = try open(version, scratch: scratch) { plaintext in
            SensitiveBytes(copying: plaintext)
        }
        var doc: Document = [
            "ARN": .string(secret.arn), "Name": .string(secret.name), "VersionId": .string(version.versionID),
        ]
        if version.isBinary {
            doc["SecretBinary"] = .secret(value, isString: false)
        } else {
            doc["SecretString"] = .secret(value, isString: true)
        }
        doc["VersionStages"] = Shapes.stageList(stages)
        doc["CreatedDate"] = .timestamp(Timestamp(milliseconds: version.createdMs))
        return doc
    }

    /// LastAccessedDate has day granularity (AWS): at most one background write per secret per day. It is not
    /// awaited: losing it in a crash loses only the access date.
    func recordAccess(_ secret: SecretRow, _ version: VersionRow, _ now: Timestamp) {
        let day = now.startOfDay.milliseconds
        guard secret.lastAccessedMs != day || version.lastAccessedMs != day else { return }
        let id = secret.id
        let versionID = version.versionID
        store.writer.submit({ ctx in try ctx.setAccessed(secretID: id, versionID: versionID, at: day) }) { _ in }
    }

    // MARK: DescribeSecret

    func describeSecret(
        _ request: Document, _ caller: Caller, _ reader: VaultReader, _ now: Timestamp
    ) throws
        -> Document
    {
        try request.checkOnly(["SecretId"])
        let reference = try reference(request)
        let db = reader.store
        let (secret, tags) = try resolve(reference, caller, "secretsmanager:DescribeSecret", in: db, now: now)
        return Shapes.metadata(secret, tags: tags, stages: try db.stages(secretID: secret.id), listEntry: false)
    }

    // MARK: ListSecretVersionIds

    func listSecretVersionIds(
        _ request: Document, _ caller: Caller, _ reader: VaultReader, _ now: Timestamp
    ) throws
        -> Document
    {
        try request.checkOnly(["SecretId", "MaxResults", "NextToken", "IncludeDeprecated"])
        let reference = try reference(request)
        let maxResults = try request.int("MaxResults")
        if let maxResults { try Check.range(maxResults, "MaxResults", Limits.listMaxResults) }
        let token = try request.string("NextToken")
        if let token { try Check.length(token, "NextToken", min: 1, max: 4_096) }
        let includeDeprecated = try request.bool("IncludeDeprecated") ?? false
        let db = reader.store
        let (secret, _) = try resolve(reference, caller, "secretsmanager:ListSecretVersionIds", in: db, now: now)

        var versions = try db.versionSummaries(secretID: secret.id)
        if !includeDeprecated { versions.removeAll { $0.stages.isEmpty } }
        // Newest first, as the AWS console and CLI show versions.
        versions.reverse()
        var start = 0
        if let token {
            guard let seq = PageToken.decodeVersions(token, secretID: secret.id),
                let index = versions.firstIndex(where: { $0.seq < seq })
            else { throw ServiceError(.invalidNextToken, "The NextToken value is invalid.") }
            start = index
        }
        let limit = Int(maxResults ?? 100)
        let page = versions[start..<min(versions.count, start + limit)]
        var entries: [Value] = []
        for version in page {
            var entry: Document = ["VersionId": .string(version.versionID)]
            if !version.stages.isEmpty { entry["VersionStages"] = Shapes.stageList(version.stages) }
            if let accessed = version.lastAccessedMs {
                entry["LastAccessedDate"] = .timestamp(Timestamp(milliseconds: accessed))
            }
            entry["CreatedDate"] = .timestamp(Timestamp(milliseconds: version.createdMs))
            entries.append(.map(entry))
        }
        var doc: Document = ["Versions": .list(entries)]
        if start + limit < versions.count, let last = page.last {
            doc["NextToken"] = .string(PageToken.encodeVersions(secretID: secret.id, afterSeq: last.seq))
        }
        doc["ARN"] = .string(secret.arn)
        doc["Name"] = .string(secret.name)
        return doc
    }

    // MARK: GetRandomPassword

    func getRandomPassword(_ request: Document, _ caller: Caller) throws -> Document {
        try request.checkOnly([
            "PasswordLength", "ExcludeCharacters", "ExcludeNumbers", "ExcludePunctuation", "ExcludeUppercase",
            "ExcludeLowercase", "IncludeSpace", "RequireEachIncludedType",
        ])
        let length = try request.int("PasswordLength") ?? Int64(Limits.defaultPasswordLength)
        try Check.range(length, "PasswordLength", Limits.passwordLength)
        let exclude = try request.string("ExcludeCharacters") ?? ""
        try Check.length(exclude, "ExcludeCharacters", min: 0, max: 4_096)
        let flags = (
            numbers: try request.bool("ExcludeNumbers") ?? false,
            punctuation: try request.bool("ExcludePunctuation") ?? false,
            upper: try request.bool("ExcludeUppercase") ?? false,
            lower: try request.bool("ExcludeLowercase") ?? false,
            space: try request.bool("IncludeSpace") ?? false,
            require: try request.bool("RequireEachIncludedType") ?? true
        )
        try authorizeGlobal(caller, "secretsmanager:GetRandomPassword")
        do {
            let password = try RandomPassword.generate(
                length: Int(length), excludeCharacters: exclude, excludeNumbers: flags.numbers,
                excludePunctuation: flags.punctuation, excludeUppercase: flags.upper, excludeLowercase: flags.lower,
                includeSpace: flags.space, requireEachIncludedType: flags.require)
            return ["RandomPassword": .secret(password, isString: true)]
        } catch {
            throw error.serviceError
        }
    }

    // MARK: Rotation

    /// Coffer runs no rotation functions (AWS's Lambda): after authorization and the usual existence and state
    /// checks, RotateSecret answers AWS's "no rotation function" error and CancelRotateSecret AWS's "not configured".
    func rotation(
        _ operation: Operation, _ request: Document, _ caller: Caller, _ reader: VaultReader, _ now: Timestamp
    )
        throws -> Document
    {
        if operation == .rotateSecret {
            try request.checkOnly([
                "SecretId", "ClientRequestToken", "RotationLambdaARN", "RotationRules", "RotateImmediately",
                "ExternalSecretRotationMetadata", "ExternalSecretRotationRoleArn",
            ])
        } else {
            try request.checkOnly(["SecretId"])
        }
        let reference = try reference(request)
        let (secret, _) = try resolve(reference, caller, operation.actionName, in: reader.store, now: now)
        if secret.isScheduledForDeletion { throw ServiceError.markedForDeletion }
        if operation == .rotateSecret {
            throw ServiceError(.invalidRequest, "No Lambda rotation function ARN is associated with this secret.")
        }
        throw ServiceError(.invalidRequest, "Secret \(secret.name) has no rotation configured.")
    }

    // MARK: Resource policies (read side)

    func getResourcePolicy(
        _ request: Document, _ caller: Caller, _ reader: VaultReader, _ now: Timestamp
    ) throws
        -> Document
    {
        try request.checkOnly(["SecretId"])
        let reference = try reference(request)
        let (secret, _) = try resolve(
            reference, caller, "secretsmanager:GetResourcePolicy", in: reader.store, now: now)
        var doc: Document = ["ARN": .string(secret.arn), "Name": .string(secret.name)]
        if let policy = secret.resourcePolicy { doc["ResourcePolicy"] = .string(policy) }
        return doc
    }
}
