import CofferCore
import CofferSystem

#if canImport(Glibc)
    import Glibc
#endif

/// Secret values written to files (`coffer render`, `coffer run --file`).
package enum SecretFiles {
    /// The file a value was written to, to remove it later only if it is still that file.
    package struct Written: Equatable, Sendable {
        package var path: String
        package var device: UInt64
        package var inode: UInt64
    }

    /// The uid and gid for each file (nil: unchanged, the writer's). Naming an owner or group is for root: giving a
    /// file away is what a service's start-up (run as root) does for the service's user.
    package static func owners(_ files: [FileInjection]) throws(UsageError) -> [(uid: UInt32?, gid: UInt32?)] {
        var out: [(uid: UInt32?, gid: UInt32?)] = []
        for file in files {
            if (file.owner != nil || file.group != nil) && geteuid() != 0 {
                throw UsageError(
                    "--file \(file.path): only root may set a file's owner or group; leave OWNER and GROUP out.")
            }
            var uid: UInt32?
            var gid: UInt32?
            if let owner = file.owner { uid = try id(owner, group: false) }
            if let group = file.group { gid = try id(group, group: true) }
            out.append((uid, gid))
        }
        return out
    }

    static func id(_ account: AccountReference, group: Bool) throws(UsageError) -> UInt32 {
        switch account {
        case .id(let id): return id
        case .name(let name):
            let found: UInt32?
            do {
                found = group ? try Accounts.gid(named: name) : try Accounts.uid(named: name)
            } catch {
                throw UsageError("Cannot look up the \(group ? "group" : "user") \(name): \(error).")
            }
            guard let found else { throw UsageError("There is no \(group ? "group" : "user") named \(name).") }
            return found
        }
    }

    /// Refuses, before anything is fetched, targets that would be refused when writing: a symbolic link, something
    /// other than a regular file, or (without `replace`) anything at all.
    package static func checkTargets(_ files: [FileInjection], replace: Bool) throws(UsageError) {
        for file in files {
            do {
                try AtomicOutputFile.checkTarget(file.path, replace: replace)
            } catch .exists(let path) {
                throw UsageError("\(path) exists; coffer run writes only new files (and removes them afterwards).")
            } catch {
                throw UsageError("\(error)")
            }
        }
    }

    /// Writes `value` to `file.path` atomically with its mode and owner.
    package static func write(
        _ value: SensitiveBytes, to file: FileInjection, uid: UInt32?, gid: UInt32?, replace: Bool
    ) throws(OutputFileError) -> Written {
        let output = try AtomicOutputFile(path: file.path, mode: file.mode, replace: replace)
        try value.withUnsafeBytes { raw in Result { () throws(OutputFileError) in try output.write(raw) } }.get()
        try output.changeOwner(uid: uid, gid: gid)
        try output.commit()
        return Written(path: file.path, device: output.device, inode: output.inode)
    }

    /// Removes a written file if the path still names it (the command may have replaced or removed it).
    package static func remove(_ written: Written) {
        var st = stat()
        guard lstat(written.path, &st) == 0, UInt64(st.st_dev) == written.device, UInt64(st.st_ino) == written.inode
        else { return }
        _ = unlink(written.path)
    }
}
