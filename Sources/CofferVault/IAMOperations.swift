import CofferCore
import CofferPolicy
import CofferProtocol
import CofferStore
import CofferSystem

/// AWS IAM's operations for Coffer's principals (admin socket): inline and managed policies, attachments, roles
/// (a systemd unit is a role) and the policy simulator. Every operation is itself authorized (`iam:<Operation>`), so
/// administration can be delegated. Users and groups are the host's accounts: they must exist, and are not created.
extension Vault {
    /// Handles one IAM request. Everything runs on the writer (IAM is rare and small); the authorization snapshot
    /// is replaced after a mutation commits and before the reply is sent.
    public func handleIAM(
        _ operation: Operation, _ request: Document, caller: Caller,
        reply: @escaping @Sendable (Result<Document, ServiceError>) -> Void
    ) {
        guard let access = accessController else {
            reply(.failure(ServiceError(.invalidRequest, "IAM is not available with a custom authorizer.")))
            return
        }
        let clock = self.clock
        store.writer.submit({ ctx -> (Document, IAMState?) in
            try self.iam(operation, request, caller: caller, ctx: ctx, now: clock.now(), access: access)
        }) { result in
            switch result {
            case .success(let (document, changed)):
                if let changed { access.update(changed) }
                reply(.success(document))
            case .failure(let error):
                reply(.failure(Vault.iamError(error)))
            }
        }
    }

    /// IAM's error names on the admin socket. The request checks and policy parser shared with Secrets Manager throw
    /// its names; IAM calls a request-shape violation `ValidationError` and a bad document `MalformedPolicyDocument`
    /// (also for the simulator's `ResourcePolicy`).
    static func iamError(_ error: any Error) -> ServiceError {
        var mapped = serviceError(error)
        switch mapped.code {
        case .validation: mapped.code = .validationIAM
        case .malformedPolicyDocument: mapped.code = .malformedPolicyDocumentIAM
        default: break
        }
        return mapped
    }

