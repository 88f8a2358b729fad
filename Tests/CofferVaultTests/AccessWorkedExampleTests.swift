import CofferCore
import CofferProtocol
import Testing

@testable import CofferVault

/// The worked examples of docs/POLICY.md, with their policies as printed there (host accounts substituted: group
/// `staff` for `payments`, users `s*` for `app-*`, `daemon` for `ops-lead`).
@Suite struct AccessWorkedExampleTests {
    typealias H = AccessHarness

    static let readDB = #"""
        {"Version": "2012-10-17",
         "Statement": [{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
                        "Resource": "arn:coffer:secretsmanager:local:123456789012:secret:myapp/db-??????"}]}
        """#

    @Test func aServiceReadingOneSecret() throws {
        let h = try H()
        try h.create("myapp/db", "hunter2")
        try h.create("myapp/other", "x")
        try h.iamOK(.createRole, ["RoleName": "myapp.service", "Description": "myapp reads its DB password"])
        try h.putRolePolicy("myapp.service", "read-db", AccessWorkedExampleTests.readDB)
        let myapp = Caller(uid: 990, gid: 990, pid: 7, userName: "myapp", groupNames: ["myapp"])
        let inUnit = H.inUnit(myapp, "myapp.service")
        #expect(try h.value("myapp/db", as: inUnit) == "hunter2")
        #expect(try h.value("myapp/db", as: inUnit, stage: "AWSCURRENT") == "hunter2")
        h.denied(.getSecretValue, ["SecretId": "myapp/other"], as: inUnit)
        h.denied(.describeSecret, ["SecretId": "myapp/db"], as: inUnit)
        h.denied(.listSecrets, [:], as: inUnit)
        h.denied(.putSecretValue, ["SecretId": "myapp/db", "SecretString": "x"], as: inUnit)
        // The same user outside the unit, or in another unit, has only its own (no) policies.
        h.denied(.getSecretValue, ["SecretId": "myapp/db"], as: myapp)
        h.denied(.getSecretValue, ["SecretId": "myapp/db"], as: H.inUnit(myapp, "cron.service"))
        // The simulator agrees.
        let simulated = try h.iamOK(
            .simulatePrincipalPolicy,
            [
                "PolicySourceArn": "arn:coffer:iam::123456789012:role/myapp.service",
                "ActionNames": ["secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue"],
                "ResourceArns": ["arn:coffer:secretsmanager:local:123456789012:secret:myapp/db-AbCdEf"],
            ])
        let decisions = (simulated["EvaluationResults"]?.listValue ?? []).compactMap {
            $0.mapValue?["EvalDecision"]?.stringValue
        }
        #expect(decisions == ["allowed", "implicitDeny"])
    }

    static let team = #"""
        {"Version": "2012-10-17",
         "Statement": [
          {"Sid": "List", "Effect": "Allow", "Action": ["secretsmanager:ListSecrets", "secretsmanager:GetRandomPassword"],
           "Resource": "*"},
          {"Sid": "UseTeamSecrets", "Effect": "Allow",
           "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret", "secretsmanager:PutSecretValue",
                      "secretsmanager:UpdateSecret", "secretsmanager:ListSecretVersionIds"],
           "Resource": "*", "Condition": {"StringEquals": {"secretsmanager:ResourceTag/team": "payments"}}},
          {"Sid": "CreateTagged", "Effect": "Allow", "Action": "secretsmanager:CreateSecret", "Resource": "*",
           "Condition": {"StringEquals": {"aws:RequestTag/team": "payments"},
                         "ForAllValues:StringEquals": {"aws:TagKeys": ["team", "env"]}}},
          {"Sid": "KeepTheTag", "Effect": "Deny", "Action": ["secretsmanager:TagResource", "secretsmanager:UntagResource"],
           "Resource": "*", "Condition": {"ForAnyValue:StringEqualsIgnoreCase": {"aws:TagKeys": "team"}}}
         ]}
        """#

    @Test func aTeamByTag() throws {
        let h = try H()
        try h.create("billing/stripe-key", "sk")
        try h.create("hr/payroll", "pay", tags: [("team", "hr")])
        try h.putGroupPolicy("staff", "team", AccessWorkedExampleTests.team)
        let member = H.daemon  // in staff
        h.denied(.getSecretValue, ["SecretId": "billing/stripe-key"], as: member)
        try h.ok(
            .tagResource, ["SecretId": "billing/stripe-key", "Tags": [.map(["Key": "team", "Value": "payments"])]])
        #expect(try h.value("billing/stripe-key", as: member) == "sk")
        try h.ok(.putSecretValue, ["SecretId": "billing/stripe-key", "SecretString": "sk2"], as: member)
        // Creating: only with team=payments, and only the keys team and env.
        try h.ok(
            .createSecret,
            [
                "Name": "payments/new-key", "SecretString": "k",
                "Tags": [.map(["Key": "team", "Value": "payments"]), .map(["Key": "env", "Value": "prod"])],
            ], as: member)
        h.denied(.createSecret, ["Name": "payments/untagged", "SecretString": "x"], as: member)
        h.denied(
            .createSecret,
            ["Name": "payments/hr", "SecretString": "x", "Tags": [.map(["Key": "team", "Value": "hr"])]], as: member)
        h.denied(
            .createSecret,
            [
                "Name": "payments/extra", "SecretString": "x",
                "Tags": [.map(["Key": "team", "Value": "payments"]), .map(["Key": "owner", "Value": "me"])],
            ], as: member)
        // Listing shows the team's secrets only.
        let listed = (try h.ok(.listSecrets, [:], as: member)["SecretList"]?.listValue ?? []).compactMap {
            $0.mapValue?["Name"]?.stringValue
        }
        #expect(listed == ["billing/stripe-key", "payments/new-key"])
        // The tag cannot be changed, removed, or shadowed by a key differing in case.
        h.denied(.untagResource, ["SecretId": "payments/new-key", "TagKeys": ["team"]], as: member)
        h.denied(
            .tagResource, ["SecretId": "hr/payroll", "Tags": [.map(["Key": "team", "Value": "payments"])]], as: member)
        h.denied(
            .tagResource, ["SecretId": "hr/payroll", "Tags": [.map(["Key": "Team", "Value": "payments"])]], as: member)
        h.denied(.getSecretValue, ["SecretId": "hr/payroll"], as: member)
        // Non-members get nothing.
        h.denied(.listSecrets, [:], as: H.bin)
        h.denied(.getSecretValue, ["SecretId": "payments/new-key"], as: H.bin)
    }

    static let delegate = #"""
        {"Version": "2012-10-17",
         "Statement": [
          {"Sid": "InlinePolicies", "Effect": "Allow",
           "Action": ["iam:PutUserPolicy", "iam:GetUserPolicy", "iam:DeleteUserPolicy", "iam:ListUserPolicies"],
           "Resource": "arn:coffer:iam::123456789012:user/s*"},
          {"Sid": "AppPoliciesOnly", "Effect": "Allow",
           "Action": ["iam:AttachUserPolicy", "iam:DetachUserPolicy", "iam:ListAttachedUserPolicies"],
           "Resource": "arn:coffer:iam::123456789012:user/s*",
           "Condition": {"ArnLikeIfExists": {"iam:PolicyARN": "arn:coffer:iam::123456789012:policy/app/*"}}},
          {"Sid": "SeeWhatExists", "Effect": "Allow", "Action": ["iam:ListPolicies", "iam:GetPolicy", "iam:GetPolicyVersion",
           "iam:SimulatePrincipalPolicy"], "Resource": "*"},
          {"Sid": "NotMyself", "Effect": "Deny", "Action": "iam:*",
           "Resource": "arn:coffer:iam::123456789012:user/${aws:username}"}
         ]}
        """#

    @Test func anAdministratorDelegating() throws {
        let h = try H()
        try h.create("app/db", "db-pass")
        let read = policy(allow("secretsmanager:GetSecretValue"))
        try h.iamOK(.createPolicy, ["PolicyName": "app-read", "Path": "/app/", "PolicyDocument": .string(read)])
        try h.iamOK(.createPolicy, ["PolicyName": "admin", "PolicyDocument": .string(policy(allow("*")))])
        try h.putUserPolicy("daemon", "delegate", AccessWorkedExampleTests.delegate)
        let lead = H.daemon
        let appRead = Value.string(h.policyARN("app-read", path: "/app/"))
        try h.iamOK(.attachUserPolicy, ["UserName": "sys", "PolicyArn": appRead], as: lead)
        #expect(try h.value("app/db", as: H.sys) == "db-pass")
        let attached = try h.iamOK(.listAttachedUserPolicies, ["UserName": "sys"], as: lead)
        #expect(attached["AttachedPolicies"]?.listValue?.count == 1)
        try h.iamOK(.listPolicies, [:], as: lead)
        h.iamFails(
            .attachUserPolicy, ["UserName": "sys", "PolicyArn": .string(h.policyARN("admin"))], .accessDenied,
            as: lead)
        h.iamFails(.attachUserPolicy, ["UserName": "bin", "PolicyArn": appRead], .accessDenied, as: lead)
        h.iamFails(
            .putUserPolicy, ["UserName": "daemon", "PolicyName": "self", "PolicyDocument": .string(read)],
            .accessDenied, as: lead)
        h.iamFails(.createPolicy, ["PolicyName": "mine", "PolicyDocument": .string(read)], .accessDenied, as: lead)
        h.iamFails(
            .createPolicyVersion, ["PolicyArn": appRead, "PolicyDocument": .string(read), "SetAsDefault": true],
            .accessDenied, as: lead)
        // What the delegation really allows: PutUserPolicy can give an s* user anything on secrets.
        try h.iamOK(
            .putUserPolicy,
            ["UserName": "sync", "PolicyName": "all", "PolicyDocument": .string(policy(allow("secretsmanager:*")))],
            as: lead)
        let sync = Caller(uid: 4, gid: 65_534, pid: 8, userName: "sync", groupNames: ["nogroup"])
        try h.ok(.deleteSecret, ["SecretId": "app/db"], as: sync)
    }
}
