import CofferCore
import CofferCrypto
import CofferProtocol
import CofferStore

extension Vault {
    // MARK: CreateSecret

    func createSecret(_ request: Document, _ caller: Caller) throws -> WriteJob {
        try request.checkOnly([
            "Name", "ClientRequestToken", "Description", "KmsKeyId", "SecretBinary", "SecretString", "Tags",
            "AddReplicaRegions", "ForceOverwriteReplicaSecret", "Type",
        ])
        let name = try request.requiredString("Name")
        try Check.length(name, "Name", min: 1, max: Limits.maxNameLength)
        guard Identifiers.isValidSecretName(name) else { throw ServiceError.invalidName }
        let description = try request.string("Description")
        if let description { try Check.description(description) }
        let kmsKeyID = try request.string("KmsKeyId")
        if let kmsKeyID { try Check.length(kmsKeyID, "KmsKeyId", min: 0, max: 2_048) }
        let value = try ValueInput.parse(request)
        let tags = try TagInput.parse(try request.mapList("Tags") ?? [])
        let tagsGiven = request["Tags"] != nil
        if request["AddReplicaRegions"] != nil {
            throw ServiceError(
                .invalidRequest, "Coffer is a single-host vault: replication to regions is not supported.")
        }
        _ = try request.bool("ForceOverwriteReplicaSecret")
        _ = try request.string("Type")
        let token = try request.string("ClientRequestToken") ?? Identifiers.randomUUID()
        try Check.versionID(token, "ClientRequestToken")

        var keys: [String: [String]] = ["secretsmanager:name": [name]]
        if let description { keys["secretsmanager:description"] = [description] }
        if let kmsKeyID { keys["secretsmanager:kmskeyid"] = [kmsKeyID] }
        if tagsGiven { keys["aws:tagkeys"] = tags.map(\.0) }
        for (key, tagValue) in tags { keys["aws:requesttag/\(key.lowercased())"] = [tagValue] }
        let requestKeys = keys

        return { ctx, now in
            let arn = self.identity.secretARN(name: name, suffix: Identifiers.randomARNSuffix())
            try self.authorize(
                caller, "secretsmanager:CreateSecret", secret: nil, tags: nil, resourceLabel: arn,
                requestKeys: requestKeys)
            if let existing = try ctx.secret(named: name) {
                if let deletion = existing.deletionMs, deletion <= now.milliseconds {
                    try ctx.deleteSecret(secretID: existing.id)  // its window has passed: the name is free
                } else if existing.isScheduledForDeletion {
                    throw ServiceError(
                        .invalidRequest,
                        "You can't create this secret because a secret with this name is already scheduled for deletion."
                    )
                } else {
                    if let value, try self.sameVersionExists(ctx, existing, versionID: token, value: value) {
                        return [
                            "ARN": .string(existing.arn), "Name": .string(existing.name), "VersionId": .string(token),
                        ]
                    }
                    throw ServiceError(
                        .resourceExists, "The operation failed because the secret \(name) already exists.")
                }
            }
            let id = try ctx.insertSecret(
                name: name, arn: arn, description: description, kmsKeyID: kmsKeyID, createdMs: now.milliseconds)
            for (key, tagValue) in tags { try ctx.setTag(secretID: id, key: key, value: tagValue) }
            if tagsGiven { try ctx.markTagsTouched(secretID: id) }
            var doc: Document = ["ARN": .string(arn), "Name": .string(name)]
            if let value {
                guard let secret = try ctx.secret(id: id) else { throw ServiceError.internalFailure }
                _ = try self.addVersion(ctx, secret, value: value, versionID: token, stages: nil, now: now)
                doc["VersionId"] = .string(token)
            }
            return doc
        }
    }

    // MARK: PutSecretValue

