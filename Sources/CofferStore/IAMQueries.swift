import CofferCore

/// A role: a systemd unit the administrator has given identity policies.
public struct RoleRow: Sendable, Equatable {
    public var name: String
    public var roleID: String
    public var path: String
    public var description: String?
    public var assumeRolePolicy: String?
    public var maxSessionSeconds: Int64?
    public var createdMs: Int64

    public init(
        name: String, roleID: String, path: String, description: String?, assumeRolePolicy: String?,
        maxSessionSeconds: Int64?, createdMs: Int64
    ) {
        self.name = name
        self.roleID = roleID
        self.path = path
        self.description = description
        self.assumeRolePolicy = assumeRolePolicy
        self.maxSessionSeconds = maxSessionSeconds
        self.createdMs = createdMs
    }
}

/// A customer managed policy (its versions are separate rows).
public struct ManagedPolicyRow: Sendable, Equatable {
    public var name: String
    public var policyID: String
    public var path: String
    public var description: String?
    public var defaultVersion: String
    public var nextVersion: Int64
    public var createdMs: Int64
    public var updatedMs: Int64

    public init(
        name: String, policyID: String, path: String, description: String?, defaultVersion: String,
        nextVersion: Int64, createdMs: Int64, updatedMs: Int64
    ) {
        self.name = name
        self.policyID = policyID
        self.path = path
        self.description = description
        self.defaultVersion = defaultVersion
        self.nextVersion = nextVersion
        self.createdMs = createdMs
        self.updatedMs = updatedMs
    }
}

public struct PolicyVersionRow: Sendable, Equatable {
    public var policyName: String
    public var versionID: String
    public var document: String
    public var createdMs: Int64
}

/// `user`, `group` or `role`.
public enum PrincipalKind: String, Sendable, CaseIterable {
    case user, group, role
}

/// Everything IAM, read in one go to build the authorization snapshot (small: policies, not secrets).
public struct IAMState: Sendable {
    public var roles: [RoleRow] = []
    public var inline: [(kind: PrincipalKind, principal: String, policy: String, document: String)] = []
    public var policies: [ManagedPolicyRow] = []
    public var versions: [PolicyVersionRow] = []
    public var attachments: [(kind: PrincipalKind, principal: String, policy: String)] = []

    public init() {}
}

extension StoreQueries {
    func roleRow(_ s: SQLiteStatement) -> RoleRow {
        RoleRow(
            name: s.text(0), roleID: s.text(1), path: s.text(2), description: s.optionalText(3),
            assumeRolePolicy: s.optionalText(4), maxSessionSeconds: s.optionalInt64(5), createdMs: s.int64(6))
    }

    func policyRow(_ s: SQLiteStatement) -> ManagedPolicyRow {
        ManagedPolicyRow(
            name: s.text(0), policyID: s.text(1), path: s.text(2), description: s.optionalText(3),
            defaultVersion: s.text(4), nextVersion: s.int64(5), createdMs: s.int64(6), updatedMs: s.int64(7))
    }

    /// The whole IAM state (roles, inline and managed policies, attachments).
    public func iamState() throws(SQLiteError) -> IAMState {
        var state = IAMState()
        let roles = try connection.prepare(
            "SELECT name, role_id, path, description, assume_role_policy, max_session_seconds, created_ms FROM iam_roles ORDER BY name"
        )
        while try roles.step() { state.roles.append(roleRow(roles)) }
        let inline = try connection.prepare(
            "SELECT principal_kind, principal_name, policy_name, document FROM iam_inline_policies ORDER BY 1, 2, 3")
        while try inline.step() {
            guard let kind = PrincipalKind(rawValue: inline.text(0)) else { continue }
            state.inline.append((kind, inline.text(1), inline.text(2), inline.text(3)))
        }
        let policies = try connection.prepare(
            "SELECT name, policy_id, path, description, default_version, next_version, created_ms, updated_ms FROM iam_policies ORDER BY name"
        )
        while try policies.step() { state.policies.append(policyRow(policies)) }
        let versions = try connection.prepare(
            "SELECT policy_name, version_id, document, created_ms FROM iam_policy_versions ORDER BY 1, 4")
        while try versions.step() {
            state.versions.append(
                PolicyVersionRow(
                    policyName: versions.text(0), versionID: versions.text(1), document: versions.text(2),
                    createdMs: versions.int64(3)))
        }
        let attachments = try connection.prepare(
            "SELECT principal_kind, principal_name, policy_name FROM iam_attachments ORDER BY 1, 2, 3")
        while try attachments.step() {
            guard let kind = PrincipalKind(rawValue: attachments.text(0)) else { continue }
            state.attachments.append((kind, attachments.text(1), attachments.text(2)))
        }
        return state
    }
}

