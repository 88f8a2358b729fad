import CofferCore
import CofferProtocol
import Testing

@testable import CofferVault

/// Who a request is decided for (docs/POLICY.md, "Principals"): users with their connect-time groups, roles for
/// systemd units, root as administrator (or not), and how explicit Deny, NotAction and NotResource combine.
@Suite struct AccessPrincipalTests {
    typealias H = AccessHarness

    @Test func onAFreshVaultOnlyRootCanDoAnything() throws {
        let h = try H()
        try h.create("app/db", "s3cret")
        for caller in [H.daemon, H.bin, H.sys] {
            h.denied(.getSecretValue, ["SecretId": "app/db"], as: caller)
            h.denied(.describeSecret, ["SecretId": "app/db"], as: caller)
            h.denied(.putSecretValue, ["SecretId": "app/db", "SecretString": "x"], as: caller)
            h.denied(.deleteSecret, ["SecretId": "app/db"], as: caller)
            h.denied(.createSecret, ["Name": "mine", "SecretString": "x"], as: caller)
            h.denied(.listSecrets, [:], as: caller)
            h.denied(.getRandomPassword, [:], as: caller)
            h.denied(.batchGetSecretValue, ["SecretIdList": ["app/db"]], as: caller)
        }
        #expect(try h.value("app/db", as: H.root) == "s3cret")
        #expect(try h.ok(.listSecrets, [:])["SecretList"]?.listValue?.count == 1)
    }