    func putSecretValue(_ request: Document, _ caller: Caller) throws -> WriteJob {
        try request.checkOnly([
            "SecretId", "ClientRequestToken", "SecretBinary", "SecretString", "VersionStages", "RotationToken",
        ])
        let reference = try reference(request)
        guard let value = try ValueInput.parse(request) else {
            throw ServiceError(.invalidParameter, "You must provide either SecretString or SecretBinary.")
        }
        let stages = try request.stringList("VersionStages")
        if let stages {
            try Check.count(stages, "VersionStages", min: 1, max: Limits.maxStagesPerVersion)
            for stage in stages { try Check.stage(stage, "VersionStages.member") }
        }
        if let rotationToken = try request.string("RotationToken") {
            try Check.length(rotationToken, "RotationToken", min: 36, max: 256)
        }
        let token = try request.string("ClientRequestToken") ?? Identifiers.randomUUID()
        try Check.versionID(token, "ClientRequestToken")
        let uniqueStages = stages.map { Vault.unique($0) }

        return { ctx, now in
            let (secret, _) = try self.resolve(reference, caller, "secretsmanager:PutSecretValue", in: ctx, now: now)
            if secret.isScheduledForDeletion { throw ServiceError.markedForDeletion }
            if try self.sameVersionExists(ctx, secret, versionID: token, value: value) {
                return [
                    "ARN": .string(secret.arn), "Name": .string(secret.name), "VersionId": .string(token),
                    "VersionStages": Shapes.stageList(try ctx.stages(secretID: secret.id, versionID: token)),
                ]
            }
            let labels = try self.addVersion(
                ctx, secret, value: value, versionID: token, stages: uniqueStages, now: now)
            return [
                "ARN": .string(secret.arn), "Name": .string(secret.name), "VersionId": .string(token),
                "VersionStages": Shapes.stageList(labels),
            ]
        }
    }

    // MARK: UpdateSecret

    func updateSecret(_ request: Document, _ caller: Caller) throws -> WriteJob {
        try request.checkOnly([
            "SecretId", "ClientRequestToken", "Description", "KmsKeyId", "SecretBinary", "SecretString", "Type",
        ])
        let reference = try reference(request)
        let description = try request.string("Description")
        if let description { try Check.description(description) }
        let kmsKeyID = try request.string("KmsKeyId")
        if let kmsKeyID { try Check.length(kmsKeyID, "KmsKeyId", min: 0, max: 2_048) }
        _ = try request.string("Type")
        let value = try ValueInput.parse(request)
        let token = try request.string("ClientRequestToken") ?? Identifiers.randomUUID()
        try Check.versionID(token, "ClientRequestToken")
        var keys: [String: [String]] = [:]
        if let description { keys["secretsmanager:description"] = [description] }
        if let kmsKeyID { keys["secretsmanager:kmskeyid"] = [kmsKeyID] }
        let requestKeys = keys

        return { ctx, now in
            let (secret, _) = try self.resolve(
                reference, caller, "secretsmanager:UpdateSecret", in: ctx, now: now, requestKeys: requestKeys)
            if secret.isScheduledForDeletion { throw ServiceError.markedForDeletion }
            var doc: Document = ["ARN": .string(secret.arn), "Name": .string(secret.name)]
            if let value {
                if try !self.sameVersionExists(ctx, secret, versionID: token, value: value) {
                    _ = try self.addVersion(ctx, secret, value: value, versionID: token, stages: nil, now: now)
                }
                doc["VersionId"] = .string(token)
            }
            var changed = value != nil
            if let description, description != secret.description {
                try ctx.setDescription(secretID: secret.id, description)
                changed = true
            }
            if let kmsKeyID, kmsKeyID != secret.kmsKeyID {
                try ctx.setKmsKeyID(secretID: secret.id, kmsKeyID)
                changed = true
            }
            if changed { try ctx.touchChanged(secretID: secret.id, at: now.milliseconds) }
            return doc
        }
    }

    // MARK: UpdateSecretVersionStage