    /// Returns the response and, for mutations, the new IAM state.
    func iam(
        _ op: Operation, _ r: Document, caller: Caller, ctx: WriteContext, now: Timestamp, access: AccessController
    ) throws -> (Document, IAMState?) {
        let iam = IAMRequest(vault: self, request: r, caller: caller, ctx: ctx, now: now)
        switch op {
        case .putUserPolicy, .putGroupPolicy, .putRolePolicy:
            let kind = IAMRequest.kind(of: op)
            try r.checkOnly([kind.nameKey, "PolicyName", "PolicyDocument"])
            let name = try iam.principalName(kind)
            let policyName = try iam.policyName("PolicyName")
            let text = try r.requiredString("PolicyDocument")
            try iam.authorize(op, resource: iam.entityARN(kind, name))
            try iam.requireEntity(kind, name)
            let document = try IAMRequest.parse(text, kind: .inline(kind.inlineOwner))
            let others = try ctx.iamState().inline.filter {
                $0.kind == kind && $0.principal == name && $0.policy != policyName
            }
            let total = others.reduce(document.quotaSize) { $0 + PolicyLimits.quotaSize(of: $1.document) }
            if total > PolicyLimits.sizeQuota(for: .inline(kind.inlineOwner)) {
                throw ServiceError(
                    .limitExceededIAM,
                    PolicyDocument.sizeExceededMessage(kind: .inline(kind.inlineOwner), ownerName: name))
            }
            try ctx.putInlinePolicy(kind: kind, principal: name, policy: policyName, document: text)
            return ([:], try ctx.iamState())

        case .getUserPolicy, .getGroupPolicy, .getRolePolicy:
            let kind = IAMRequest.kind(of: op)
            try r.checkOnly([kind.nameKey, "PolicyName"])
            let name = try iam.principalName(kind)
            let policyName = try iam.policyName("PolicyName")
            try iam.authorize(op, resource: iam.entityARN(kind, name))
            try iam.requireEntity(kind, name)
            guard
                let entry = try ctx.iamState().inline.first(where: {
                    $0.kind == kind && $0.principal == name && $0.policy == policyName
                })
            else {
                throw ServiceError(
                    .noSuchEntity, "The \(kind.rawValue) policy with name \(policyName) cannot be found.")
            }
            return (
                [
                    kind.nameKey: .string(name), "PolicyName": .string(policyName),
                    "PolicyDocument": .string(entry.document),
                ], nil
            )

        case .deleteUserPolicy, .deleteGroupPolicy, .deleteRolePolicy:
            let kind = IAMRequest.kind(of: op)
            try r.checkOnly([kind.nameKey, "PolicyName"])
            let name = try iam.principalName(kind)
            let policyName = try iam.policyName("PolicyName")
            try iam.authorize(op, resource: iam.entityARN(kind, name))
            try iam.requireEntity(kind, name)
            guard try ctx.deleteInlinePolicy(kind: kind, principal: name, policy: policyName) else {
                throw ServiceError(
                    .noSuchEntity, "The \(kind.rawValue) policy with name \(policyName) cannot be found.")
            }
            return ([:], try ctx.iamState())

        case .listUserPolicies, .listGroupPolicies, .listRolePolicies:
            let kind = IAMRequest.kind(of: op)
            try r.checkOnly([kind.nameKey, "Marker", "MaxItems"])
            let name = try iam.principalName(kind)
            try iam.authorize(op, resource: iam.entityARN(kind, name))
            try iam.requireEntity(kind, name)
            let names = try ctx.iamState().inline.filter { $0.kind == kind && $0.principal == name }.map(\.policy)
            return (try iam.page(names.map { .string($0) }, key: "PolicyNames"), nil)

        case .createPolicy:
            try r.checkOnly(["PolicyName", "PolicyDocument", "Path", "Description", "Tags"])
            let policyName = try iam.policyName("PolicyName")
            let path = try iam.path()
            let description = try r.string("Description")
            if let description { try Check.length(description, "Description", min: 0, max: 1_000) }
            let text = try r.requiredString("PolicyDocument")
            let arn = identity.iamARN("policy", String(path.dropFirst()) + policyName)
            try iam.authorize(op, resource: arn)
            _ = try IAMRequest.parse(text, kind: .managed)
            if try ctx.iamState().policies.contains(where: { $0.name == policyName }) {
                throw ServiceError(
                    .entityAlreadyExists,
                    "A policy called \(policyName) already exists. Duplicate names are not allowed.")
            }
            let row = ManagedPolicyRow(
                name: policyName, policyID: IAMRequest.uniqueID(prefix: "ANPA"), path: path, description: description,
                defaultVersion: "v1", nextVersion: 2, createdMs: now.milliseconds, updatedMs: now.milliseconds)
            try ctx.insertPolicy(row, document: text)
            let state = try ctx.iamState()
            return (["Policy": .map(iam.policyShape(row, state: state))], state)

        case .getPolicy:
            try r.checkOnly(["PolicyArn"])
            let (arn, policy, state) = try iam.policy()
            try iam.authorize(op, resource: arn)
            guard let policy else { throw IAMRequest.noSuchPolicy(arn) }
            return (["Policy": .map(iam.policyShape(policy, state: state))], nil)

        case .deletePolicy:
            try r.checkOnly(["PolicyArn"])
            let (arn, policy, state) = try iam.policy()
            try iam.authorize(op, resource: arn)
            guard let policy else { throw IAMRequest.noSuchPolicy(arn) }
            if state.attachments.contains(where: { $0.policy == policy.name }) {
                throw ServiceError(.deleteConflict, "Cannot delete a policy attached to entities.")
            }
            if state.versions.filter({ $0.policyName == policy.name }).count > 1 {
                throw ServiceError(
                    .deleteConflict,
                    "This policy has more than one version. Before you delete a policy, you must delete the policy's versions. The default version is deleted with the policy."
                )
            }
            try ctx.deletePolicy(name: policy.name)
            return ([:], try ctx.iamState())

        case .listPolicies:
            try r.checkOnly(["Scope", "OnlyAttached", "PathPrefix", "PolicyUsageFilter", "Marker", "MaxItems"])
            let scope = try r.string("Scope") ?? "All"
            try Check.oneOf(scope, "Scope", ["All", "AWS", "Local"])
            let onlyAttached = try r.bool("OnlyAttached") ?? false
            let prefix = try r.string("PathPrefix") ?? "/"
            try iam.authorize(op, resource: "*")
            let state = try ctx.iamState()
            let policies =
                scope == "AWS"
                ? []
                : state.policies.filter { policy in
                    policy.path.hasPrefix(prefix)
                        && (!onlyAttached || state.attachments.contains { $0.policy == policy.name })
                }
            return (try iam.page(policies.map { .map(iam.policyShape($0, state: state)) }, key: "Policies"), nil)

        case .createPolicyVersion:
            try r.checkOnly(["PolicyArn", "PolicyDocument", "SetAsDefault"])
            let (arn, policy, state) = try iam.policy()
            let text = try r.requiredString("PolicyDocument")
            let setDefault = try r.bool("SetAsDefault") ?? false
            try iam.authorize(op, resource: arn)
            guard let policy else { throw IAMRequest.noSuchPolicy(arn) }
            _ = try IAMRequest.parse(text, kind: .managed)
            if state.versions.filter({ $0.policyName == policy.name }).count >= 5 {
                throw ServiceError(
                    .limitExceededIAM,
                    "A managed policy can have up to 5 versions. Before you create a new version, you must delete an existing version."
                )
            }
            let version = "v\(policy.nextVersion)"
            try ctx.insertPolicyVersion(
                policy: policy.name, versionID: version, document: text, createdMs: now.milliseconds)
            try ctx.updatePolicy(
                name: policy.name, defaultVersion: setDefault ? version : policy.defaultVersion,
                nextVersion: policy.nextVersion + 1, updatedMs: now.milliseconds)
            let shape: Document = [
                "VersionId": .string(version), "IsDefaultVersion": .bool(setDefault),
                "CreateDate": .timestamp(now),
            ]
            return (["PolicyVersion": .map(shape)], try ctx.iamState())

        case .getPolicyVersion:
            try r.checkOnly(["PolicyArn", "VersionId"])
            let (arn, policy, state) = try iam.policy()
            let versionID = try r.requiredString("VersionId")
            try iam.authorize(op, resource: arn)
            guard let policy else { throw IAMRequest.noSuchPolicy(arn) }
            guard
                let version = state.versions.first(where: { $0.policyName == policy.name && $0.versionID == versionID })
            else { throw ServiceError(.noSuchEntity, "Policy \(arn) version \(versionID) does not exist.") }
            return (["PolicyVersion": .map(iam.versionShape(version, policy: policy, withDocument: true))], nil)

        case .deletePolicyVersion:
            try r.checkOnly(["PolicyArn", "VersionId"])
            let (arn, policy, state) = try iam.policy()
            let versionID = try r.requiredString("VersionId")
            try iam.authorize(op, resource: arn)
            guard let policy else { throw IAMRequest.noSuchPolicy(arn) }
            guard state.versions.contains(where: { $0.policyName == policy.name && $0.versionID == versionID }) else {
                throw ServiceError(.noSuchEntity, "Policy \(arn) version \(versionID) does not exist.")
            }
            if versionID == policy.defaultVersion {
                throw ServiceError(.deleteConflict, "Cannot delete the default version of a policy.")
            }
            try ctx.deletePolicyVersion(policy: policy.name, versionID: versionID)
            return ([:], try ctx.iamState())

        case .listPolicyVersions:
            try r.checkOnly(["PolicyArn", "Marker", "MaxItems"])
            let (arn, policy, state) = try iam.policy()
            try iam.authorize(op, resource: arn)
            guard let policy else { throw IAMRequest.noSuchPolicy(arn) }
            let versions = state.versions.filter { $0.policyName == policy.name }.reversed()
            return (
                try iam.page(
                    versions.map { .map(iam.versionShape($0, policy: policy, withDocument: false)) }, key: "Versions"),
                nil
            )

        case .setDefaultPolicyVersion:
            try r.checkOnly(["PolicyArn", "VersionId"])
            let (arn, policy, state) = try iam.policy()
            let versionID = try r.requiredString("VersionId")
            try iam.authorize(op, resource: arn)
            guard let policy else { throw IAMRequest.noSuchPolicy(arn) }
            guard state.versions.contains(where: { $0.policyName == policy.name && $0.versionID == versionID }) else {
                throw ServiceError(.noSuchEntity, "Policy \(arn) version \(versionID) does not exist.")
            }
            try ctx.updatePolicy(
                name: policy.name, defaultVersion: versionID, nextVersion: policy.nextVersion,
                updatedMs: now.milliseconds)
            return ([:], try ctx.iamState())

        case .attachUserPolicy, .attachGroupPolicy, .attachRolePolicy, .detachUserPolicy, .detachGroupPolicy,
            .detachRolePolicy:
            let kind = IAMRequest.kind(of: op)
            try r.checkOnly([kind.nameKey, "PolicyArn"])
            let name = try iam.principalName(kind)
            let (arn, policy, state) = try iam.policy()
            // IAM's iam:PolicyARN key: which policy may be attached or detached (safe delegation).
            try iam.authorize(op, resource: iam.entityARN(kind, name), requestKeys: ["iam:policyarn": [arn]])
            try iam.requireEntity(kind, name)
            guard let policy else {
                throw ServiceError(.noSuchEntity, "Policy \(arn) does not exist or is not attachable.")
            }
            if op == .attachUserPolicy || op == .attachGroupPolicy || op == .attachRolePolicy {
                let attached = state.attachments.filter { $0.kind == kind && $0.principal == name }
                if !attached.contains(where: { $0.policy == policy.name }) && attached.count >= 10 {
                    throw ServiceError(
                        .limitExceededIAM,
                        "Cannot exceed quota for PoliciesPer\(kind.rawValue.capitalizedFirst): 10")
                }
                try ctx.attach(kind: kind, principal: name, policy: policy.name)
            } else {
                guard try ctx.detach(kind: kind, principal: name, policy: policy.name) else {
                    throw ServiceError(.noSuchEntity, "Policy \(arn) was not found.")
                }
            }
            return ([:], try ctx.iamState())

        case .listAttachedUserPolicies, .listAttachedGroupPolicies, .listAttachedRolePolicies:
            let kind = IAMRequest.kind(of: op)
            try r.checkOnly([kind.nameKey, "PathPrefix", "Marker", "MaxItems"])
            let name = try iam.principalName(kind)
            let prefix = try r.string("PathPrefix") ?? "/"
            try iam.authorize(op, resource: iam.entityARN(kind, name))
            try iam.requireEntity(kind, name)
            let state = try ctx.iamState()
            let attached = state.attachments.filter { $0.kind == kind && $0.principal == name }.compactMap {
                attachment in state.policies.first { $0.name == attachment.policy }
            }.filter { $0.path.hasPrefix(prefix) }
            let entries: [Value] = attached.map {
                .map(["PolicyName": .string($0.name), "PolicyArn": .string(iam.policyARN($0))])
            }
            return (try iam.page(entries, key: "AttachedPolicies"), nil)

        case .createRole:
            try r.checkOnly([
                "RoleName", "AssumeRolePolicyDocument", "Path", "Description", "MaxSessionDuration", "Tags",
                "PermissionsBoundary",
            ])
            let name = try iam.principalName(.role)
            let path = try iam.path()
            let description = try r.string("Description")
            if let description { try Check.length(description, "Description", min: 0, max: 1_000) }
            let trust = try r.string("AssumeRolePolicyDocument")
            if let trust {
                do {
                    _ = try JSONValue.parse(trust)
                } catch {
                    throw ServiceError(.malformedPolicyDocumentIAM, "Syntax errors in policy.")
                }
            }
            let session = try r.int("MaxSessionDuration")
            if let session { try Check.range(session, "MaxSessionDuration", 3_600...43_200) }
            if r["PermissionsBoundary"] != nil {
                throw ServiceError(.invalidInput, "Permissions boundaries are not supported by Coffer.")
            }
            let role = RoleRow(
                name: name, roleID: IAMRequest.uniqueID(prefix: "AROA"), path: path, description: description,
                assumeRolePolicy: trust, maxSessionSeconds: session, createdMs: now.milliseconds)
            try iam.authorize(op, resource: iam.roleARN(role))
            if try ctx.iamState().roles.contains(where: { $0.name == name }) {
                throw ServiceError(.entityAlreadyExists, "Role with name \(name) already exists.")
            }
            try ctx.insertRole(role)
            return (["Role": .map(iam.roleShape(role))], try ctx.iamState())

        case .getRole:
            try r.checkOnly(["RoleName"])
            let name = try iam.principalName(.role)
            try iam.authorize(op, resource: iam.entityARN(.role, name))
            guard let role = try ctx.iamState().roles.first(where: { $0.name == name }) else {
                throw ServiceError(.noSuchEntity, "The role with name \(name) cannot be found.")
            }
            return (["Role": .map(iam.roleShape(role))], nil)

        case .deleteRole:
            try r.checkOnly(["RoleName"])
            let name = try iam.principalName(.role)
            try iam.authorize(op, resource: iam.entityARN(.role, name))
            let state = try ctx.iamState()
            guard state.roles.contains(where: { $0.name == name }) else {
                throw ServiceError(.noSuchEntity, "The role with name \(name) cannot be found.")
            }
            if state.inline.contains(where: { $0.kind == .role && $0.principal == name }) {
                throw ServiceError(.deleteConflict, "Cannot delete entity, must delete policies first.")
            }
            if state.attachments.contains(where: { $0.kind == .role && $0.principal == name }) {
                throw ServiceError(.deleteConflict, "Cannot delete entity, must detach all policies first.")
            }
            try ctx.deleteRole(name: name)
            return ([:], try ctx.iamState())

        case .listRoles:
            try r.checkOnly(["PathPrefix", "Marker", "MaxItems"])
            let prefix = try r.string("PathPrefix") ?? "/"
            try iam.authorize(op, resource: "*")
            let roles = try ctx.iamState().roles.filter { $0.path.hasPrefix(prefix) }
            return (try iam.page(roles.map { .map(iam.roleShape($0)) }, key: "Roles"), nil)

        case .simulateCustomPolicy, .simulatePrincipalPolicy:
            return (try simulate(op, r, iam: iam, access: access), nil)

        default:
            throw ServiceError(.unknownOperation, "\(op.name) is not an IAM operation.")
        }
    }
}

