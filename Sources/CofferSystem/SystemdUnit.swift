/// Finds the systemd unit of a process from its `/proc/<pid>/cgroup`, the way `sd_pid_get_unit(3)` and
/// `sd_pid_get_user_unit(3)` do (systemd `src/basic/cgroup-util.c`: `cg_path_get_unit`, `cg_path_get_user_unit`),
/// without libsystemd.
///
/// Which line: the cgroup v2 line `0::<path>`; on a v1 or hybrid system without a unit there, the
/// `<n>:name=systemd:<path>` line. How the path maps to a unit: leading `*.slice` components are skipped, and the next
/// component, if it is a valid unit name (after undoing systemd's `_` escape), is the unit. Deeper components
/// (delegated sub-cgroups, the unit's own children) do not matter.
///
/// ``parse(cgroupFile:)`` returns the **system manager's** unit. For a process inside a user manager
/// (`user.slice/user-1000.slice/user@1000.service/app.slice/x.service`) that is `user@1000.service`, not `x.service`:
/// the user owns their manager and can give a user unit any name, including that of a system service, so a policy
/// that names `x.service` must not match it. ``parseUserUnit(cgroupFile:)`` returns `x.service` for callers that
/// also check the uid.
public enum SystemdUnit {
    /// The unit of the system manager the cgroup file places the process in, or nil (no unit: the root cgroup, a
    /// bare slice, not systemd, or an invalid name).
    public static func parse(cgroupFile: String) -> String? {
        for path in candidatePaths(cgroupFile) {
            if let unit = unit(fromPath: path) { return unit }
        }
        return nil
    }

    /// The unit inside a user manager (`user@UID.service/…/x.service` gives `x.service`) or a session scope, or nil.
    public static func parseUserUnit(cgroupFile: String) -> String? {
        for path in candidatePaths(cgroupFile) {
            if let unit = userUnit(fromPath: path) { return unit }
        }
        return nil
    }

    /// The system unit for one cgroup path (`/system.slice/foo.service` gives `foo.service`).
    public static func unit(fromPath path: String) -> String? {
        let components = path.split(separator: "/", omittingEmptySubsequences: true)
        let rest = components.drop(while: isSlice)
        guard let first = rest.first else { return nil }
        let name = unescape(first)
        guard isValidUnitName(name, allowInstance: true), !name.hasSuffix(".slice") else { return nil }
        return String(name)
    }

    /// The user-manager unit for one cgroup path (`…/user@1000.service/app.slice/x.service` gives `x.service`).
    public static func userUnit(fromPath path: String) -> String? {
        let components = path.split(separator: "/", omittingEmptySubsequences: true)
        var rest = components.drop(while: isSlice)
        guard let manager = rest.first else { return nil }
        let name = unescape(manager)
        if isUserManager(name) {
            rest = rest.dropFirst()
        } else if isSessionScope(name) {
            rest = rest.dropFirst()
        } else {
            return nil
        }
        return unit(fromPath: rest.joined(separator: "/"))
    }

    /// The cgroup paths to try, best first: the unified (`0::`) line, then v1's `name=systemd` line.
    static func candidatePaths(_ file: String) -> [String] {
        var unified: [String] = []
        var named: [String] = []
        for line in file.split(separator: "\n", omittingEmptySubsequences: true) {
            // <hierarchy-id>:<controllers>:<path>; the path may itself contain ':'.
            let parts = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3 else { continue }
            let controllers = parts[1]
            let path = String(parts[2].trimmingSpaces)
            if parts[0] == "0" && controllers.isEmpty {
                unified.append(path)
            } else if controllers.split(separator: ",").contains("name=systemd") {
                named.append(path)
            }
        }
        return unified + named
    }

    private static func isSlice(_ component: Substring) -> Bool {
        let name = unescape(component)
        return name.hasSuffix(".slice") && isValidUnitName(name, allowInstance: false)
    }

    private static func isUserManager(_ name: Substring) -> Bool {
        // user@<uid>.service
        guard name.hasPrefix("user@"), name.hasSuffix(".service") else { return false }
        let uid = name.dropFirst(5).dropLast(8)
        return !uid.isEmpty && uid.allSatisfy { $0.isASCII && $0.isNumber }
    }

    private static func isSessionScope(_ name: Substring) -> Bool {
        name.hasPrefix("session-") && name.hasSuffix(".scope") && isValidUnitName(name, allowInstance: false)
    }

    /// systemd's `cg_unescape`: a component that would clash with a kernel file or starts with `_`/`.` is stored with a
    /// leading `_`.
    static func unescape(_ component: Substring) -> Substring {
        component.hasPrefix("_") ? component.dropFirst() : component
    }

    private static let unitTypes: Set<Substring> = [
        "service", "socket", "target", "device", "mount", "automount", "swap", "timer", "path", "slice", "scope",
    ]

    /// systemd's `unit_name_is_valid(name, UNIT_NAME_PLAIN | UNIT_NAME_INSTANCE)`: `prefix[@instance].type`, at most
    /// 255 bytes, characters `[A-Za-z0-9:_.\-]` (plus `@` inside the instance), a known type, a non-empty prefix and,
    /// for instances, a non-empty instance (a bare template `foo@.service` never runs). Escapes such as `\x2d` are
    /// part of the name and kept as they are.
    static func isValidUnitName(_ name: Substring, allowInstance: Bool) -> Bool {
        guard !name.isEmpty, name.utf8.count <= 255, let dot = name.lastIndex(of: ".") else { return false }
        guard unitTypes.contains(name[name.index(after: dot)...]) else { return false }
        let stem = name[..<dot]
        func valid(_ c: Character, at: Bool) -> Bool {
            guard c.isASCII else { return false }
            return c.isLetter || c.isNumber || c == ":" || c == "_" || c == "." || c == "-" || c == "\\"
                || (at && c == "@")
        }
        if let at = stem.firstIndex(of: "@") {
            guard allowInstance else { return false }
            let prefix = stem[..<at]
            let instance = stem[stem.index(after: at)...]
            return !prefix.isEmpty && !instance.isEmpty && prefix.allSatisfy { valid($0, at: false) }
                && instance.allSatisfy { valid($0, at: true) }
        }
        return stem.allSatisfy { valid($0, at: false) }
    }
}
