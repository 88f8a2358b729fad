import CofferCore
import CofferProtocol

// Every AWS Secrets Manager operation, with AWS's parameter names as argument labels (docs/PROTOCOL.md, section 10.2).
// Secret values go in and come out as `SensitiveBytes`: `SensitiveBytes(copying: "hunter2".utf8)`.

extension CofferClient {
    /// GetSecretValue: the version labelled AWSCURRENT unless `versionId` or `versionStage` names another.
    public func getSecretValue(
        secretId: String, versionId: String? = nil, versionStage: String? = nil
    )
        async throws(CofferClientError) -> SecretValue
    {
        try SecretValue(
            document: try await call(
                .getSecretValue,
                SecretsManagerRequests.getSecretValue(
                    secretId: secretId, versionId: versionId, versionStage: versionStage)))
    }

    /// CreateSecret, with a value (one of `secretString`, `secretBinary`) or without.
    public func createSecret(
        name: String,
        secretString: SensitiveBytes? = nil,
        secretBinary: SensitiveBytes? = nil,
        description: String? = nil,
        kmsKeyId: String? = nil,
        tags: [Tag] = [],
        clientRequestToken: String? = nil
    ) async throws(CofferClientError) -> SecretReference {
        try SecretReference(
            document: try await call(
                .createSecret,
                SecretsManagerRequests.createSecret(
                    name: name, secretString: secretString, secretBinary: secretBinary, description: description,
                    kmsKeyId: kmsKeyId, tags: tags, clientRequestToken: clientRequestToken)))
    }

    /// PutSecretValue: a new version (AWSCURRENT unless `versionStages` says otherwise).
    public func putSecretValue(
        secretId: String,
        secretString: SensitiveBytes? = nil,
        secretBinary: SensitiveBytes? = nil,
        versionStages: [String]? = nil,
        clientRequestToken: String? = nil
    ) async throws(CofferClientError) -> SecretReference {
        try SecretReference(
            document: try await call(
                .putSecretValue,
                SecretsManagerRequests.putSecretValue(
                    secretId: secretId, secretString: secretString, secretBinary: secretBinary,
                    versionStages: versionStages, clientRequestToken: clientRequestToken)))
    }

    /// UpdateSecret: description, key and/or a new value.
    public func updateSecret(
        secretId: String,
        secretString: SensitiveBytes? = nil,
        secretBinary: SensitiveBytes? = nil,
        description: String? = nil,
        kmsKeyId: String? = nil,
        clientRequestToken: String? = nil
    ) async throws(CofferClientError) -> SecretReference {
        try SecretReference(
            document: try await call(
                .updateSecret,
                SecretsManagerRequests.updateSecret(
                    secretId: secretId, secretString: secretString, secretBinary: secretBinary,
                    description: description, kmsKeyId: kmsKeyId, clientRequestToken: clientRequestToken)))
    }

    /// UpdateSecretVersionStage: moves or removes a staging label.
    public func updateSecretVersionStage(
        secretId: String, versionStage: String, removeFromVersionId: String? = nil, moveToVersionId: String? = nil
    ) async throws(CofferClientError) -> SecretReference {
        try SecretReference(
            document: try await call(
                .updateSecretVersionStage,
                SecretsManagerRequests.updateSecretVersionStage(
                    secretId: secretId, versionStage: versionStage, removeFromVersionId: removeFromVersionId,
                    moveToVersionId: moveToVersionId)))
    }

    /// DescribeSecret.
    public func describeSecret(secretId: String) async throws(CofferClientError) -> SecretMetadata {
        try SecretMetadata(
            document: try await call(.describeSecret, SecretsManagerRequests.describeSecret(secretId: secretId)))
    }

    /// ListSecrets, one page. See ``listAllSecrets(includePlannedDeletion:filters:sortBy:sortOrder:)``.
    public func listSecrets(
        includePlannedDeletion: Bool? = nil,
        maxResults: Int? = nil,
        nextToken: String? = nil,
        filters: [Filter] = [],
        sortBy: String? = nil,
        sortOrder: String? = nil
    ) async throws(CofferClientError) -> SecretListPage {
        try SecretListPage(
            document: try await call(
                .listSecrets,
                SecretsManagerRequests.listSecrets(
                    includePlannedDeletion: includePlannedDeletion, maxResults: maxResults, nextToken: nextToken,
                    filters: filters, sortBy: sortBy, sortOrder: sortOrder)))
    }

    /// ListSecrets, every page.
    public func listAllSecrets(
        includePlannedDeletion: Bool? = nil, filters: [Filter] = [], sortBy: String? = nil, sortOrder: String? = nil
    ) async throws(CofferClientError) -> [SecretMetadata] {
        var all: [SecretMetadata] = []
        var token: String?
        repeat {
            let page = try await listSecrets(
                includePlannedDeletion: includePlannedDeletion, maxResults: Limits.listMaxResults.upperBound,
                nextToken: token, filters: filters, sortBy: sortBy, sortOrder: sortOrder)
            all += page.secrets
            token = page.nextToken
        } while token != nil
        return all
    }

    /// ListSecretVersionIds, one page.
    public func listSecretVersionIds(
        secretId: String, maxResults: Int? = nil, nextToken: String? = nil, includeDeprecated: Bool? = nil
    ) async throws(CofferClientError) -> SecretVersionsPage {
        try SecretVersionsPage(
            document: try await call(
                .listSecretVersionIds,
                SecretsManagerRequests.listSecretVersionIds(
                    secretId: secretId, maxResults: maxResults, nextToken: nextToken,
                    includeDeprecated: includeDeprecated)))
    }

