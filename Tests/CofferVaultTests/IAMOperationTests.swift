import CofferCore
import CofferPolicy
import CofferProtocol
import Testing

@testable import CofferVault

/// IAM's operations on the admin socket: shapes, IAM's error names, limits, and their own authorization.
@Suite struct IAMOperationTests {
    typealias H = AccessHarness

    static let read = policy(allow("secretsmanager:GetSecretValue"))
    static let unknownUser = "cofft-no-such-user"

    /// (kind, name key, the Put/Get/Delete/List operations, an existing entity).
    static let inlineKinds: [(String, String, [Operation], String)] = [
        ("user", "UserName", [.putUserPolicy, .getUserPolicy, .deleteUserPolicy, .listUserPolicies], "bin"),
        ("group", "GroupName", [.putGroupPolicy, .getGroupPolicy, .deleteGroupPolicy, .listGroupPolicies], "staff"),
        ("role", "RoleName", [.putRolePolicy, .getRolePolicy, .deleteRolePolicy, .listRolePolicies], "myapp.service"),
    ]

    @Test(arguments: 0..<3)
    func inlinePolicies(_ index: Int) throws {
        let (kind, key, ops, entity) = IAMOperationTests.inlineKinds[index]
        let (put, get, delete, list) = (ops[0], ops[1], ops[2], ops[3])
        let h = try H()
        try h.createRole("myapp.service")
        let name = Value.string(entity)
        func request(_ policyName: String, _ document: String? = nil) -> Document {
            var doc: Document = [key: name, "PolicyName": .string(policyName)]
            if let document { doc["PolicyDocument"] = .string(document) }
            return doc
        }
        #expect(try h.iamOK(put, request("read", IAMOperationTests.read)).keys.isEmpty)
        try h.iamOK(put, request("describe", policy(allow("secretsmanager:DescribeSecret"))))
        // Put replaces a policy of the same name.
        try h.iamOK(put, request("read", policy(allow("secretsmanager:GetSecretValue", "secretsmanager:ListSecrets"))))
        let got = try h.iamOK(get, request("read"))
        #expect(got.keys.sorted() == [key, "PolicyDocument", "PolicyName"].sorted())
        #expect(got[key]?.stringValue == entity)
        #expect(got["PolicyDocument"]?.stringValue?.contains("secretsmanager:ListSecrets") == true)
        let listed = try h.iamOK(list, [key: name])
        #expect(listed.strings("PolicyNames").sorted() == ["describe", "read"])
        #expect(listed["IsTruncated"]?.boolValue == false)
        // Pagination.
        let first = try h.iamOK(list, [key: name, "MaxItems": 1])
        #expect(first["IsTruncated"]?.boolValue == true)
        let marker = first["Marker"] ?? .string("")
        let second = try h.iamOK(list, [key: name, "MaxItems": 1, "Marker": marker])
        #expect(first.strings("PolicyNames") + second.strings("PolicyNames") == listed.strings("PolicyNames"))
        #expect(second["Marker"] == nil)
        h.iamFails(list, [key: name, "Marker": "garbage"], .invalidInput)
        // Delete; then the policy is gone.
        try h.iamOK(delete, request("read"))
        let message = h.iamFails(get, request("read"), .noSuchEntity)
        #expect(message == "The \(kind) policy with name read cannot be found.")
        h.iamFails(delete, request("read"), .noSuchEntity)
        #expect(try h.iamOK(list, [key: name]).strings("PolicyNames") == ["describe"])
        // The entity must exist (users and groups are host accounts; roles are stored).
        var unknown = request("x", IAMOperationTests.read)
        unknown[key] = "cofft-nonexistent"
        #expect(h.iamFails(put, unknown, .noSuchEntity).contains("cofft-nonexistent cannot be found"))
        h.iamFails(list, [key: "cofft-nonexistent"], .noSuchEntity)
        // Malformed documents, IAM's names and messages.
        #expect(h.iamFails(put, request("bad", "{"), .malformedPolicyDocumentIAM) == "Syntax errors in policy.")
        let withPrincipal = policy(#"{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}"#)
        #expect(
            h.iamFails(put, request("bad", withPrincipal), .malformedPolicyDocumentIAM)
                == "Policy document should not specify a principal.")
        h.iamFails(
            put, request("bad", #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Resource":"*"}]}"#),
            .malformedPolicyDocumentIAM)
        // Request constraints are ValidationError on IAM's socket.
        h.iamFails(put, request("bad name", IAMOperationTests.read), .validationIAM)
        var badEntity = request("x", IAMOperationTests.read)
        badEntity[key] = "bad/name"
        h.iamFails(put, badEntity, .validationIAM)
        h.iamFails(put, [key: name, "PolicyName": "x"], .validationIAM)  // PolicyDocument missing
        h.iamFails(put, request("x", IAMOperationTests.read).adding("Extra", 1), .validationIAM)
    }

    @Test(arguments: zip(0..<3, [2_048, 5_120, 10_240]))
    func inlineAggregateSizeLimit(_ index: Int, _ quota: Int) throws {
        let h = try H()
        try h.createRole("myapp.service")
        let (kind, key, ops, entity) = IAMOperationTests.inlineKinds[index]
        /// A policy whose size (whitespace not counted) is exactly `size`.
        func sized(_ size: Int) -> String {
            let base = policy(#"{"Sid":"S","Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"*"}"#)
            let pad = size - PolicyLimits.quotaSize(of: base)
            return base.replacing(#""Sid":"S""#, with: #""Sid":"S\#(String(repeating: "a", count: pad))""#)
        }
        let half = quota / 2
        try h.iamOK(ops[0], [key: .string(entity), "PolicyName": "one", "PolicyDocument": .string(sized(half))])
        // Whitespace is not counted.
        let spaced = sized(quota - half).replacing(",", with: " ,\n\t ")
        try h.iamOK(ops[0], [key: .string(entity), "PolicyName": "two", "PolicyDocument": .string(spaced)])
        let message = h.iamFails(
            ops[0], [key: .string(entity), "PolicyName": "three", "PolicyDocument": .string(sized(200))],
            .limitExceededIAM)
        #expect(message == "Maximum policy size of \(quota) bytes exceeded for \(kind) \(entity)")
        // Replacing a policy counts the new text instead of the old one.
        try h.iamOK(ops[0], [key: .string(entity), "PolicyName": "two", "PolicyDocument": .string(sized(200))])
        try h.iamOK(ops[0], [key: .string(entity), "PolicyName": "three", "PolicyDocument": .string(sized(200))])
    }

    @Test func managedPolicies() throws {
        let h = try H()
        let created = try h.iamOK(
            .createPolicy,
            [
                "PolicyName": "readers", "Path": "/team/", "Description": "read all",
                "PolicyDocument": .string(IAMOperationTests.read),
            ])
        let shape = created["Policy"]?.mapValue ?? [:]
        let arn = h.policyARN("readers", path: "/team/")
        #expect(arn == "arn:coffer:iam::123456789012:policy/team/readers")
        #expect(shape["Arn"]?.stringValue == arn)
        #expect(shape["PolicyName"]?.stringValue == "readers")
        #expect(shape["Path"]?.stringValue == "/team/")
        #expect(shape["DefaultVersionId"]?.stringValue == "v1")
        #expect(shape["AttachmentCount"]?.intValue == 0)
        #expect(shape["IsAttachable"]?.boolValue == true)
        #expect(shape["Description"]?.stringValue == "read all")
        #expect(shape["PolicyId"]?.stringValue?.hasPrefix("ANPA") == true)
        #expect(shape["PolicyId"]?.stringValue?.count == 21)
        #expect(try h.iamOK(.getPolicy, ["PolicyArn": .string(arn)])["Policy"]?.mapValue?["Arn"]?.stringValue == arn)
        // Duplicate names (any path) are refused.
        let duplicate = h.iamFails(
            .createPolicy, ["PolicyName": "readers", "PolicyDocument": .string(IAMOperationTests.read)],
            .entityAlreadyExists)
        #expect(duplicate == "A policy called readers already exists. Duplicate names are not allowed.")
        // Managed policies require Version 2012-10-17 and at most 6,144 characters.
        #expect(
            h.iamFails(
                .createPolicy,
                [
                    "PolicyName": "old",
                    "PolicyDocument": #"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#,
                ], .malformedPolicyDocumentIAM) == "Policy document must be version 2012-10-17 or greater.")
        let big = policy(
            #"{"Sid":"\#(String(repeating: "a", count: 6_144))","Effect":"Allow","Action":"s3:*","Resource":"*"}"#)
        #expect(
            h.iamFails(.createPolicy, ["PolicyName": "big", "PolicyDocument": .string(big)], .limitExceededIAM)
                == "Cannot exceed quota for PolicySize: 6144")
        h.iamFails(
            .createPolicy, ["PolicyName": "p", "Path": "team", "PolicyDocument": .string(IAMOperationTests.read)],
            .validationIAM)
        // Unknown and malformed ARNs.
        let missing = h.policyARN("nope")
        #expect(
            h.iamFails(.getPolicy, ["PolicyArn": .string(missing)], .noSuchEntity) == "Policy \(missing) was not found."
        )
        h.iamFails(.getPolicy, ["PolicyArn": "not-an-arn-at-all-really"], .invalidInput)
        h.iamFails(.getPolicy, ["PolicyArn": "arn:aws:iam::123456789012:policy/readers"], .noSuchEntity)
        // ListPolicies: scope, path prefix, only attached.
        try h.iamOK(.createPolicy, ["PolicyName": "writers", "PolicyDocument": .string(IAMOperationTests.read)])
        func listed(_ request: Document) throws -> [String] {
            (try h.iamOK(.listPolicies, request)["Policies"]?.listValue ?? []).compactMap {
                $0.mapValue?["PolicyName"]?.stringValue
            }
        }
        #expect(try listed([:]).sorted() == ["readers", "writers"])
        #expect(try listed(["Scope": "Local"]).sorted() == ["readers", "writers"])
        #expect(try listed(["Scope": "AWS"]).isEmpty)
        #expect(try listed(["PathPrefix": "/team/"]) == ["readers"])
        #expect(try listed(["OnlyAttached": true]).isEmpty)
        h.iamFails(.listPolicies, ["Scope": "Mine"], .validationIAM)
        try h.iamOK(.attachGroupPolicy, ["GroupName": "staff", "PolicyArn": .string(arn)])
        #expect(try listed(["OnlyAttached": true]) == ["readers"])
        #expect(
            try h.iamOK(.getPolicy, ["PolicyArn": .string(arn)])["Policy"]?.mapValue?["AttachmentCount"]?.intValue == 1)
        // DeletePolicy: not while attached.
        #expect(
            h.iamFails(.deletePolicy, ["PolicyArn": .string(arn)], .deleteConflict)
                == "Cannot delete a policy attached to entities.")
        try h.iamOK(.detachGroupPolicy, ["GroupName": "staff", "PolicyArn": .string(arn)])
        try h.iamOK(.deletePolicy, ["PolicyArn": .string(arn)])
        h.iamFails(.getPolicy, ["PolicyArn": .string(arn)], .noSuchEntity)
        h.iamFails(.deletePolicy, ["PolicyArn": .string(arn)], .noSuchEntity)
    }

    @Test func policyVersions() throws {
        let h = try H()
        try h.iamOK(.createPolicy, ["PolicyName": "p", "PolicyDocument": .string(IAMOperationTests.read)])
        let arn = Value.string(h.policyARN("p"))
        for n in 2...5 {
            let created = try h.iamOK(
                .createPolicyVersion,
                [
                    "PolicyArn": arn, "SetAsDefault": .bool(n == 3),
                    "PolicyDocument": .string(policy(allow("secretsmanager:Describe\(n)"))),
                ])
            #expect(created["PolicyVersion"]?.mapValue?["VersionId"]?.stringValue == "v\(n)")
            #expect(created["PolicyVersion"]?.mapValue?["IsDefaultVersion"]?.boolValue == (n == 3))
        }
        let sixth = h.iamFails(
            .createPolicyVersion, ["PolicyArn": arn, "PolicyDocument": .string(IAMOperationTests.read)],
            .limitExceededIAM)
        #expect(sixth.hasPrefix("A managed policy can have up to 5 versions."))
        // Newest first; only the default is marked; the list carries no documents.
        let versions = (try h.iamOK(.listPolicyVersions, ["PolicyArn": arn])["Versions"]?.listValue ?? []).compactMap(
            \.mapValue)
        #expect(versions.map { $0["VersionId"]?.stringValue } == ["v5", "v4", "v3", "v2", "v1"])
        #expect(versions.map { $0["IsDefaultVersion"]?.boolValue } == [false, false, true, false, false])
        #expect(versions.allSatisfy { $0["Document"] == nil })
        #expect(
            try h.iamOK(.getPolicy, ["PolicyArn": arn])["Policy"]?.mapValue?["DefaultVersionId"]?.stringValue == "v3")
        let v4 = try h.iamOK(.getPolicyVersion, ["PolicyArn": arn, "VersionId": "v4"])["PolicyVersion"]?.mapValue
        #expect(v4?["Document"]?.stringValue == policy(allow("secretsmanager:Describe4")))
        #expect(v4?["IsDefaultVersion"]?.boolValue == false)
        h.iamFails(.getPolicyVersion, ["PolicyArn": arn, "VersionId": "v9"], .noSuchEntity)
        // The default version cannot be deleted; others can, making room for a new one (numbers are not reused).
        #expect(
            h.iamFails(.deletePolicyVersion, ["PolicyArn": arn, "VersionId": "v3"], .deleteConflict)
                == "Cannot delete the default version of a policy.")
        try h.iamOK(.deletePolicyVersion, ["PolicyArn": arn, "VersionId": "v2"])
        h.iamFails(.deletePolicyVersion, ["PolicyArn": arn, "VersionId": "v2"], .noSuchEntity)
        let next = try h.iamOK(
            .createPolicyVersion, ["PolicyArn": arn, "PolicyDocument": .string(IAMOperationTests.read)])
        #expect(next["PolicyVersion"]?.mapValue?["VersionId"]?.stringValue == "v6")
        // SetDefaultPolicyVersion.
        try h.iamOK(.setDefaultPolicyVersion, ["PolicyArn": arn, "VersionId": "v6"])
        #expect(
            try h.iamOK(.getPolicy, ["PolicyArn": arn])["Policy"]?.mapValue?["DefaultVersionId"]?.stringValue == "v6")
        h.iamFails(.setDefaultPolicyVersion, ["PolicyArn": arn, "VersionId": "v2"], .noSuchEntity)
        // A new version is validated like a policy.
        h.iamFails(.createPolicyVersion, ["PolicyArn": arn, "PolicyDocument": "[]"], .malformedPolicyDocumentIAM)
        // DeletePolicy refuses while non-default versions exist.
        #expect(
            h.iamFails(.deletePolicy, ["PolicyArn": arn], .deleteConflict).hasPrefix(
                "This policy has more than one version."))
        for version in ["v1", "v3", "v4", "v5"] {
            try h.iamOK(.deletePolicyVersion, ["PolicyArn": arn, "VersionId": .string(version)])
        }
        try h.iamOK(.deletePolicy, ["PolicyArn": arn])
        h.iamFails(.listPolicyVersions, ["PolicyArn": arn], .noSuchEntity)
    }

    static let attachmentKinds: [(String, String, [Operation])] = [
        ("UserName", "bin", [.attachUserPolicy, .detachUserPolicy, .listAttachedUserPolicies]),
        ("GroupName", "staff", [.attachGroupPolicy, .detachGroupPolicy, .listAttachedGroupPolicies]),
        ("RoleName", "myapp.service", [.attachRolePolicy, .detachRolePolicy, .listAttachedRolePolicies]),
    ]

    @Test(arguments: 0..<3)
    func attachments(_ index: Int) throws {
        let (key, entity, ops) = IAMOperationTests.attachmentKinds[index]
        let (attach, detach, list) = (ops[0], ops[1], ops[2])
        let h = try H()
        try h.createRole("myapp.service")
        let name = Value.string(entity)
        for n in 1...11 {
            try h.iamOK(
                .createPolicy,
                [
                    "PolicyName": .string("p\(n)"), "Path": n == 1 ? "/special/" : "/",
                    "PolicyDocument": .string(IAMOperationTests.read),
                ])
        }
        func arn(_ n: Int) -> Value { .string(h.policyARN("p\(n)", path: n == 1 ? "/special/" : "/")) }
        for n in 1...10 { try h.iamOK(attach, [key: name, "PolicyArn": arn(n)]) }
        // Attaching again is a no-op, even at the limit; an 11th is refused.
        try h.iamOK(attach, [key: name, "PolicyArn": arn(3)])
        let kindName = key.replacing("Name", with: "")
        #expect(
            h.iamFails(attach, [key: name, "PolicyArn": arn(11)], .limitExceededIAM)
                == "Cannot exceed quota for PoliciesPer\(kindName): 10")
        let attached = (try h.iamOK(list, [key: name])["AttachedPolicies"]?.listValue ?? []).compactMap(\.mapValue)
        #expect(attached.count == 10)
        #expect(attached.first?["PolicyArn"]?.stringValue == h.policyARN("p1", path: "/special/"))
        #expect(try h.iamOK(list, [key: name, "PathPrefix": "/special/"])["AttachedPolicies"]?.listValue?.count == 1)
        try h.iamOK(detach, [key: name, "PolicyArn": arn(3)])
        h.iamFails(detach, [key: name, "PolicyArn": arn(3)], .noSuchEntity)
        try h.iamOK(attach, [key: name, "PolicyArn": arn(11)])
        // Unknown policy or entity.
        h.iamFails(attach, [key: name, "PolicyArn": .string(h.policyARN("nope"))], .noSuchEntity)
        h.iamFails(attach, [key: "cofft-nonexistent", "PolicyArn": arn(1)], .noSuchEntity)
        h.iamFails(list, [key: "cofft-nonexistent"], .noSuchEntity)
    }

    @Test func roles() throws {
        let h = try H()
        let created = try h.iamOK(
            .createRole,
            [
                "RoleName": "myapp.service", "Path": "/services/", "Description": "the app",
                "MaxSessionDuration": 7_200,
            ])
        let role = created["Role"]?.mapValue ?? [:]
        #expect(role["Arn"]?.stringValue == "arn:coffer:iam::123456789012:role/services/myapp.service")
        #expect(role["RoleName"]?.stringValue == "myapp.service")
        #expect(role["RoleId"]?.stringValue?.hasPrefix("AROA") == true)
        #expect(role["Path"]?.stringValue == "/services/")
        #expect(role["Description"]?.stringValue == "the app")
        #expect(role["MaxSessionDuration"]?.intValue == 7_200)
        #expect(
            h.iamFails(.createRole, ["RoleName": "myapp.service"], .entityAlreadyExists)
                == "Role with name myapp.service already exists.")
        // Unit names with "@", and ":"/"\\" from systemd's escaping, are valid role names.
        try h.createRole("worker@1.service")
        try h.createRole(#"mnt-data\x2dold.mount"#)
        #expect(try h.iamOK(.getRole, ["RoleName": "worker@1.service"])["Role"]?.mapValue?["Path"]?.stringValue == "/")
        h.iamFails(.getRole, ["RoleName": "nope.service"], .noSuchEntity)
        func names(_ request: Document) throws -> [String] {
            (try h.iamOK(.listRoles, request)["Roles"]?.listValue ?? []).compactMap {
                $0.mapValue?["RoleName"]?.stringValue
            }
        }
        #expect(try names([:]).count == 3)
        #expect(try names(["PathPrefix": "/services/"]) == ["myapp.service"])
        // Input checks.
        h.iamFails(.createRole, ["RoleName": "x.service", "PermissionsBoundary": "arn:x"], .invalidInput)
        h.iamFails(
            .createRole, ["RoleName": "x.service", "AssumeRolePolicyDocument": "{"], .malformedPolicyDocumentIAM)
        h.iamFails(.createRole, ["RoleName": "x.service", "MaxSessionDuration": 60], .validationIAM)
        h.iamFails(.createRole, ["RoleName": "bad/name"], .validationIAM)
        h.iamFails(.createRole, ["RoleName": .string(String(repeating: "r", count: 257))], .validationIAM)
        // DeleteRole: not while it has inline or attached policies.
        try h.putRolePolicy("myapp.service", IAMOperationTests.read)
        #expect(
            h.iamFails(.deleteRole, ["RoleName": "myapp.service"], .deleteConflict)
                == "Cannot delete entity, must delete policies first.")
        try h.iamOK(.deleteRolePolicy, ["RoleName": "myapp.service", "PolicyName": "p"])
        try h.iamOK(.createPolicy, ["PolicyName": "m", "PolicyDocument": .string(IAMOperationTests.read)])
        try h.iamOK(.attachRolePolicy, ["RoleName": "myapp.service", "PolicyArn": .string(h.policyARN("m"))])
        #expect(
            h.iamFails(.deleteRole, ["RoleName": "myapp.service"], .deleteConflict)
                == "Cannot delete entity, must detach all policies first.")
        try h.iamOK(.detachRolePolicy, ["RoleName": "myapp.service", "PolicyArn": .string(h.policyARN("m"))])
        try h.iamOK(.deleteRole, ["RoleName": "myapp.service"])
        h.iamFails(.deleteRole, ["RoleName": "myapp.service"], .noSuchEntity)
        h.iamFails(
            .putRolePolicy,
            ["RoleName": "myapp.service", "PolicyName": "p", "PolicyDocument": .string(IAMOperationTests.read)],
            .noSuchEntity)
    }

    /// One well-formed request per IAM operation (the entities exist, so only authorization can fail).
    static func everyOperation(_ h: H) -> [(Operation, Document)] {
        let doc = Value.string(IAMOperationTests.read)
        let arn = Value.string(h.policyARN("m"))
        return [
            (.putUserPolicy, ["UserName": "bin", "PolicyName": "x", "PolicyDocument": doc]),
            (.getUserPolicy, ["UserName": "sys", "PolicyName": "p"]),
            (.deleteUserPolicy, ["UserName": "sys", "PolicyName": "p"]),
            (.listUserPolicies, ["UserName": "sys"]),
            (.putGroupPolicy, ["GroupName": "staff", "PolicyName": "x", "PolicyDocument": doc]),
            (.getGroupPolicy, ["GroupName": "staff", "PolicyName": "p"]),
            (.deleteGroupPolicy, ["GroupName": "staff", "PolicyName": "p"]),
            (.listGroupPolicies, ["GroupName": "staff"]),
            (.putRolePolicy, ["RoleName": "myapp.service", "PolicyName": "x", "PolicyDocument": doc]),
            (.getRolePolicy, ["RoleName": "myapp.service", "PolicyName": "p"]),
            (.deleteRolePolicy, ["RoleName": "myapp.service", "PolicyName": "p"]),
            (.listRolePolicies, ["RoleName": "myapp.service"]),
            (.createPolicy, ["PolicyName": "new", "PolicyDocument": doc]),
            (.getPolicy, ["PolicyArn": arn]),
            (.deletePolicy, ["PolicyArn": arn]),
            (.listPolicies, [:]),
            (.createPolicyVersion, ["PolicyArn": arn, "PolicyDocument": doc]),
            (.getPolicyVersion, ["PolicyArn": arn, "VersionId": "v1"]),
            (.deletePolicyVersion, ["PolicyArn": arn, "VersionId": "v1"]),
            (.listPolicyVersions, ["PolicyArn": arn]),
            (.setDefaultPolicyVersion, ["PolicyArn": arn, "VersionId": "v1"]),
            (.attachUserPolicy, ["UserName": "sys", "PolicyArn": arn]),
            (.detachUserPolicy, ["UserName": "sys", "PolicyArn": arn]),
            (.listAttachedUserPolicies, ["UserName": "sys"]),
            (.attachGroupPolicy, ["GroupName": "staff", "PolicyArn": arn]),
            (.detachGroupPolicy, ["GroupName": "staff", "PolicyArn": arn]),
            (.listAttachedGroupPolicies, ["GroupName": "staff"]),
            (.attachRolePolicy, ["RoleName": "myapp.service", "PolicyArn": arn]),
            (.detachRolePolicy, ["RoleName": "myapp.service", "PolicyArn": arn]),
            (.listAttachedRolePolicies, ["RoleName": "myapp.service"]),
            (.createRole, ["RoleName": "new.service"]),
            (.getRole, ["RoleName": "myapp.service"]),
            (.deleteRole, ["RoleName": "myapp.service"]),
            (.listRoles, [:]),
            (
                .simulateCustomPolicy,
                ["PolicyInputList": [doc], "ActionNames": ["secretsmanager:GetSecretValue"]]
            ),
            (
                .simulatePrincipalPolicy,
                [
                    "PolicySourceArn": .string(h.userARN("sys")),
                    "ActionNames": ["secretsmanager:GetSecretValue"],
                ]
            ),
        ]
    }

    @Test func everyIAMOperationIsDeniedToNonAdministrators() throws {
        let h = try H()
        try h.createRole("myapp.service")
        try h.iamOK(.createPolicy, ["PolicyName": "m", "PolicyDocument": .string(IAMOperationTests.read)])
        try h.putUserPolicy("bin", policy(allow("secretsmanager:*")))  // all of Secrets Manager is not IAM
        let all = IAMOperationTests.everyOperation(h)
        #expect(Set(all.map(\.0)) == Set(Operation.allCases.filter { $0.service == .iam }))
        for (op, request) in all {
            let message = h.iamFails(op, request, .accessDenied, as: H.bin)
            #expect(message.contains("is not authorized to perform: iam:\(op.name)"), "\(message)")
            h.iamFails(op, request, .accessDenied, as: H.inUnit(H.bin, "myapp.service"))
        }
        // Root (the administrator) passes authorization for each of them (some then fail on state, e.g. deleting
        // the role's attached policy before the role).
        for (op, request) in all {
            let result = h.iam(op, request)
            #expect(result.failureCode != .accessDenied, "\(op.name): \(result)")
        }
    }

    @Test func administrationCanBeDelegated() throws {
        let h = try H()
        try h.create("app/db", "db-pass")
        try h.iamOK(.createPolicy, ["PolicyName": "readers", "PolicyDocument": .string(IAMOperationTests.read)])
        // daemon may manage the policies of users whose names start with "s" (here: sys), but not its own.
        try h.putUserPolicy(
            "daemon",
            policy(
                allow(
                    "iam:PutUserPolicy", "iam:GetUserPolicy", "iam:AttachUserPolicy", "iam:ListAttachedUserPolicies",
                    on: ["arn:coffer:iam::123456789012:user/s*"]),
                deny("iam:*", on: ["arn:coffer:iam::123456789012:user/${aws:username}"])))
        try h.iamOK(
            .putUserPolicy,
            ["UserName": "sys", "PolicyName": "read", "PolicyDocument": .string(IAMOperationTests.read)],
            as: H.daemon)
        #expect(try h.value("app/db", as: H.sys) == "db-pass")
        try h.iamOK(.getUserPolicy, ["UserName": "sys", "PolicyName": "read"], as: H.daemon)
        try h.iamOK(
            .attachUserPolicy, ["UserName": "sys", "PolicyArn": .string(h.policyARN("readers"))], as: H.daemon)
        // Not other users, not itself, not groups, not other IAM actions.
        let doc = Value.string(policy(allow("*")))
        h.iamFails(
            .putUserPolicy, ["UserName": "bin", "PolicyName": "x", "PolicyDocument": doc], .accessDenied, as: H.daemon)
        h.iamFails(
            .putUserPolicy, ["UserName": "daemon", "PolicyName": "x", "PolicyDocument": doc], .accessDenied,
            as: H.daemon)
        h.iamFails(
            .putGroupPolicy, ["GroupName": "staff", "PolicyName": "x", "PolicyDocument": doc], .accessDenied,
            as: H.daemon)
        h.iamFails(.deleteUserPolicy, ["UserName": "sys", "PolicyName": "read"], .accessDenied, as: H.daemon)
        h.iamFails(.createPolicy, ["PolicyName": "mine", "PolicyDocument": doc], .accessDenied, as: H.daemon)
        // Delegation does not reach the secrets: daemon itself still cannot read.
        h.denied(.getSecretValue, ["SecretId": "app/db"], as: H.daemon)
        // The delegate's errors after authorization are the usual ones.
        h.iamFails(.getUserPolicy, ["UserName": "sys", "PolicyName": "nope"], .noSuchEntity, as: H.daemon)
        h.iamFails(
            .putUserPolicy, ["UserName": "sync", "PolicyName": "x", "PolicyDocument": "{"], .malformedPolicyDocumentIAM,
            as: H.daemon)
    }

    @Test func roleOperationsAreAuthorizedOnTheRoleARNWithItsPath() throws {
        // As in IAM, a role's ARN includes its path, and that is the resource of every operation on the role: a
        // delegation scoped to role/services/* reaches the roles created under /services/.
        let h = try H()
        try h.iamOK(.createRole, ["RoleName": "myapp.service", "Path": "/services/"])
        try h.iamOK(.createPolicy, ["PolicyName": "m", "PolicyDocument": .string(IAMOperationTests.read)])
        try h.putUserPolicy(
            "daemon", policy(allow("iam:*Role*", on: ["arn:coffer:iam::123456789012:role/services/*"])))
        let role: Value = "myapp.service"
        let requests: [(Operation, Document)] = [
            (.getRole, ["RoleName": role]),
            (.putRolePolicy, ["RoleName": role, "PolicyName": "p", "PolicyDocument": .string(IAMOperationTests.read)]),
            (.getRolePolicy, ["RoleName": role, "PolicyName": "p"]),
            (.listRolePolicies, ["RoleName": role]),
            (.deleteRolePolicy, ["RoleName": role, "PolicyName": "p"]),
            (.attachRolePolicy, ["RoleName": role, "PolicyArn": .string(h.policyARN("m"))]),
            (.listAttachedRolePolicies, ["RoleName": role]),
            (.detachRolePolicy, ["RoleName": role, "PolicyArn": .string(h.policyARN("m"))]),
            (.deleteRole, ["RoleName": role]),
        ]
        for (op, request) in requests {
            #expect((try? h.iam(op, request, as: H.daemon).get()) != nil, "\(op.name): \(h.iam(op, request))")
        }
        // And a role outside the path is out of reach.
        try h.iamOK(.createRole, ["RoleName": "other.service"])
        h.iamFails(.getRole, ["RoleName": "other.service"], .accessDenied, as: H.daemon)
    }

    @Test func attachingIsConditionalOnThePolicyARN() throws {
        // IAM's iam:PolicyARN key: a delegate may attach only the policies it is given, not an administrator one.
        let h = try H()
        try h.iamOK(.createPolicy, ["PolicyName": "readers", "PolicyDocument": .string(IAMOperationTests.read)])
        try h.iamOK(.createPolicy, ["PolicyName": "admin", "PolicyDocument": .string(policy(allow("*")))])
        try h.putUserPolicy(
            "daemon",
            policy(
                allow(
                    "iam:AttachUserPolicy", "iam:DetachUserPolicy",
                    on: ["arn:coffer:iam::123456789012:user/*"],
                    when: #"{"ArnEquals":{"iam:PolicyARN":"arn:coffer:iam::123456789012:policy/readers"}}"#)))
        try h.iamOK(.attachUserPolicy, ["UserName": "sys", "PolicyArn": .string(h.policyARN("readers"))], as: H.daemon)
        try h.iamOK(.detachUserPolicy, ["UserName": "sys", "PolicyArn": .string(h.policyARN("readers"))], as: H.daemon)
        h.iamFails(
            .attachUserPolicy, ["UserName": "sys", "PolicyArn": .string(h.policyARN("admin"))], .accessDenied,
            as: H.daemon)
        h.iamFails(
            .attachUserPolicy, ["UserName": "daemon", "PolicyArn": .string(h.policyARN("admin"))], .accessDenied,
            as: H.daemon)
    }

    @Test func iamRequiresTheAccessController() throws {
        let h = try Harness()  // AllowAllAuthorizer: no IAM engine
        let result = OneShot<Result<Document, ServiceError>>()
        h.vault.handleIAM(.listRoles, [:], caller: .system) { result.fulfill($0) }
        #expect(result.wait().failureCode == .invalidRequest)
    }
}

extension Document {
    func adding(_ key: String, _ value: Value) -> Document {
        var copy = self
        copy[key] = value
        return copy
    }
}
