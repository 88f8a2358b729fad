import CofferCore
import CofferProtocol

/// Well-formed requests for every operation: the seeds of the fuzz corpora and the raw material of the bad-input
/// corpus (every truncation point, every member missing, duplicated or of the wrong type).
enum RequestCatalogue {
    static let account = "123456789012"
    static let token = "c0ffee00-0000-4000-8000-000000000001"
    static let otherToken = "c0ffee00-0000-4000-8000-000000000002"

    static func secret(_ text: String) -> Value { .secret(SensitiveBytes(copying: Array(text.utf8)), isString: true) }
    static func binary(_ bytes: [UInt8]) -> Value { .secret(SensitiveBytes(copying: bytes), isString: false) }
    static func tag(_ key: String, _ value: String) -> Value { .map(["Key": .string(key), "Value": .string(value)]) }

    static let readPolicy = """
        {"Version":"2012-10-17","Statement":[{"Sid":"Read","Effect":"Allow","Action":["secretsmanager:GetSecretValue",\
        "secretsmanager:DescribeSecret"],"Resource":"arn:coffer:secretsmanager:local:123456789012:secret:app/*",\
        "Condition":{"StringEquals":{"aws:ResourceTag/team":"${aws:username}"}}}]}
        """
    static let resourcePolicy = """
        {"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":\
        "arn:coffer:iam::123456789012:user/nobody"},"Action":"secretsmanager:GetSecretValue","Resource":"*"}]}
        """

    /// Secrets Manager requests (client socket), each valid in shape.
    static let secretsManager: [(Operation, Document)] = [
        (.createSecret, ["Name": "app/db", "SecretString": secret("hunter2")]),
        (
            .createSecret,
            [
                "Name": "app/full", "ClientRequestToken": .string(token), "Description": "a secret",
                "KmsKeyId": "alias/local", "SecretBinary": binary([0, 1, 2, 255]),
                "Tags": [tag("team", "nobody"), tag("env", "prod")],
            ]
        ),
        (.getSecretValue, ["SecretId": "app/db"]),
        (.getSecretValue, ["SecretId": "app/db", "VersionStage": "AWSPREVIOUS"]),
        (.getSecretValue, ["SecretId": "team/alpha", "VersionId": .string(token)]),
        (
            .putSecretValue,
            ["SecretId": "app/db", "SecretString": secret("v2"), "ClientRequestToken": .string(otherToken)]
        ),
        (
            .putSecretValue,
            ["SecretId": "app/db", "SecretBinary": binary([9, 9]), "VersionStages": ["TEST", "AWSPENDING"]]
        ),
        (.updateSecret, ["SecretId": "app/db", "Description": "changed", "SecretString": secret("v3")]),
        (
            .updateSecretVersionStage,
            ["SecretId": "app/db", "VersionStage": "TEST", "MoveToVersionId": .string(otherToken)]
        ),
        (.describeSecret, ["SecretId": "arn:coffer:secretsmanager:local:123456789012:secret:app/db"]),
        (.listSecrets, [:]),
        (
            .listSecrets,
            [
                "MaxResults": 2, "IncludePlannedDeletion": true, "SortOrder": "desc", "SortBy": "name",
                "Filters": [
                    .map(["Key": "name", "Values": ["app", "!team"]]), .map(["Key": "tag-key", "Values": ["team"]]),
                ],
            ]
        ),
        (.listSecretVersionIds, ["SecretId": "app/db", "IncludeDeprecated": true, "MaxResults": 10]),
        (.deleteSecret, ["SecretId": "app/db", "RecoveryWindowInDays": 7]),
        (.deleteSecret, ["SecretId": "app/bin", "ForceDeleteWithoutRecovery": true]),
        (.restoreSecret, ["SecretId": "app/db"]),
        (.tagResource, ["SecretId": "app/db", "Tags": [tag("team", "alpha")]]),
        (.untagResource, ["SecretId": "app/db", "TagKeys": ["team", "env"]]),
        (.getRandomPassword, ["PasswordLength": 40, "ExcludeCharacters": "abc", "RequireEachIncludedType": true]),
        (.getRandomPassword, ["ExcludeNumbers": true, "ExcludePunctuation": true, "IncludeSpace": true]),
        (.batchGetSecretValue, ["SecretIdList": ["app/db", "team/alpha", "missing"]]),
        (.batchGetSecretValue, ["Filters": [.map(["Key": "name", "Values": ["app"]])], "MaxResults": 5]),
        (
            .putResourcePolicy,
            ["SecretId": "team/alpha", "ResourcePolicy": .string(resourcePolicy), "BlockPublicPolicy": true]
        ),
        (.getResourcePolicy, ["SecretId": "team/alpha"]),
        (.deleteResourcePolicy, ["SecretId": "team/alpha"]),
        (.validateResourcePolicy, ["ResourcePolicy": .string(resourcePolicy)]),
        (.rotateSecret, ["SecretId": "app/db", "RotateImmediately": false]),
        (.cancelRotateSecret, ["SecretId": "app/db"]),
    ]

