#if canImport(Glibc)
    import Glibc
#endif

/// Where the daemon's sockets are: an explicit path, else the environment, else the system default.
public enum CofferSocketPath {
    /// The system daemon's client socket (docs/PROTOCOL.md, section 1).
    public static let systemDefault = "/run/coffer/coffer.sock"
    /// The system daemon's admin socket (IAM and administration operations).
    public static let systemAdminDefault = "/run/coffer/admin.sock"
    /// Overrides ``systemDefault``.
    public static let environmentVariable = "COFFER_SOCKET"
    /// Overrides ``systemAdminDefault``.
    public static let adminEnvironmentVariable = "COFFER_ADMIN_SOCKET"

    /// The client socket: `explicit` (a `--socket` option), else `$COFFER_SOCKET` when set and not empty, else
    /// ``systemDefault``.
    public static func client(explicit: String? = nil) -> String {
        resolve(explicit, variable: environmentVariable, fallback: systemDefault)
    }

    /// The admin socket: `explicit` (an `--admin-socket` option), else `$COFFER_ADMIN_SOCKET`, else
    /// ``systemAdminDefault``.
    public static func admin(explicit: String? = nil) -> String {
        resolve(explicit, variable: adminEnvironmentVariable, fallback: systemAdminDefault)
    }

    static func resolve(_ explicit: String?, variable: String, fallback: String) -> String {
        if let explicit, !explicit.isEmpty { return explicit }
        if let value = environment(variable), !value.isEmpty { return value }
        return fallback
    }

    /// `getenv`, without Foundation's `ProcessInfo` (start-up time).
    static func environment(_ name: String) -> String? {
        guard let raw = getenv(name) else { return nil }
        return String(cString: raw)
    }
}