    func updateSecretVersionStage(_ request: Document, _ caller: Caller) throws -> WriteJob {
        try request.checkOnly(["SecretId", "VersionStage", "RemoveFromVersionId", "MoveToVersionId"])
        let reference = try reference(request)
        let stage = try request.requiredString("VersionStage")
        try Check.stage(stage, "VersionStage")
        let removeFrom = try request.string("RemoveFromVersionId")
        let moveTo = try request.string("MoveToVersionId")
        if let removeFrom { try Check.versionID(removeFrom, "RemoveFromVersionId") }
        if let moveTo { try Check.versionID(moveTo, "MoveToVersionId") }
        let keys = ["secretsmanager:versionstage": [stage]]

        return { ctx, now in
            let (secret, _) = try self.resolve(
                reference, caller, "secretsmanager:UpdateSecretVersionStage", in: ctx, now: now, requestKeys: keys)
            if secret.isScheduledForDeletion { throw ServiceError.markedForDeletion }
            let labels = try ctx.stages(secretID: secret.id)
            let holder = labels.first(where: { $0.stage == stage })?.versionID
            for id in [moveTo, removeFrom].compactMap({ $0 })
            where try ctx.version(secretID: secret.id, versionID: id) == nil {
                throw ServiceError(.invalidParameter, "The version \(id) doesn't exist for the secret \(secret.name).")
            }
            if let removeFrom, holder != removeFrom {
                throw ServiceError(
                    .invalidParameter,
                    "The parameter RemoveFromVersionId is not currently associated with the staging label \(stage).")
            }
            if let moveTo {
                if let holder, holder != moveTo, removeFrom == nil {
                    throw ServiceError(
                        .invalidParameter,
                        "The parameter RemoveFromVersionId can't be empty. Staging label \(stage) is currently attached to version \(holder), so you must explicitly reference that version in RemoveFromVersionId."
                    )
                }
                if holder != moveTo {
                    let onTarget = labels.filter { $0.versionID == moveTo }.count
                    if onTarget >= Limits.maxStagesPerVersion {
                        throw ServiceError(
                            .limitExceeded, "A version can have at most \(Limits.maxStagesPerVersion) staging labels.")
                    }
                    try self.attach(
                        ctx, secret.id, stage: stage, to: moveTo, previousHolder: holder, putSemantics: false)
                }
            } else if removeFrom != nil {
                if stage == Stage.current {
                    throw ServiceError(
                        .invalidParameter,
                        "You can only move staging label AWSCURRENT to a different secret version. It can't be completely removed."
                    )
                }
                try ctx.removeStage(secretID: secret.id, stage: stage)
            } else {
                throw ServiceError(
                    .invalidParameter, "You must specify either MoveToVersionId or RemoveFromVersionId, or both.")
            }
            try ctx.touchChanged(secretID: secret.id, at: now.milliseconds)
            return ["ARN": .string(secret.arn), "Name": .string(secret.name)]
        }
    }

    // MARK: Versions and labels

    /// True if `versionID` exists with the same value (idempotent retry); throws ResourceExistsException if it
    /// exists with a different value; false if it does not exist.
    func sameVersionExists(
        _ ctx: WriteContext, _ secret: SecretRow, versionID: String, value: ValueInput
    ) throws
        -> Bool
    {
        guard let existing = try ctx.version(secretID: secret.id, versionID: versionID) else { return false }
        let same =
            try existing.isBinary == value.isBinary
            && open(existing, scratch: writerScratch.scratch) { stored in
                value.bytes.withUnsafeBytes { given in
                    guard stored.count == given.count else { return false }
                    var difference: UInt8 = 0
                    for i in 0..<stored.count { difference |= stored[i] ^ given[i] }
                    return difference == 0
                }
            }
        guard same else {
            throw ServiceError(
                .resourceExists,
                "You can't use ClientRequestToken \(versionID) because that value is already in use for a version of secret \(secret.arn)."
            )
        }
        return true
    }

    /// Adds a version (sealed) and moves labels as PutSecretValue does: `stages` (default `[AWSCURRENT]`) move to
    /// the new version; the first version of a secret always gets AWSCURRENT; when AWSCURRENT moves, its previous
    /// holder becomes AWSPREVIOUS. Then prunes old deprecated versions. Returns the new version's labels.
    func addVersion(
        _ ctx: WriteContext, _ secret: SecretRow, value: ValueInput, versionID: String, stages: [String]?,
        now: Timestamp
    ) throws -> [String] {
        let oldCurrent = try ctx.version(secretID: secret.id, stage: Stage.current)?.versionID
        var labels = stages ?? [Stage.current]
        if oldCurrent == nil && !labels.contains(Stage.current) { labels.append(Stage.current) }
        try pruneVersions(ctx, secret, now: now, making: 1)
        let seal = try seal(value, secretID: secret.id, versionID: versionID)
        try ctx.insertVersion(
            secretID: secret.id, versionID: versionID, createdMs: now.milliseconds, isBinary: value.isBinary, seal: seal
        )
        let holders = try ctx.stages(secretID: secret.id)
        for label in labels {
            let holder = holders.first(where: { $0.stage == label })?.versionID
            try attach(ctx, secret.id, stage: label, to: versionID, previousHolder: holder, putSemantics: true)
        }
        try ctx.touchChanged(secretID: secret.id, at: now.milliseconds)
        try pruneVersions(ctx, secret, now: now, making: 0)
        return try ctx.stages(secretID: secret.id, versionID: versionID)
    }