    /// IAM and administration requests (admin socket).
    static let admin: [(Operation, Document)] = [
        (.putUserPolicy, ["UserName": "nobody", "PolicyName": "read", "PolicyDocument": .string(readPolicy)]),
        (.getUserPolicy, ["UserName": "nobody", "PolicyName": "inline"]),
        (.deleteUserPolicy, ["UserName": "nobody", "PolicyName": "read"]),
        (.listUserPolicies, ["UserName": "nobody"]),
        (.putGroupPolicy, ["GroupName": "nogroup", "PolicyName": "g2", "PolicyDocument": .string(readPolicy)]),
        (.getGroupPolicy, ["GroupName": "nogroup", "PolicyName": "g"]),
        (.deleteGroupPolicy, ["GroupName": "nogroup", "PolicyName": "g2"]),
        (.listGroupPolicies, ["GroupName": "nogroup"]),
        (.putRolePolicy, ["RoleName": "fuzz.service", "PolicyName": "r2", "PolicyDocument": .string(readPolicy)]),
        (.getRolePolicy, ["RoleName": "fuzz.service", "PolicyName": "r"]),
        (.deleteRolePolicy, ["RoleName": "fuzz.service", "PolicyName": "r2"]),
        (.listRolePolicies, ["RoleName": "fuzz.service"]),
        (.createPolicy, ["PolicyName": "readers", "Path": "/team/", "PolicyDocument": .string(readPolicy)]),
        (.getPolicy, ["PolicyArn": "arn:coffer:iam::123456789012:policy/delegate"]),
        (.deletePolicy, ["PolicyArn": "arn:coffer:iam::123456789012:policy/team/readers"]),
        (.listPolicies, ["Scope": "Local", "OnlyAttached": false, "MaxItems": 10]),
        (
            .createPolicyVersion,
            [
                "PolicyArn": "arn:coffer:iam::123456789012:policy/delegate", "PolicyDocument": .string(readPolicy),
                "SetAsDefault": true,
            ]
        ),
        (.getPolicyVersion, ["PolicyArn": "arn:coffer:iam::123456789012:policy/delegate", "VersionId": "v1"]),
        (.deletePolicyVersion, ["PolicyArn": "arn:coffer:iam::123456789012:policy/delegate", "VersionId": "v1"]),
        (.listPolicyVersions, ["PolicyArn": "arn:coffer:iam::123456789012:policy/delegate"]),
        (.setDefaultPolicyVersion, ["PolicyArn": "arn:coffer:iam::123456789012:policy/delegate", "VersionId": "v2"]),
        (.attachUserPolicy, ["UserName": "nobody", "PolicyArn": "arn:coffer:iam::123456789012:policy/delegate"]),
        (.detachUserPolicy, ["UserName": "nobody", "PolicyArn": "arn:coffer:iam::123456789012:policy/delegate"]),
        (.listAttachedUserPolicies, ["UserName": "nobody"]),
        (.attachGroupPolicy, ["GroupName": "nogroup", "PolicyArn": "arn:coffer:iam::123456789012:policy/delegate"]),
        (.detachGroupPolicy, ["GroupName": "nogroup", "PolicyArn": "arn:coffer:iam::123456789012:policy/delegate"]),
        (.listAttachedGroupPolicies, ["GroupName": "nogroup"]),
        (.attachRolePolicy, ["RoleName": "fuzz.service", "PolicyArn": "arn:coffer:iam::123456789012:policy/delegate"]),
        (.detachRolePolicy, ["RoleName": "fuzz.service", "PolicyArn": "arn:coffer:iam::123456789012:policy/delegate"]),
        (.listAttachedRolePolicies, ["RoleName": "fuzz.service"]),
        (.createRole, ["RoleName": "other.service", "Path": "/services/", "MaxSessionDuration": 3_600]),
        (.getRole, ["RoleName": "fuzz.service"]),
        (.deleteRole, ["RoleName": "other.service"]),
        (.listRoles, ["PathPrefix": "/"]),
        (
            .simulateCustomPolicy,
            [
                "PolicyInputList": [.string(readPolicy)], "ActionNames": ["secretsmanager:GetSecretValue"],
                "ResourceArns": ["arn:coffer:secretsmanager:local:123456789012:secret:app/db-AbCdEf"],
                "ContextEntries": [
                    .map(["ContextKeyName": "aws:username", "ContextKeyType": "string", "ContextKeyValues": ["nobody"]])
                ],
            ]
        ),
        (
            .simulatePrincipalPolicy,
            [
                "PolicySourceArn": "arn:coffer:iam::123456789012:user/nobody",
                "ActionNames": ["secretsmanager:GetSecretValue", "secretsmanager:DeleteSecret"],
                "ResourceArns": ["*"], "ResourcePolicy": .string(resourcePolicy),
            ]
        ),
        (.status, [:]),
        (.unseal, ["Passphrase": secret("correct horse")]),
        (.backup, [:]),
        (.backup, ["BackupId": "00000000-0000-4000-8000-000000000000", "Offset": 4_096]),
        (.auditQuery, ["Principal": "nobody", "Limit": 10]),
        (.auditVerify, [:]),
        (.reload, [:]),
        (.metrics, [:]),
        (
            .importSecrets,
            [
                "Secrets": [
                    .map(["Name": "imported/one", "SecretString": secret("one"), "Tags": [tag("team", "x")]]),
                    .map(["Name": "imported/two", "SecretBinary": binary([2])]),
                ]
            ]
        ),
    ]

    static var all: [(Operation, Document)] { secretsManager + admin }

    /// A request frame's wire bytes.
    static func frame(_ operation: Operation, _ document: Document, id: UInt32 = 1) -> [UInt8] {
        (try? WireCodec.encodeFrame(
            header: FrameHeader(kind: .request, operation: operation, requestID: id), document: document))
            ?? []
    }
}