extension WriteContext {
    public func insertRole(_ role: RoleRow) throws(SQLiteError) {
        let s = try connection.prepare(
            """
            INSERT INTO iam_roles (name, role_id, path, description, assume_role_policy, max_session_seconds, created_ms)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            """)
        s.bind(0, role.name).bind(1, role.roleID).bind(2, role.path).bind(3, role.description)
        s.bind(4, role.assumeRolePolicy).bind(5, role.maxSessionSeconds).bind(6, role.createdMs)
        try s.run()
    }

    public func deleteRole(name: String) throws(SQLiteError) {
        let s = try connection.prepare("DELETE FROM iam_roles WHERE name = ?")
        s.bind(0, name)
        try s.run()
    }

    public func putInlinePolicy(
        kind: PrincipalKind, principal: String, policy: String, document: String
    )
        throws(SQLiteError)
    {
        let s = try connection.prepare(
            """
            INSERT OR REPLACE INTO iam_inline_policies (principal_kind, principal_name, policy_name, document)
            VALUES (?, ?, ?, ?)
            """)
        s.bind(0, kind.rawValue).bind(1, principal).bind(2, policy).bind(3, document)
        try s.run()
    }

    /// Deletes one inline policy; returns whether it existed.
    public func deleteInlinePolicy(kind: PrincipalKind, principal: String, policy: String) throws(SQLiteError) -> Bool {
        let s = try connection.prepare(
            "DELETE FROM iam_inline_policies WHERE principal_kind = ? AND principal_name = ? AND policy_name = ?")
        s.bind(0, kind.rawValue).bind(1, principal).bind(2, policy)
        try s.run()
        return connection.changes > 0
    }

    public func insertPolicy(_ policy: ManagedPolicyRow, document: String) throws(SQLiteError) {
        let s = try connection.prepare(
            """
            INSERT INTO iam_policies (name, policy_id, path, description, default_version, next_version, created_ms,
                                      updated_ms)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """)
        s.bind(0, policy.name).bind(1, policy.policyID).bind(2, policy.path).bind(3, policy.description)
        s.bind(4, policy.defaultVersion).bind(5, policy.nextVersion).bind(6, policy.createdMs)
        s.bind(7, policy.updatedMs)
        try s.run()
        try insertPolicyVersion(
            policy: policy.name, versionID: policy.defaultVersion, document: document,
            createdMs: policy.createdMs)
    }

    public func insertPolicyVersion(
        policy: String, versionID: String, document: String, createdMs: Int64
    )
        throws(SQLiteError)
    {
        let s = try connection.prepare(
            "INSERT INTO iam_policy_versions (policy_name, version_id, document, created_ms) VALUES (?, ?, ?, ?)")
        s.bind(0, policy).bind(1, versionID).bind(2, document).bind(3, createdMs)
        try s.run()
    }

    public func updatePolicy(
        name: String, defaultVersion: String, nextVersion: Int64, updatedMs: Int64
    )
        throws(SQLiteError)
    {
        let s = try connection.prepare(
            "UPDATE iam_policies SET default_version = ?, next_version = ?, updated_ms = ? WHERE name = ?")
        s.bind(0, defaultVersion).bind(1, nextVersion).bind(2, updatedMs).bind(3, name)
        try s.run()
    }

    public func deletePolicyVersion(policy: String, versionID: String) throws(SQLiteError) {
        let s = try connection.prepare("DELETE FROM iam_policy_versions WHERE policy_name = ? AND version_id = ?")
        s.bind(0, policy).bind(1, versionID)
        try s.run()
    }

    public func deletePolicy(name: String) throws(SQLiteError) {
        let s = try connection.prepare("DELETE FROM iam_policies WHERE name = ?")
        s.bind(0, name)
        try s.run()
    }

    public func attach(kind: PrincipalKind, principal: String, policy: String) throws(SQLiteError) {
        let s = try connection.prepare(
            "INSERT OR IGNORE INTO iam_attachments (principal_kind, principal_name, policy_name) VALUES (?, ?, ?)")
        s.bind(0, kind.rawValue).bind(1, principal).bind(2, policy)
        try s.run()
    }

    /// Detaches; returns whether it was attached.
    public func detach(kind: PrincipalKind, principal: String, policy: String) throws(SQLiteError) -> Bool {
        let s = try connection.prepare(
            "DELETE FROM iam_attachments WHERE principal_kind = ? AND principal_name = ? AND policy_name = ?")
        s.bind(0, kind.rawValue).bind(1, principal).bind(2, policy)
        try s.run()
        return connection.changes > 0
    }
}