    @Test func deniedMessageNamesThePrincipalActionAndResource() throws {
        let h = try H()
        try h.create("app/db")
        let message = h.denied(.getSecretValue, ["SecretId": "app/db"], as: H.bin)
        #expect(
            message
                == "User: arn:coffer:iam::123456789012:user/bin is not authorized to perform: "
                + "secretsmanager:GetSecretValue on resource: \(h.secretPrefix)app/db")
    }

    @Test func aUserPolicyGrantsExactlyWhatItSays() throws {
        let h = try H()
        try h.create("app/db", "db-pass")
        try h.create("app/other", "other")
        try h.putUserPolicy(
            "bin", policy(allow("secretsmanager:GetSecretValue", on: [h.secretPrefix + "app/db-??????"])))
        #expect(try h.value("app/db", as: H.bin) == "db-pass")
        // By name, partial ARN and full ARN alike.
        let arn = try h.ok(.describeSecret, ["SecretId": "app/db"])["ARN"]?.stringValue ?? ""
        #expect(try h.ok(.getSecretValue, ["SecretId": .string(arn)], as: H.bin)["Name"]?.stringValue == "app/db")
        #expect(
            try h.ok(.getSecretValue, ["SecretId": .string(h.secretPrefix + "app/db")], as: H.bin)["Name"]?.stringValue
                == "app/db")
        // Nothing else: another secret, another action, another user.
        h.denied(.getSecretValue, ["SecretId": "app/other"], as: H.bin)
        h.denied(.describeSecret, ["SecretId": "app/db"], as: H.bin)
        h.denied(.putSecretValue, ["SecretId": "app/db", "SecretString": "x"], as: H.bin)
        h.denied(.listSecrets, [:], as: H.bin)
        h.denied(.getSecretValue, ["SecretId": "app/db"], as: H.sys)
        h.denied(.getSecretValue, ["SecretId": "app/db"], as: H.daemon)
    }

    @Test func aGroupPolicyReachesMembersOnly() throws {
        let h = try H()
        try h.create("team/key", "k")
        try h.putGroupPolicy("staff", policy(allow("secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret")))
        #expect(try h.value("team/key", as: H.daemon) == "k")  // daemon is in staff at connect
        h.denied(.getSecretValue, ["SecretId": "team/key"], as: H.bin)
        h.denied(.getSecretValue, ["SecretId": "team/key"], as: H.sys)
        // Membership is what the kernel pinned at connect (SO_PEERGROUPS), not the group database: the same user
        // connecting without `staff` in its groups gets nothing.
        let withoutStaff = Caller(uid: 1, gid: 1, pid: 9, userName: "daemon", groupNames: ["daemon"])
        h.denied(.getSecretValue, ["SecretId": "team/key"], as: withoutStaff)
        // And a user who is not in the group database's `staff` but connected with it (setgroups) is a member.
        let sysWithStaff = Caller(uid: 3, gid: 3, groups: [50], pid: 9, userName: "sys", groupNames: ["sys", "staff"])
        #expect(try h.value("team/key", as: sysWithStaff) == "k")
    }

    @Test func aSystemdUnitWithARoleActsAsTheRole() throws {
        let h = try H()
        try h.create("app/db", "db-pass")
        try h.createRole("myapp.service")
        try h.putRolePolicy(
            "myapp.service", policy(allow("secretsmanager:GetSecretValue", on: [h.secretPrefix + "app/db-??????"])))
        // bin's own policy allows DescribeSecret; inside the unit, the role's policies apply instead of the user's.
        try h.putUserPolicy("bin", policy(allow("secretsmanager:DescribeSecret")))
        let binInUnit = H.inUnit(H.bin, "myapp.service")
        #expect(try h.value("app/db", as: binInUnit) == "db-pass")
        let message = h.denied(.describeSecret, ["SecretId": "app/db"], as: binInUnit)
        #expect(message.hasPrefix("User: arn:coffer:iam::123456789012:role/myapp.service is not authorized"))
        // Outside the unit, or in a unit without a role, bin is bin.
        h.denied(.getSecretValue, ["SecretId": "app/db"], as: H.bin)
        try h.ok(.describeSecret, ["SecretId": "app/db"], as: H.bin)
        h.denied(.getSecretValue, ["SecretId": "app/db"], as: H.inUnit(H.bin, "other.service"))
        try h.ok(.describeSecret, ["SecretId": "app/db"], as: H.inUnit(H.bin, "other.service"))
        // The role does not depend on the uid: any user's process in the unit acts as the role...
        #expect(try h.value("app/db", as: H.inUnit(H.sys, "myapp.service")) == "db-pass")
        // ...including root's: a unit's role governs root too (it is not the administrator there).
        let rootInUnit = H.inUnit(H.root, "myapp.service")
        #expect(try h.value("app/db", as: rootInUnit) == "db-pass")
        h.denied(.describeSecret, ["SecretId": "app/db"], as: rootInUnit)
        h.denied(.putSecretValue, ["SecretId": "app/db", "SecretString": "x"], as: rootInUnit)
    }

    @Test func roleContextKeys() throws {
        let h = try H()
        try h.create("app/db")
        try h.createRole("myapp.service")
        // aws:PrincipalType is AssumedRole and aws:username is absent for a role; coffer:SystemdUnit is the unit.
        try h.putRolePolicy(
            "myapp.service",
            policy(
                allow(
                    "secretsmanager:GetSecretValue",
                    when: #"{"StringEquals":{"aws:PrincipalType":"AssumedRole","coffer:SystemdUnit":"myapp.service","#
                        + #""aws:PrincipalArn":"arn:coffer:iam::123456789012:role/myapp.service"},"#
                        + #""Null":{"aws:username":"true"}}"#)))
        #expect(try h.value("app/db", as: H.inUnit(H.bin, "myapp.service")) == "v1")
    }

    @Test func rootIsTheAdministratorByDefault() throws {
        let h = try H()
        try h.create("app/db")
        // Even an explicit Deny in a resource policy does not bind the administrator.
        try h.putResourcePolicy(
            "app/db",
            policy(#"{"Effect":"Deny","Principal":"*","Action":"secretsmanager:*","Resource":"*"}"#))
        #expect(try h.value("app/db", as: H.root) == "v1")
        try h.iamOK(.listRoles, [:])
    }

    @Test func withRootIsAdministratorOffRootIsGovernedByPolicies() throws {
        let h = try H(rootIsAdministrator: false)
        // A fresh vault with the setting off from the start: root can do nothing, IAM included.
        let message = h.denied(.createSecret, ["Name": "x", "SecretString": "v"], as: H.root)
        #expect(message.hasPrefix("User: arn:coffer:iam::123456789012:user/root is not authorized"))
        h.iamFails(
            .putUserPolicy,
            ["UserName": "root", "PolicyName": "all", "PolicyDocument": .string(policy(allow("*")))],
            .accessDenied)
    }

    @Test func turningRootIsAdministratorOffKeepsOnlyRootsPolicies() throws {
        let h = try H()
        try h.create("app/db", "db-pass")
        try h.putUserPolicy("root", policy(allow("secretsmanager:GetSecretValue", "iam:GetUserPolicy")))
        try h.reopen(rootIsAdministrator: false)
        #expect(try h.value("app/db", as: H.root) == "db-pass")
        h.denied(.deleteSecret, ["SecretId": "app/db"], as: H.root)
        h.denied(.createSecret, ["Name": "y", "SecretString": "v"], as: H.root)
        try h.iamOK(.getUserPolicy, ["UserName": "root", "PolicyName": "p"])
        h.iamFails(.deleteUserPolicy, ["UserName": "root", "PolicyName": "p"], .accessDenied)
        try h.reopen(rootIsAdministrator: true)
        try h.ok(.deleteSecret, ["SecretId": "app/db"], as: H.root)
    }

    /// Where the Deny lives; the Allow of everything is in every other kind of policy at once.
    enum DenyIn: String, CaseIterable, Sendable { case user, group, role, managed, resource }

    @Test(arguments: DenyIn.allCases)
    func anExplicitDenyBeatsAnyAllow(_ place: DenyIn) throws {
        let h = try H()
        try h.create("app/db", "db-pass")
        try h.createRole("myapp.service")
        let everything = policy(allow("secretsmanager:*"))
        let denyRead = policy(deny("secretsmanager:GetSecretValue", on: [h.secretPrefix + "app/*"]))
        try h.putUserPolicy("daemon", "all", everything)
        try h.putGroupPolicy("staff", "all", everything)
        try h.putRolePolicy("myapp.service", "all", everything)
        try h.putResourcePolicy(
            "app/db",
            policy(
                #"{"Effect":"Allow","Principal":{"AWS":["arn:coffer:iam::123456789012:user/daemon","#
                    + #""arn:coffer:iam::123456789012:role/myapp.service"]},"Action":"secretsmanager:*","Resource":"*"}"#
            ))
        let caller = place == .role ? H.inUnit(H.daemon, "myapp.service") : H.daemon
        #expect(try h.value("app/db", as: caller) == "db-pass")
        switch place {
        case .user: try h.putUserPolicy("daemon", "deny", denyRead)
        case .group: try h.putGroupPolicy("staff", "deny", denyRead)
        case .role: try h.putRolePolicy("myapp.service", "deny", denyRead)
        case .managed:
            try h.iamOK(.createPolicy, ["PolicyName": "deny-read", "PolicyDocument": .string(denyRead)])
            try h.iamOK(.attachUserPolicy, ["UserName": "daemon", "PolicyArn": .string(h.policyARN("deny-read"))])
        case .resource:
            try h.putResourcePolicy(
                "app/db",
                policy(
                    #"{"Effect":"Allow","Principal":"*","Action":"secretsmanager:*","Resource":"*"}"#,
                    #"{"Effect":"Deny","Principal":"*","Action":"secretsmanager:GetSecretValue","Resource":"*"}"#))
        }
        let message = h.denied(.getSecretValue, ["SecretId": "app/db"], as: caller)
        // One wording for every denial (the kind of deny would reveal existence); the audit log says which.
        #expect(message.hasSuffix("on resource: \(h.secretPrefix)app/db"))
        // Only the denied action is affected.
        try h.ok(.describeSecret, ["SecretId": "app/db"], as: caller)
    }

    @Test func notActionAllowsEverythingElse() throws {
        let h = try H()
        try h.create("app/db")
        try h.putUserPolicy(
            "bin",
            #"{"Version":"2012-10-17","Statement":{"Effect":"Allow","NotAction":["secretsmanager:DeleteSecret","#
                + #""secretsmanager:*ResourcePolicy"],"Resource":"*"}}"#)
        #expect(try h.value("app/db", as: H.bin) == "v1")
        try h.ok(.putSecretValue, ["SecretId": "app/db", "SecretString": "v2"], as: H.bin)
        try h.ok(.createSecret, ["Name": "bins", "SecretString": "x"], as: H.bin)
        h.denied(.deleteSecret, ["SecretId": "app/db"], as: H.bin)
        h.denied(.putResourcePolicy, ["SecretId": "app/db", "ResourcePolicy": "{}"], as: H.bin)
        h.denied(.getResourcePolicy, ["SecretId": "app/db"], as: H.bin)
        // NotAction also matches other services' actions (here IAM's): Allow+NotAction is broad.
        try h.iamOK(.listRoles, [:], as: H.bin)
    }

    @Test func denyWithNotActionDeniesEverythingUnlisted() throws {
        let h = try H()
        try h.create("app/db")
        try h.putUserPolicy("bin", "all", policy(allow("secretsmanager:*")))
        try h.putUserPolicy(
            "bin", "read-only",
            #"{"Version":"2012-10-17","Statement":{"Effect":"Deny","NotAction":["secretsmanager:Get*","#
                + #""secretsmanager:Describe*","secretsmanager:List*"],"Resource":"*"}}"#)
        #expect(try h.value("app/db", as: H.bin) == "v1")
        try h.ok(.listSecrets, [:], as: H.bin)
        h.denied(.putSecretValue, ["SecretId": "app/db", "SecretString": "x"], as: H.bin)
        h.denied(.tagResource, ["SecretId": "app/db", "Tags": [.map(["Key": "a", "Value": "b"])]], as: H.bin)
    }

    @Test func notResourceExcludesSecrets() throws {
        let h = try H()
        try h.create("app/db", "app")
        try h.create("admin/root-key", "admin")
        try h.putUserPolicy(
            "bin",
            #"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","#
                + #""NotResource":"\#(h.secretPrefix)admin/*"}}"#)
        #expect(try h.value("app/db", as: H.bin) == "app")
        h.denied(.getSecretValue, ["SecretId": "admin/root-key"], as: H.bin)
        // Deny + NotResource: everything outside app/ is denied even though another policy allows all.
        try h.putUserPolicy("sys", "all", policy(allow("secretsmanager:*")))
        try h.putUserPolicy(
            "sys", "only-app",
            #"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"secretsmanager:*","#
                + #""NotResource":["\#(h.secretPrefix)app/*"]}}"#)
        #expect(try h.value("app/db", as: H.sys) == "app")
        h.denied(.getSecretValue, ["SecretId": "admin/root-key"], as: H.sys)
        // A resource-less action's resource is "*", which is outside app/*: ListSecrets is denied too.
        h.denied(.listSecrets, [:], as: H.sys)
    }

    @Test func iamChangesTakeEffectOnTheNextRequest() throws {
        let h = try H()
        try h.create("app/db", "db-pass")
        let read = policy(allow("secretsmanager:GetSecretValue"))
        h.denied(.getSecretValue, ["SecretId": "app/db"], as: H.bin)
        try h.putUserPolicy("bin", read)
        #expect(try h.value("app/db", as: H.bin) == "db-pass")
        try h.iamOK(.deleteUserPolicy, ["UserName": "bin", "PolicyName": "p"])
        h.denied(.getSecretValue, ["SecretId": "app/db"], as: H.bin)
        // Managed policy: attach, then a new default version that no longer allows, then back.
        try h.iamOK(.createPolicy, ["PolicyName": "readers", "PolicyDocument": .string(read)])
        let arn = h.policyARN("readers")
        try h.iamOK(.attachUserPolicy, ["UserName": "bin", "PolicyArn": .string(arn)])
        #expect(try h.value("app/db", as: H.bin) == "db-pass")
        try h.iamOK(
            .createPolicyVersion,
            [
                "PolicyArn": .string(arn), "SetAsDefault": true,
                "PolicyDocument": .string(policy(allow("secretsmanager:DescribeSecret"))),
            ])
        h.denied(.getSecretValue, ["SecretId": "app/db"], as: H.bin)
        try h.iamOK(.setDefaultPolicyVersion, ["PolicyArn": .string(arn), "VersionId": "v1"])
        #expect(try h.value("app/db", as: H.bin) == "db-pass")
        try h.iamOK(.detachUserPolicy, ["UserName": "bin", "PolicyArn": .string(arn)])
        h.denied(.getSecretValue, ["SecretId": "app/db"], as: H.bin)
        // Roles: deleting the role puts the unit's processes back under their users.
        try h.createRole("myapp.service")
        try h.putUserPolicy("bin", read)
        h.denied(.getSecretValue, ["SecretId": "app/db"], as: H.inUnit(H.bin, "myapp.service"))
        try h.iamOK(.deleteRole, ["RoleName": "myapp.service"])
        #expect(try h.value("app/db", as: H.inUnit(H.bin, "myapp.service")) == "db-pass")
    }

    @Test func policiesSurviveARestart() throws {
        let h = try H()
        try h.create("app/db", "db-pass")
        try h.putUserPolicy("bin", policy(allow("secretsmanager:GetSecretValue")))
        try h.reopen(rootIsAdministrator: true)
        #expect(try h.value("app/db", as: H.bin) == "db-pass")
    }
}