    /// Moves `stage` to `versionID`. Moving AWSCURRENT gives its previous holder AWSPREVIOUS (taking AWSPREVIOUS
    /// from wherever it was); with `putSemantics` the previous holder also loses AWSPENDING, as observed on AWS when
    /// PutSecretValue/UpdateSecret supersede a version carrying both AWSCURRENT and AWSPENDING.
    func attach(
        _ ctx: WriteContext, _ secretID: Int64, stage: String, to versionID: String, previousHolder: String?,
        putSemantics: Bool
    ) throws {
        if stage == Stage.current, let old = previousHolder, old != versionID {
            try ctx.setStage(secretID: secretID, stage: Stage.previous, versionID: old)
            if putSemantics, try ctx.stages(secretID: secretID, versionID: old).contains(Stage.pending) {
                try ctx.removeStage(secretID: secretID, stage: Stage.pending)
            }
        }
        if stage == Stage.current, try ctx.stages(secretID: secretID, versionID: versionID).contains(Stage.previous) {
            try ctx.removeStage(secretID: secretID, stage: Stage.previous)  // rollback: the target was AWSPREVIOUS
        }
        try ctx.setStage(secretID: secretID, stage: stage, versionID: versionID)
    }

    /// AWS's retention rule: when more than 100 versions exist, remove deprecated (unlabeled) versions that are at
    /// least 24 hours old, oldest first. `making` reserves room for versions about to be added. If the hard cap is
    /// still reached, LimitExceededException.
    func pruneVersions(_ ctx: WriteContext, _ secret: SecretRow, now: Timestamp, making extra: Int) throws {
        var count = try ctx.versionCount(secretID: secret.id)
        guard count + extra > Limits.versionRetentionCount else { return }
        let cutoff = now.milliseconds - Limits.versionRetentionMinimumAgeMilliseconds
        for version in try ctx.versionSummaries(secretID: secret.id) where count + extra > Limits.versionRetentionCount
        {
            guard version.stages.isEmpty, version.createdMs <= cutoff else { continue }
            try ctx.deleteVersion(secretID: secret.id, versionID: version.versionID)
            count -= 1
        }
        if count + extra > Limits.maxVersionsPerSecret {
            throw ServiceError(
                .limitExceeded,
                "You have exceeded the maximum number of versions of this secret (\(Limits.maxVersionsPerSecret)).")
        }
    }

    static func unique(_ stages: [String]) -> [String] {
        var seen = Set<String>()
        return stages.filter { seen.insert($0).inserted }
    }

    // MARK: DeleteSecret / RestoreSecret

    func deleteSecret(_ request: Document, _ caller: Caller) throws -> WriteJob {
        try request.checkOnly(["SecretId", "RecoveryWindowInDays", "ForceDeleteWithoutRecovery"])
        let reference = try reference(request)
        let window = try request.int("RecoveryWindowInDays")
        let force = try request.bool("ForceDeleteWithoutRecovery") ?? false
        if window != nil && force {
            throw ServiceError(
                .invalidParameter,
                "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.")
        }
        if let window, !Limits.recoveryWindowDays.contains(Int(clamping: window)) {
            throw ServiceError(
                .invalidParameter, "The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).")
        }
        var keys: [String: [String]] = ["secretsmanager:forcedeletewithoutrecovery": [force ? "true" : "false"]]
        if let window { keys["secretsmanager:recoverywindowindays"] = [String(window)] }
        let requestKeys = keys
        let days = Int(window ?? Int64(Limits.defaultRecoveryWindowDays))

        return { ctx, now in
            if force {
                // AWS: a forced delete of an unknown or already-scheduled secret still succeeds.
                let row = try self.lookup(reference, in: ctx, now: now)
                let tags = try row.map { try ctx.tags(secretID: $0.id) }
                try self.authorize(
                    caller, "secretsmanager:DeleteSecret", secret: row, tags: tags,
                    resourceLabel: reference.resourceLabel(self.identity), requestKeys: requestKeys)
                if let row {
                    try ctx.deleteSecret(secretID: row.id)
                    return [
                        "ARN": .string(row.arn), "Name": .string(row.name),
                        "DeletionDate": .timestamp(now),
                    ]
                }
                let name: String
                switch reference {
                case .name(let n), .partialARN(let n): name = n
                case .fullARN(let arn), .foreign(let arn):
                    name = ARN(parsing: arn).map { String($0.resource.dropFirst("secret:".count)) } ?? arn
                }
                let arn: String
                if case .fullARN(let given) = reference {
                    arn = given
                } else {
                    arn = self.identity.secretARN(name: name, suffix: Identifiers.randomARNSuffix())
                }
                return ["ARN": .string(arn), "Name": .string(name), "DeletionDate": .timestamp(now)]
            }
            let (secret, _) = try self.resolve(
                reference, caller, "secretsmanager:DeleteSecret", in: ctx, now: now, requestKeys: requestKeys)
            if secret.isScheduledForDeletion {
                throw ServiceError(
                    .invalidRequest, "You tried to perform the operation on a secret that's currently marked deleted.")
            }
            let deletion = now.adding(days: days)
            try ctx.scheduleDeletion(
                secretID: secret.id, deletedMs: now.milliseconds, deletionMs: deletion.milliseconds)
            return [
                "ARN": .string(secret.arn), "Name": .string(secret.name), "DeletionDate": .timestamp(deletion),
            ]
        }
    }

