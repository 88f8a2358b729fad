import CofferCore
import CofferPolicy
import CofferProtocol
import CofferStore

extension Vault {
    func putResourcePolicy(_ request: Document, _ caller: Caller) throws -> WriteJob {
        try request.checkOnly(["SecretId", "ResourcePolicy", "BlockPublicPolicy"])
        let reference = try reference(request)
        let policy = try request.requiredString("ResourcePolicy")
        try Check.length(policy, "ResourcePolicy", min: 1, max: Limits.maxResourcePolicyLength)
        let block = try request.bool("BlockPublicPolicy") ?? false
        let keys = ["secretsmanager:blockpublicpolicy": [block ? "true" : "false"]]
        return { ctx, now in
            let (secret, _) = try self.resolve(
                reference, caller, "secretsmanager:PutResourcePolicy", in: ctx, now: now, requestKeys: keys)
            if secret.isScheduledForDeletion { throw ServiceError.markedForDeletion }
            try self.checkResourcePolicy(policy, blockPublic: block)
            try ctx.setResourcePolicy(secretID: secret.id, policy)
            return ["ARN": .string(secret.arn), "Name": .string(secret.name)]
        }
    }

    func deleteResourcePolicy(_ request: Document, _ caller: Caller) throws -> WriteJob {
        try request.checkOnly(["SecretId"])
        let reference = try reference(request)
        return { ctx, now in
            let (secret, _) = try self.resolve(
                reference, caller, "secretsmanager:DeleteResourcePolicy", in: ctx, now: now)
            if secret.isScheduledForDeletion { throw ServiceError.markedForDeletion }
            try ctx.setResourcePolicy(secretID: secret.id, nil)
            return ["ARN": .string(secret.arn), "Name": .string(secret.name)]
        }
    }

    func validateResourcePolicy(
        _ request: Document, _ caller: Caller, _ reader: VaultReader, _ now: Timestamp
    ) throws
        -> Document
    {
        try request.checkOnly(["SecretId", "ResourcePolicy"])
        let policy = try request.requiredString("ResourcePolicy")
        try Check.length(policy, "ResourcePolicy", min: 1, max: Limits.maxResourcePolicyLength)
        if request["SecretId"] != nil {
            let reference = try reference(request)
            _ = try resolve(reference, caller, "secretsmanager:ValidateResourcePolicy", in: reader.store, now: now)
        } else {
            try authorizeGlobal(caller, "secretsmanager:ValidateResourcePolicy")
        }
        let findings = resourcePolicyFindings(policy)
        return [
            "PolicyValidationPassed": .bool(findings.isEmpty),
            "ValidationErrors": .list(
                findings.map { .map(["CheckName": .string($0.check), "ErrorMessage": .string($0.message)]) }),
        ]
    }

    /// Rejects a policy Put would store: malformed → MalformedPolicyDocumentException; public with
    /// BlockPublicPolicy → PublicPolicyException.
    func checkResourcePolicy(_ policy: String, blockPublic: Bool) throws(ServiceError) {
        let findings = resourcePolicyFindings(policy)
        if let syntax = findings.first(where: { $0.check == "SYNTAX_CHECKING" }) {
            throw ServiceError(.malformedPolicyDocument, syntax.message)
        }
        if blockPublic, findings.contains(where: { $0.check == "PUBLIC_ACCESS_CHECKING" }) {
            throw ServiceError(
                .publicPolicy,
                "The BlockPublicPolicy parameter is set to true, and the resource policy that you "
                    + "attached grants public access to the secret.")
        }
    }

    /// The policy engine's checks: IAM's syntax validation for resource policies, then public access (a statement
    /// that allows a principal outside the account, or everyone without a condition restricting it).
    func resourcePolicyFindings(_ policy: String) -> [(check: String, message: String)] {
        PolicyDocument.validationFindings(policy, accountID: identity.accountID).map {
            ($0.checkName, $0.errorMessage)
        }
    }
}