/// One IAM request being handled: parameter parsing, entity checks and response shapes.
struct IAMRequest {
    let vault: Vault
    let request: Document
    let caller: Caller
    let ctx: WriteContext
    let now: Timestamp

    static func kind(of op: Operation) -> PrincipalKind {
        let name = op.name
        if name.contains("User") { return .user }
        if name.contains("Group") { return .group }
        return .role
    }

    func authorize(
        _ op: Operation, resource: String, requestKeys: [String: [String]] = [:]
    ) throws(ServiceError) {
        try vault.authorize(
            caller, op.actionName, secret: nil, tags: nil, resourceLabel: resource, requestKeys: requestKeys)
    }

    /// `UserName`/`GroupName`/`RoleName`, with IAM's character rules (roles also take systemd unit characters).
    func principalName(_ kind: PrincipalKind) throws(ServiceError) -> String {
        let name = try request.requiredString(kind.nameKey)
        let max = kind == .role ? 256 : (kind == .user ? 64 : 128)
        try Check.length(name, kind.nameKey, min: 1, max: max)
        let extra: Set<UInt8> = kind == .role ? [UInt8(ascii: ":"), UInt8(ascii: "\\")] : []
        guard name.utf8.allSatisfy({ IAMRequest.isNameByte($0) || extra.contains($0) }) else {
            throw ServiceError.constraint(
                name, at: Document.fieldPath(kind.nameKey),
                "Member must satisfy regular expression pattern: [\\w+=,.@-]+")
        }
        return name
    }

