/// Every operation the daemon answers, with its stable 16-bit wire code (docs/PROTOCOL.md, "Operations").
///
/// Codes are grouped: 0x00xx protocol, 0x01xx Secrets Manager (client socket), 0x02xx IAM (admin socket),
/// 0x03xx administration (admin socket). A code is never reused for another operation.
public enum Operation: UInt16, Sendable, CaseIterable, Hashable {
    // Protocol
    case hello = 0x0001

    // AWS Secrets Manager
    case createSecret = 0x0101
    case getSecretValue = 0x0102
    case putSecretValue = 0x0103
    case updateSecret = 0x0104
    case updateSecretVersionStage = 0x0105
    case describeSecret = 0x0106
    case listSecrets = 0x0107
    case listSecretVersionIds = 0x0108
    case deleteSecret = 0x0109
    case restoreSecret = 0x010A
    case tagResource = 0x010B
    case untagResource = 0x010C
    case getRandomPassword = 0x010D
    case batchGetSecretValue = 0x010E
    case putResourcePolicy = 0x010F
    case getResourcePolicy = 0x0110
    case deleteResourcePolicy = 0x0111
    case validateResourcePolicy = 0x0112
    case rotateSecret = 0x0113
    case cancelRotateSecret = 0x0114

    // AWS IAM (admin socket)
    case putUserPolicy = 0x0201
    case getUserPolicy = 0x0202
    case deleteUserPolicy = 0x0203
    case listUserPolicies = 0x0204
    case putGroupPolicy = 0x0205
    case getGroupPolicy = 0x0206
    case deleteGroupPolicy = 0x0207
    case listGroupPolicies = 0x0208
    case putRolePolicy = 0x0209
    case getRolePolicy = 0x020A
    case deleteRolePolicy = 0x020B
    case listRolePolicies = 0x020C
    case createPolicy = 0x020D
    case getPolicy = 0x020E
    case deletePolicy = 0x020F
    case listPolicies = 0x0210
    case createPolicyVersion = 0x0211
    case getPolicyVersion = 0x0212
    case deletePolicyVersion = 0x0213
    case listPolicyVersions = 0x0214
    case setDefaultPolicyVersion = 0x0215
    case attachUserPolicy = 0x0216
    case detachUserPolicy = 0x0217
    case listAttachedUserPolicies = 0x0218
    case attachGroupPolicy = 0x0219
    case detachGroupPolicy = 0x021A
    case listAttachedGroupPolicies = 0x021B
    case attachRolePolicy = 0x021C
    case detachRolePolicy = 0x021D
    case listAttachedRolePolicies = 0x021E
    case createRole = 0x021F
    case getRole = 0x0220
    case deleteRole = 0x0221
    case listRoles = 0x0222
    case simulateCustomPolicy = 0x0223
    case simulatePrincipalPolicy = 0x0224

    // Administration (admin socket)
    case status = 0x0301
    case seal = 0x0302
    case unseal = 0x0303
    case rotateMasterKey = 0x0304
    case backup = 0x0305
    case auditQuery = 0x0306
    case auditVerify = 0x0307
    case reload = 0x0308
    case metrics = 0x0309
    case importSecrets = 0x030A

    /// The AWS operation name (`GetSecretValue`), as `coffer call` and the audit log spell it.
    public var name: String { Operation.names[self] ?? "" }

    /// Built once: reflecting the case name on every request cost ~9,000 instructions.
    private static let names: [Operation: String] = {
        var table: [Operation: String] = [:]
        for op in Operation.allCases {
            let raw = String(describing: op)
            table[op] = raw.prefix(1).uppercased() + raw.dropFirst()
        }
        return table
    }()

    private static let byName: [String: Operation] = {
        var table: [String: Operation] = [:]
        for (op, name) in Operation.names { table[name.lowercased()] = op }
        return table
    }()

    /// Looks an operation up by its AWS name, case-insensitively (`getsecretvalue` works too).
    public init?(name: String) {
        guard let op = Operation.byName[name.lowercased()] else { return nil }
        self = op
    }

    public enum Service: Sendable { case protocolControl, secretsManager, iam, admin }

    public var service: Service {
        switch rawValue >> 8 {
        case 0x00: return .protocolControl
        case 0x01: return .secretsManager
        case 0x02: return .iam
        default: return .admin
        }
    }

    /// The IAM action that authorizes this operation (`secretsmanager:GetSecretValue`, `iam:PutUserPolicy`,
    /// `coffer:Status`).
    public var actionName: String {
        switch service {
        case .protocolControl: return "coffer:\(name)"
        case .secretsManager: return "secretsmanager:\(name)"
        case .iam: return "iam:\(name)"
        case .admin: return "coffer:\(name)"
        }
    }

    /// Whether this operation only reads state (runs on a reader, concurrently with other reads).
    public var isReadOnly: Bool {
        switch self {
        case .hello, .getSecretValue, .describeSecret, .listSecrets, .listSecretVersionIds, .getRandomPassword,
            .batchGetSecretValue, .getResourcePolicy, .validateResourcePolicy:
            return true
        default:
            return false
        }
    }
}