    func restoreSecret(_ request: Document, _ caller: Caller) throws -> WriteJob {
        try request.checkOnly(["SecretId"])
        let reference = try reference(request)
        return { ctx, now in
            let (secret, _) = try self.resolve(reference, caller, "secretsmanager:RestoreSecret", in: ctx, now: now)
            if secret.isScheduledForDeletion { try ctx.restore(secretID: secret.id) }
            return ["ARN": .string(secret.arn), "Name": .string(secret.name)]
        }
    }

    /// Removes secrets whose recovery window has passed (run at start-up and periodically by the daemon).
    @discardableResult
    public func purgeExpired() throws -> Int {
        let now = clock.now()
        return try store.writer.perform { ctx in
            var removed = 0
            while true {
                let due = try ctx.secretsDueForPurge(at: now.milliseconds, limit: 256)
                for id in due { try ctx.deleteSecret(secretID: id) }
                removed += due.count
                if due.count < 256 { return removed }
            }
        }
    }

    // MARK: Tags

    func tagResource(_ request: Document, _ caller: Caller) throws -> WriteJob {
        try request.checkOnly(["SecretId", "Tags"])
        let reference = try reference(request)
        guard let tagDocs = try request.mapList("Tags") else {
            throw ServiceError.constraint(at: "tags", "Member must not be null")
        }
        let tags = try TagInput.parse(tagDocs)
        var keys: [String: [String]] = ["aws:tagkeys": tags.map(\.0)]
        for (key, value) in tags { keys["aws:requesttag/\(key.lowercased())"] = [value] }
        let requestKeys = keys
        return { ctx, now in
            let (secret, existing) = try self.resolve(
                reference, caller, "secretsmanager:TagResource", in: ctx, now: now, requestKeys: requestKeys)
            if secret.isScheduledForDeletion { throw ServiceError.markedForDeletion }
            for (key, _) in tags {
                if let clash = existing.first(where: { $0.key != key && $0.key.lowercased() == key.lowercased() }) {
                    throw ServiceError(
                        .invalidParameter,
                        "The secret already has the tag key \(clash.key); tag keys must differ in more than case.")
                }
            }
            let newKeys = Set(tags.map(\.0)).subtracting(existing.map(\.key))
            if existing.count + newKeys.count > Limits.maxTagsPerSecret {
                throw ServiceError(.invalidParameter, "A secret can have at most \(Limits.maxTagsPerSecret) tags.")
            }
            for (key, value) in tags { try ctx.setTag(secretID: secret.id, key: key, value: value) }
            try ctx.markTagsTouched(secretID: secret.id)
            return Document()
        }
    }

    func untagResource(_ request: Document, _ caller: Caller) throws -> WriteJob {
        try request.checkOnly(["SecretId", "TagKeys"])
        let reference = try reference(request)
        guard let keysToRemove = try request.stringList("TagKeys") else {
            throw ServiceError.constraint(at: "tagKeys", "Member must not be null")
        }
        for key in keysToRemove { try Check.length(key, "TagKeys.member", min: 1, max: Limits.maxTagKeyLength) }
        let requestKeys = ["aws:tagkeys": keysToRemove]
        return { ctx, now in
            let (secret, _) = try self.resolve(
                reference, caller, "secretsmanager:UntagResource", in: ctx, now: now, requestKeys: requestKeys)
            if secret.isScheduledForDeletion { throw ServiceError.markedForDeletion }
            for key in keysToRemove { try ctx.removeTag(secretID: secret.id, key: key) }
            try ctx.markTagsTouched(secretID: secret.id)
            return Document()
        }
    }
}