    func policyName(_ key: String) throws(ServiceError) -> String {
        let name = try request.requiredString(key)
        try Check.length(name, key, min: 1, max: 128)
        guard name.utf8.allSatisfy(IAMRequest.isNameByte) else {
            throw ServiceError.constraint(
                name, at: Document.fieldPath(key), "Member must satisfy regular expression pattern: [\\w+=,.@-]+")
        }
        return name
    }

    static func isNameByte(_ c: UInt8) -> Bool {
        switch c {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "_"), UInt8(ascii: "+"), UInt8(ascii: "="), UInt8(ascii: ","), UInt8(ascii: "."),
            UInt8(ascii: "@"), UInt8(ascii: "-"):
            return true
        default:
            return false
        }
    }

    /// IAM paths: `/` or `/a/b/` of printable ASCII.
    func path() throws(ServiceError) -> String {
        let path = try request.string("Path") ?? "/"
        try Check.length(path, "Path", min: 1, max: 512)
        guard path.hasPrefix("/"), path.hasSuffix("/"), path.utf8.allSatisfy({ $0 >= 0x21 && $0 <= 0x7E }) else {
            throw ServiceError.constraint(
                path, at: "path",
                "Member must satisfy regular expression pattern: (\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)")
        }
        return path
    }

    /// Users and groups are the host's accounts; roles are stored.
    func requireEntity(_ kind: PrincipalKind, _ name: String) throws {
        switch kind {
        case .user:
            guard try Accounts.uid(named: name) != nil else {
                throw ServiceError(.noSuchEntity, "The user with name \(name) cannot be found.")
            }
        case .group:
            guard try Accounts.gid(named: name) != nil else {
                throw ServiceError(.noSuchEntity, "The group with name \(name) cannot be found.")
            }
        case .role:
            guard try ctx.iamState().roles.contains(where: { $0.name == name }) else {
                throw ServiceError(.noSuchEntity, "The role with name \(name) cannot be found.")
            }
        }
    }

    /// The ARN an operation on a user, group or role is authorized on. Users and groups are host accounts (no
    /// path); a role's ARN includes its path, as in IAM (`role/services/myapp.service`).
    func entityARN(_ kind: PrincipalKind, _ name: String) throws -> String {
        if kind == .role, let role = try ctx.iamState().roles.first(where: { $0.name == name }) {
            return roleARN(role)
        }
        return vault.identity.iamARN(kind.rawValue, name)
    }

    func roleARN(_ role: RoleRow) -> String { vault.identity.iamARN("role", String(role.path.dropFirst()) + role.name) }
    func policyARN(_ policy: ManagedPolicyRow) -> String {
        vault.identity.iamARN("policy", String(policy.path.dropFirst()) + policy.name)
    }

    /// Resolves `PolicyArn` to a stored managed policy (nil if none; the ARN is returned for messages).
    func policy() throws -> (String, ManagedPolicyRow?, IAMState) {
        let arn = try request.requiredString("PolicyArn")
        try Check.length(arn, "PolicyArn", min: 20, max: 2_048)
        let state = try ctx.iamState()
        guard let parsed = ARN(parsing: arn), parsed.service == "iam", parsed.partition == vault.identity.partition,
            parsed.account == vault.identity.accountID, parsed.resource.hasPrefix("policy/")
        else {
            if ARN(parsing: arn) == nil {
                throw ServiceError(.invalidInput, "ARN \(arn) is not valid.")
            }
            return (arn, nil, state)
        }
        return (arn, state.policies.first { policyARN($0) == arn }, state)
    }

    static func noSuchPolicy(_ arn: String) -> ServiceError {
        ServiceError(.noSuchEntity, "Policy \(arn) was not found.")
    }

    static func parse(_ text: String, kind: PolicyKind) throws(ServiceError) -> PolicyDocument {
        do {
            return try PolicyDocument.parse(text, kind: kind)
        } catch {
            throw error.serviceError(for: kind)
        }
    }

    /// IAM's unique ids: a 4-letter prefix and 17 upper-case alphanumerics.
    static func uniqueID(prefix: String) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".utf8)
        var rng = SystemRandomNumberGenerator()
        return prefix
            + String(decoding: (0..<17).map { _ in alphabet[Int.random(in: 0..<32, using: &rng)] }, as: UTF8.self)
    }

    /// IAM pagination (`Marker`/`MaxItems`, `IsTruncated`).
    func page(_ items: [Value], key: String) throws(ServiceError) -> Document {
        let maxItems = try request.int("MaxItems") ?? 100
        try Check.range(maxItems, "MaxItems", 1...1_000)
        var start = 0
        if let marker = try request.string("Marker") {
            guard let decoded = Base64.decode(marker).flatMap({ String(validating: $0, as: UTF8.self) }),
                decoded.hasPrefix("m1:"), let offset = Int(decoded.dropFirst(3)), offset >= 0, offset <= items.count
            else { throw ServiceError(.invalidInput, "Invalid Marker.") }
            start = offset
        }
        let end = min(items.count, start + Int(maxItems))
        var doc: Document = [key: .list(Array(items[start..<end])), "IsTruncated": .bool(end < items.count)]
        if end < items.count { doc["Marker"] = .string(Base64.encode(Array("m1:\(end)".utf8))) }
        return doc
    }

    func policyShape(_ policy: ManagedPolicyRow, state: IAMState) -> Document {
        var doc: Document = [
            "PolicyName": .string(policy.name), "PolicyId": .string(policy.policyID), "Arn": .string(policyARN(policy)),
            "Path": .string(policy.path), "DefaultVersionId": .string(policy.defaultVersion),
            "AttachmentCount": .int(Int64(state.attachments.filter { $0.policy == policy.name }.count)),
            "PermissionsBoundaryUsageCount": 0, "IsAttachable": true,
        ]
        if let description = policy.description { doc["Description"] = .string(description) }
        doc["CreateDate"] = .timestamp(Timestamp(milliseconds: policy.createdMs))
        doc["UpdateDate"] = .timestamp(Timestamp(milliseconds: policy.updatedMs))
        return doc
    }

    func versionShape(_ version: PolicyVersionRow, policy: ManagedPolicyRow, withDocument: Bool) -> Document {
        var doc = Document()
        if withDocument { doc["Document"] = .string(version.document) }
        doc["VersionId"] = .string(version.versionID)
        doc["IsDefaultVersion"] = .bool(version.versionID == policy.defaultVersion)
        doc["CreateDate"] = .timestamp(Timestamp(milliseconds: version.createdMs))
        return doc
    }

    func roleShape(_ role: RoleRow) -> Document {
        var doc: Document = [
            "Path": .string(role.path), "RoleName": .string(role.name), "RoleId": .string(role.roleID),
            "Arn": .string(roleARN(role)), "CreateDate": .timestamp(Timestamp(milliseconds: role.createdMs)),
        ]
        if let trust = role.assumeRolePolicy { doc["AssumeRolePolicyDocument"] = .string(trust) }
        if let description = role.description { doc["Description"] = .string(description) }
        doc["MaxSessionDuration"] = .int(role.maxSessionSeconds ?? 3_600)
        return doc
    }
}

extension PrincipalKind {
    var nameKey: String {
        switch self {
        case .user: return "UserName"
        case .group: return "GroupName"
        case .role: return "RoleName"
        }
    }

    var inlineOwner: PolicyKind.InlineOwner {
        switch self {
        case .user: return .user
        case .group: return .group
        case .role: return .role
        }
    }
}

extension String {
    var capitalizedFirst: String { prefix(1).uppercased() + dropFirst() }
}