    /// DeleteSecret: scheduled after a recovery window (7–30 days, default 30), or at once with
    /// `forceDeleteWithoutRecovery`.
    public func deleteSecret(
        secretId: String, recoveryWindowInDays: Int? = nil, forceDeleteWithoutRecovery: Bool? = nil
    ) async throws(CofferClientError) -> DeletedSecret {
        try DeletedSecret(
            document: try await call(
                .deleteSecret,
                SecretsManagerRequests.deleteSecret(
                    secretId: secretId, recoveryWindowInDays: recoveryWindowInDays,
                    forceDeleteWithoutRecovery: forceDeleteWithoutRecovery)))
    }

    /// RestoreSecret: cancels a scheduled deletion.
    public func restoreSecret(secretId: String) async throws(CofferClientError) -> SecretReference {
        try SecretReference(
            document: try await call(.restoreSecret, SecretsManagerRequests.restoreSecret(secretId: secretId)))
    }

    /// TagResource: adds tags, overwriting the values of existing keys.
    public func tagResource(secretId: String, tags: [Tag]) async throws(CofferClientError) {
        _ = try await call(.tagResource, SecretsManagerRequests.tagResource(secretId: secretId, tags: tags))
    }

    /// UntagResource: removes tags by key (missing keys are ignored).
    public func untagResource(secretId: String, tagKeys: [String]) async throws(CofferClientError) {
        _ = try await call(.untagResource, SecretsManagerRequests.untagResource(secretId: secretId, tagKeys: tagKeys))
    }

    /// GetRandomPassword: the password, as sensitive bytes (ASCII).
    public func getRandomPassword(
        passwordLength: Int? = nil,
        excludeCharacters: String? = nil,
        excludeNumbers: Bool? = nil,
        excludePunctuation: Bool? = nil,
        excludeUppercase: Bool? = nil,
        excludeLowercase: Bool? = nil,
        includeSpace: Bool? = nil,
        requireEachIncludedType: Bool? = nil
    ) async throws(CofferClientError) -> SensitiveBytes {
        let document = try await call(
            .getRandomPassword,
            SecretsManagerRequests.getRandomPassword(
                passwordLength: passwordLength, excludeCharacters: excludeCharacters, excludeNumbers: excludeNumbers,
                excludePunctuation: excludePunctuation, excludeUppercase: excludeUppercase,
                excludeLowercase: excludeLowercase, includeSpace: includeSpace,
                requireEachIncludedType: requireEachIncludedType))
        guard let password = try SecretValue.secret(document, SecretMembers.randomPassword, isString: true) else {
            throw .malformedReply("the response has no RandomPassword")
        }
        return password
    }

    /// BatchGetSecretValue: up to 20 secrets by id, or those matching filters.
    public func batchGetSecretValue(
        secretIdList: [String]? = nil, filters: [Filter]? = nil, maxResults: Int? = nil, nextToken: String? = nil
    ) async throws(CofferClientError) -> BatchSecretValues {
        try BatchSecretValues(
            document: try await call(
                .batchGetSecretValue,
                SecretsManagerRequests.batchGetSecretValue(
                    secretIdList: secretIdList, filters: filters, maxResults: maxResults, nextToken: nextToken)))
    }

    /// PutResourcePolicy.
    public func putResourcePolicy(
        secretId: String, resourcePolicy: String, blockPublicPolicy: Bool? = nil
    )
        async throws(CofferClientError) -> SecretReference
    {
        try SecretReference(
            document: try await call(
                .putResourcePolicy,
                SecretsManagerRequests.putResourcePolicy(
                    secretId: secretId, resourcePolicy: resourcePolicy, blockPublicPolicy: blockPublicPolicy)))
    }

    /// GetResourcePolicy.
    public func getResourcePolicy(secretId: String) async throws(CofferClientError) -> ResourcePolicy {
        try ResourcePolicy(
            document: try await call(.getResourcePolicy, SecretsManagerRequests.getResourcePolicy(secretId: secretId)))
    }

    /// DeleteResourcePolicy.
    public func deleteResourcePolicy(secretId: String) async throws(CofferClientError) -> SecretReference {
        try SecretReference(
            document: try await call(
                .deleteResourcePolicy, SecretsManagerRequests.deleteResourcePolicy(secretId: secretId)))
    }

    /// ValidateResourcePolicy.
    public func validateResourcePolicy(
        secretId: String? = nil, resourcePolicy: String
    ) async throws(CofferClientError)
        -> PolicyValidation
    {
        try PolicyValidation(
            document: try await call(
                .validateResourcePolicy,
                SecretsManagerRequests.validateResourcePolicy(secretId: secretId, resourcePolicy: resourcePolicy)))
    }

    /// RotateSecret: configures rotation (a local rotation hook in `rotationLambdaARN`) and starts one.
    public func rotateSecret(
        secretId: String,
        clientRequestToken: String? = nil,
        rotationLambdaARN: String? = nil,
        rotationRules: RotationRules? = nil,
        rotateImmediately: Bool? = nil
    ) async throws(CofferClientError) -> SecretReference {
        try SecretReference(
            document: try await call(
                .rotateSecret,
                SecretsManagerRequests.rotateSecret(
                    secretId: secretId, clientRequestToken: clientRequestToken, rotationLambdaARN: rotationLambdaARN,
                    rotationRules: rotationRules, rotateImmediately: rotateImmediately)))
    }

    /// CancelRotateSecret.
    public func cancelRotateSecret(secretId: String) async throws(CofferClientError) -> SecretReference {
        try SecretReference(
            document: try await call(
                .cancelRotateSecret, SecretsManagerRequests.cancelRotateSecret(secretId: secretId)))
    }
}
