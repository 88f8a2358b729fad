import Glibc
import Testing

@testable import CofferSystem

struct UnitCase: Sendable, CustomTestStringConvertible {
    var cgroupFile: String
    var unit: String?
    var userUnit: String?
    var testDescription: String { cgroupFile.split(separator: "\n").last.map(String.init) ?? "<empty>" }
}

@Suite("SystemdUnit: /proc/<pid>/cgroup to unit name")
struct SystemdUnitTests {
    static let cases: [UnitCase] = [
        // cgroup v2: system services
        UnitCase(cgroupFile: "0::/system.slice/foo.service\n", unit: "foo.service", userUnit: nil),
        UnitCase(cgroupFile: "0::/system.slice/postgresql.service", unit: "postgresql.service", userUnit: nil),
        UnitCase(cgroupFile: "0::/system.slice/foo.service/sub/cgroup\n", unit: "foo.service", userUnit: nil),
        UnitCase(cgroupFile: "0::/init.scope\n", unit: "init.scope", userUnit: nil),
        // nested slices, templated instances, escaped characters
        UnitCase(
            cgroupFile: "0::/system.slice/system-getty.slice/getty@tty1.service\n", unit: "getty@tty1.service",
            userUnit: nil),
        UnitCase(
            cgroupFile: "0::/system.slice/system-systemd\\x2dfsck.slice/systemd-fsck@dev-disk-by\\x2duuid-12.service\n",
            unit: "systemd-fsck@dev-disk-by\\x2duuid-12.service", userUnit: nil),
        UnitCase(cgroupFile: "0::/app.slice/app-web.slice/web@1.service\n", unit: "web@1.service", userUnit: nil),
        UnitCase(cgroupFile: "0::/system.slice/_foo.service\n", unit: "foo.service", userUnit: nil),
        UnitCase(cgroupFile: "0::/system.slice/docker-0123abcd.scope\n", unit: "docker-0123abcd.scope", userUnit: nil),
        // user sessions and user managers: the system unit, and separately the user unit
        UnitCase(
            cgroupFile: "0::/user.slice/user-1000.slice/session-3.scope\n", unit: "session-3.scope", userUnit: nil),
        UnitCase(
            cgroupFile: "0::/user.slice/user-1000.slice/user@1000.service/app.slice/x.service\n",
            unit: "user@1000.service", userUnit: "x.service"),
        UnitCase(
            cgroupFile: "0::/user.slice/user-1000.slice/user@1000.service/app.slice/app-foo.slice/foo@1.service\n",
            unit: "user@1000.service", userUnit: "foo@1.service"),
        UnitCase(
            cgroupFile: "0::/user.slice/user-1000.slice/user@1000.service/init.scope\n", unit: "user@1000.service",
            userUnit: "init.scope"),
        UnitCase(
            cgroupFile: "0::/user.slice/user-1000.slice/user@1000.service/app.slice\n", unit: "user@1000.service",
            userUnit: nil),
        // cgroup v1 hybrid and legacy
        UnitCase(
            cgroupFile: """
                12:memory:/process_api/abc
                1:name=systemd:/system.slice/legacy.service
                0::/
                """, unit: "legacy.service", userUnit: nil),
        UnitCase(
            cgroupFile: """
                5:cpu,cpuacct:/system.slice/other.service
                1:name=systemd:/system.slice/hybrid.service
                0::/system.slice/hybrid.service
                """, unit: "hybrid.service", userUnit: nil),
        UnitCase(cgroupFile: "4:memory:/process_api/0123\n0::/\n", unit: nil, userUnit: nil),
        // nothing to find
        UnitCase(cgroupFile: "0::/\n", unit: nil, userUnit: nil),
        UnitCase(cgroupFile: "0::/user.slice\n", unit: nil, userUnit: nil),
        UnitCase(cgroupFile: "0::/system.slice/\n", unit: nil, userUnit: nil),
        UnitCase(cgroupFile: "", unit: nil, userUnit: nil),
        UnitCase(cgroupFile: "garbage without colons\n", unit: nil, userUnit: nil),
        UnitCase(cgroupFile: "0::/docker/0123abcd\n", unit: nil, userUnit: nil),
        UnitCase(cgroupFile: "0::/system.slice/foo@.service\n", unit: nil, userUnit: nil),
        UnitCase(cgroupFile: "0::/system.slice/foo.notatype\n", unit: nil, userUnit: nil),
        UnitCase(cgroupFile: "0::/system.slice/fo o.service\n", unit: nil, userUnit: nil),
        UnitCase(
            cgroupFile: "0::/system.slice/" + String(repeating: "a", count: 250) + ".service\n", unit: nil,
            userUnit: nil),
        // a user-controlled name never passes for a system unit
        UnitCase(
            cgroupFile: "0::/user.slice/user-1000.slice/user@1000.service/app.slice/postgresql.service\n",
            unit: "user@1000.service", userUnit: "postgresql.service"),
    ]

    @Test(arguments: cases)
    func parse(_ fixture: UnitCase) {
        #expect(SystemdUnit.parse(cgroupFile: fixture.cgroupFile) == fixture.unit)
        #expect(SystemdUnit.parseUserUnit(cgroupFile: fixture.cgroupFile) == fixture.userUnit)
    }

    @Test("the unit of this very process parses without crashing and agrees with ProcessFacts")
    func ownProcess() throws {
        let facts = try #require(ProcessFacts.read(pid: getpid(), pidfd: try ProcessFacts.openPidfd(pid: getpid())))
        let cgroup = try #require(facts.cgroup)
        #expect(facts.systemdUnit == SystemdUnit.parse(cgroupFile: cgroup))
    }
}
