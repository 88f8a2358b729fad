import CofferCore
import CofferSystem
import CofferVault
import Synchronization

/// Turns kernel-attested peer credentials into a ``Caller``: names for the uid and groups, resolved once per
/// connection through a small cache (NSS lookups can be slow; dbus-broker avoids them per message for that reason).
final class IdentityResolver: Sendable {
    private struct Entry {
        var name: String?
        var expires: Int64
    }
    private let users = Mutex([UInt32: Entry]())
    private let groups = Mutex([UInt32: Entry]())
    /// Names are cached for a minute: renames are rare and policies name principals by login.
    static let cacheMilliseconds: Int64 = 60_000
    static let maxCacheEntries = 4_096

    func caller(for peer: PeerCredentials) -> Caller {
        let now = Monotonic.milliseconds()
        let user = name(peer.uid, in: users, now: now) { try Accounts.userName(uid: $0) }
        var groupIDs: [UInt32] = []
        for gid in [peer.gid] + peer.groups where !groupIDs.contains(gid) { groupIDs.append(gid) }
        let names = groupIDs.compactMap { gid in name(gid, in: groups, now: now) { try Accounts.groupName(gid: $0) } }
        return Caller(
            uid: peer.uid, gid: peer.gid, groups: peer.groups, pid: peer.pid, userName: user, groupNames: names,
            process: PeerProcess(pid: peer.pid, pidfd: peer.pidfd))
    }

    private func name(
        _ id: UInt32, in cache: borrowing Mutex<[UInt32: Entry]>, now: Int64, lookup: (UInt32) throws -> String?
    ) -> String? {
        if let hit = cache.withLock({ $0[id] }), hit.expires > now { return hit.name }
        let resolved = (try? lookup(id)) ?? nil
        cache.withLock { table in
            if table.count >= IdentityResolver.maxCacheEntries { table.removeAll(keepingCapacity: true) }
            table[id] = Entry(name: resolved, expires: now + IdentityResolver.cacheMilliseconds)
        }
        return resolved
    }
}
