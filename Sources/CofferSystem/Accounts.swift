import Glibc

/// User and group names through NSS (`getpwuid_r` and friends), with the buffer grown on ERANGE.
/// All functions return nil when the entry does not exist and throw only on a lookup failure.
public enum Accounts {
    /// The login name of `uid`.
    public static func userName(uid: UInt32) throws -> String? {
        try withPasswd("getpwuid_r", { getpwuid_r(uid, $0, $1, $2, $3) }) { String(cString: $0.pw_name) }
    }

    /// The name of group `gid`.
    public static func groupName(gid: UInt32) throws -> String? {
        try withGroup("getgrgid_r", { getgrgid_r(gid, $0, $1, $2, $3) }) { String(cString: $0.gr_name) }
    }

    /// The uid of user `name`.
    public static func uid(named name: String) throws -> UInt32? {
        guard !name.isEmpty, !name.utf8.contains(0) else { return nil }
        return try name.withCString { n in
            try withPasswd("getpwnam_r", { getpwnam_r(n, $0, $1, $2, $3) }) { $0.pw_uid }
        }
    }

    /// The gid of group `name`.
    public static func gid(named name: String) throws -> UInt32? {
        guard !name.isEmpty, !name.utf8.contains(0) else { return nil }
        return try name.withCString { n in
            try withGroup("getgrnam_r", { getgrnam_r(n, $0, $1, $2, $3) }) { $0.gr_gid }
        }
    }

    /// The primary gid of user `name`.
    public static func primaryGroup(ofUser name: String) throws -> UInt32? {
        guard !name.isEmpty, !name.utf8.contains(0) else { return nil }
        return try name.withCString { n in
            try withPasswd("getpwnam_r", { getpwnam_r(n, $0, $1, $2, $3) }) { $0.pw_gid }
        }
    }

    /// All groups of user `name` as the group database lists them (`getgrouplist`), primary group first; nil if the
    /// user does not exist. This is the database's view now; a connected peer's groups come from
    /// ``PeerCredentials/groups`` (pinned at connect), which is what authorization uses.
    public static func groups(ofUser name: String) throws -> [UInt32]? {
        guard let primary = try primaryGroup(ofUser: name) else { return nil }
        var capacity: Int32 = 32
        while capacity <= 65_536 {
            var groups = [gid_t](repeating: 0, count: Int(capacity))
            var count = capacity
            let result = name.withCString { n in getgrouplist(n, primary, &groups, &count) }
            if result >= 0 { return Array(groups.prefix(Int(count))) }
            // -1: too small; glibc stores the needed count.
            capacity = max(count, capacity * 2)
        }
        return nil
    }

    private static func withPasswd<R>(
        _ call: StaticString,
        _ lookup: (
            UnsafeMutablePointer<passwd>, UnsafeMutablePointer<CChar>, Int,
            UnsafeMutablePointer<UnsafeMutablePointer<passwd>?>
        ) -> Int32,
        _ extract: (passwd) -> R
    ) throws -> R? {
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>?
        return try withGrowingBuffer(call) { buffer, size in
            let code = lookup(&entry, buffer, size, &result)
            guard code == 0 else { return .failed(code) }
            guard let found = result else { return .done(nil) }
            return .done(extract(found.pointee))
        }
    }

    private static func withGroup<R>(
        _ call: StaticString,
        _ lookup: (
            UnsafeMutablePointer<group>, UnsafeMutablePointer<CChar>, Int,
            UnsafeMutablePointer<UnsafeMutablePointer<group>?>
        ) -> Int32,
        _ extract: (group) -> R
    ) throws -> R? {
        var entry = group()
        var result: UnsafeMutablePointer<group>?
        return try withGrowingBuffer(call) { buffer, size in
            let code = lookup(&entry, buffer, size, &result)
            guard code == 0 else { return .failed(code) }
            guard let found = result else { return .done(nil) }
            return .done(extract(found.pointee))
        }
    }

    private enum Step<R> {
        case done(R?)
        case failed(Int32)
    }

    /// Runs a `get*_r` lookup with a 1 KiB buffer, growing it (up to 1 MiB) while the call says ERANGE.
    private static func withGrowingBuffer<R>(
        _ call: StaticString,
        _ body: (UnsafeMutablePointer<CChar>, Int) -> Step<R>
    ) throws -> R? {
        var size = 1_024
        while true {
            let step = withUnsafeTemporaryAllocation(of: CChar.self, capacity: size) { buffer -> Step<R> in
                guard let base = buffer.baseAddress else { return .failed(ENOMEM) }
                return body(base, size)
            }
            switch step {
            case .done(let value): return value
            case .failed(let code) where code == ERANGE && size < 1 << 20: size *= 4
            case .failed(let code) where code == EINTR: continue
            case .failed(let code) where code == ENOENT || code == ESRCH || code == EBADF || code == EPERM:
                // getpw*_r(3): "not found" may be reported as one of these.
                return nil
            case .failed(let code): throw SystemError(call: "\(call)", errno: code)
            }
        }
    }
}
