import CofferCore
import CofferProtocol
import CofferSystem
import Glibc
import Testing

/// `coffer run` and `coffer render` through the real binary against the real daemon.
@Suite(.serialized) struct RunRenderTests {
    @discardableResult
    func run(
        _ d: Daemon, _ arguments: [String], stdin: [UInt8] = [], status: Int32 = 0,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> ProcessResult {
        let result = try d.cli(arguments, stdin: stdin)
        #expect(
            result.status == status,
            "coffer \(arguments.joined(separator: " ")): \(result.status) \(result.stdoutText) \(result.stderrText)",
            sourceLocation: sourceLocation)
        return result
    }

    /// A daemon holding app/db = hunter2 (AWSPREVIOUS) then s3cr3t (AWSCURRENT), and api/token.
    func daemon() throws -> Daemon {
        let d = try Daemon()
        try run(d, ["create", "app/db", "--value", "hunter2"])
        try run(d, ["put", "app/db", "--value", "s3cr3t"])
        try run(d, ["create", "api/token", "--value", "tok-1"])
        return d
    }

    func status(_ path: String) throws -> FileStatus? { try SafeFile.status(path: path) }

    // MARK: run

    @Test func theValueIsInTheCommandsEnvironment() throws {
        let d = try daemon()
        let printed = try run(
            d, ["run", "--env", "DB_PASSWORD=app/db", "--", "/bin/sh", "-c", #"printf %s "$DB_PASSWORD""#])
        #expect(printed.stdoutText == "s3cr3t")
        let env = try run(
            d, ["run", "--env", "DB_PASSWORD=app/db@AWSPREVIOUS", "--env", "TOKEN=api/token", "--", "/usr/bin/env"])
        let lines = env.stdoutText.split(separator: "\n").map(String.init)
        #expect(lines.contains("DB_PASSWORD=hunter2"))
        #expect(lines.contains("TOKEN=tok-1"))
        // The rest of the environment is passed on.
        #expect(lines.contains("COFFER_ADMIN_SOCKET=\(d.adminSocketPath)"))
        // Looked up in $PATH; after --, the command's options are its own (even --help).
        let bare = try run(d, ["run", "--env", "X=api/token", "--", "sh", "-c", #"printf %s "$X""#, "--help"])
        #expect(bare.stdoutText == "tok-1")
        // Without --, or with a mistyped option, nothing runs.
        try run(d, ["run", "--env", "X=api/token", "sh", "-c", "echo ran"], status: 252)
        #expect(try run(d, ["run", "--evn", "X=api/token", "--", "sh", "-c", "echo ran"], status: 252).stdout.isEmpty)
        #expect(try run(d, ["run", "--help"]).stdoutText.contains("USAGE: coffer run"))
    }

    @Test func anInjectedVariableReplacesAnInheritedOne() throws {
        let d = try daemon()
        let result = try d.cli(
            ["run", "--env", "TOKEN=api/token", "--", "/bin/sh", "-c", #"printf %s "$TOKEN""#],
            environment: ["TOKEN": "inherited"])
        #expect(result.status == 0)
        #expect(result.stdoutText == "tok-1")
    }

    @Test func noSecretInArgv() throws {
        let d = try daemon()
        // The command's argv is what was given; nothing of the value in it.
        let result = try run(
            d, ["run", "--env", "DB_PASSWORD=app/db", "--", "/bin/sh", "-c", #"tr '\0' ' ' < /proc/$$/cmdline"#])
        #expect(result.stdoutText.contains("/bin/sh -c"))
        #expect(!result.stdoutText.contains("s3cr3t"))
    }

    @Test func theExitStatusIsTheCommands() throws {
        let d = try daemon()
        try run(d, ["run", "--env", "X=app/db", "--", "/bin/sh", "-c", "exit 42"], status: 42)
        try run(d, ["run", "--env", "X=app/db", "--", "/bin/true"], status: 0)
        // Killed by a signal: the shell convention, 128 + the signal. (SIGKILL: the test runner's threads block
        // other signals, and a blocked mask is inherited through coffer, as through any exec.)
        try run(d, ["run", "--env", "X=app/db", "--", "/bin/sh", "-c", "kill -KILL $$"], status: 137)
        try run(d, ["run", "--env", "X=app/db", "--", "no-such-command-xyz"], status: 127)
        let notExecutable = d.root + "/script"
        try SafeFile.createExclusive(path: notExecutable, mode: 0o644, contents: Array("#!/bin/sh\n".utf8))
        try run(d, ["run", "--env", "X=app/db", "--", notExecutable], status: 126)
    }

    @Test func badNamesAndMissingSecretsRunNothing() throws {
        let d = try daemon()
        let marker = ["--", "/bin/sh", "-c", "echo ran"]
        for bad in ["1X=app/db", "DB-PASSWORD=app/db", "A B=app/db", "=app/db", "NOVALUE"] {
            let refused = try run(d, ["run", "--env", bad] + marker, status: 252)
            #expect(refused.stdout.isEmpty, "\(bad)")
            #expect(refused.stderrText.hasPrefix("coffer: "), "\(bad)")
        }
        try run(d, ["run", "--env", "A=app/db", "--env", "A=api/token"] + marker, status: 252)
        try run(d, ["run", "--env", "A=app/db"], status: 252)  // no command
        let missing = try run(d, ["run", "--env", "A=app/db", "--env", "B=app/nope"] + marker, status: 254)
        #expect(missing.stdout.isEmpty)
        #expect(missing.stderrText.contains("cannot fetch app/nope for B"))
        #expect(missing.stderrText.contains(#"{"__type": "ResourceNotFoundException""#))
        #expect(!missing.stderrText.contains("s3cr3t"))
        // A binary value with a NUL byte cannot be a variable.
        try run(d, ["create", "bin", "--binary"], stdin: [1, 0, 2])
        try run(d, ["run", "--env", "B=bin"] + marker, status: 252)
    }

    @Test func filesExistForTheCommandsLifetime() throws {
        let d = try daemon()
        let path = d.root + "/db-password"
        let result = try run(
            d,
            [
                "run", "--file", "\(path)=app/db:0440", "--env", "T=api/token", "--", "/bin/sh", "-c",
                #"stat -c %a "$0"; cat "$0"; printf " %s" "$T"; exit 3"#, path,
            ], status: 3)
        #expect(result.stdoutText == "440\ns3cr3t tok-1")
        #expect(try status(path) == nil)
        // The issue's spelling, default mode 0400.
        let colon = try run(d, ["run", "--file", "\(path):app/db", "--", "/usr/bin/stat", "-c", "%a %s", path])
        #expect(colon.stdoutText == "400 6\n")
        #expect(try status(path) == nil)
        // An existing file is not taken over (it would be removed afterwards).
        try SafeFile.createExclusive(path: path, mode: 0o600, contents: Array("mine".utf8))
        try run(d, ["run", "--file", "\(path)=app/db", "--", "/bin/true"], status: 252)
        #expect(try SafeFile.readAll(path: path, maxBytes: 100) == Array("mine".utf8))
    }

    @Test func withFilesASignalReachesTheCommandAndTheFilesAreRemoved() throws {
        let d = try daemon()
        let path = d.root + "/token"
        let started = d.root + "/started"
        // The command records that it started, then waits; coffer (its parent) gets SIGTERM, passes it on.
        let pid = try spawnWithNoSignalsBlocked([
            Daemon.coffer, "--socket", d.socketPath, "run", "--file", "\(path)=api/token", "--", "/bin/sh", "-c",
            "touch \(started); exec sleep 30",
        ])
        var waited = 0
        while try status(started) == nil, waited < 500 {
            usleep(10_000)
            waited += 1
        }
        #expect(try status(path)?.mode == 0o400)
        kill(pid, SIGTERM)
        var raw: Int32 = 0
        while waitpid(pid, &raw, 0) < 0 && errno == EINTR {}
        // coffer died of the same signal, after removing the file.
        #expect(raw & 0x7F == SIGTERM)
        #expect(try status(path) == nil)
    }

    // MARK: render

    @Test func renderWritesExactModesAndContents() throws {
        let d = try daemon()
        let a = d.root + "/a"
        let b = d.root + "/b"
        let c = d.root + "/c"
        let result = try run(
            d,
            [
                "render", "--file", "\(a)=app/db", "--file", "\(b)=app/db@AWSPREVIOUS:0640", "--file",
                "\(c):api/token:0600",
            ])
        #expect(result.stdout.isEmpty)
        #expect(try SafeFile.readAll(path: a, maxBytes: 100) == Array("s3cr3t".utf8))
        #expect(try SafeFile.readAll(path: b, maxBytes: 100) == Array("hunter2".utf8))
        #expect(try SafeFile.readAll(path: c, maxBytes: 100) == Array("tok-1".utf8))
        #expect(try status(a)?.mode == 0o400)
        #expect(try status(b)?.mode == 0o640)
        #expect(try status(c)?.mode == 0o600)
        #expect(!(try Subprocess.run(["/bin/ls", "-a", d.root]).stdoutText.contains(".coffer-")))

        // Rendering again replaces the file (a new inode: renamed over, not rewritten in place).
        let before = try status(a)?.inode
        try run(d, ["put", "app/db", "--value", "rotated"])
        try run(d, ["render", "--file", "\(a)=app/db"])
        #expect(try SafeFile.readAll(path: a, maxBytes: 100) == Array("rotated".utf8))
        #expect(try status(a)?.inode != before)
        #expect(try status(a)?.mode == 0o400)

        // Owner and group by number or name (root).
        try run(d, ["render", "--file", "\(a)=app/db:0440:65534:nogroup"])
        #expect(try status(a)?.uid == 65_534)
        #expect(try status(a)?.gid == 65_534)
        try run(d, ["render", "--file", "\(a)=app/db:0440:root:0"])
        #expect(try status(a)?.uid == 0)
    }

    @Test func renderRefusesASymlinkedTarget() throws {
        let d = try daemon()
        let target = d.root + "/target"
        try SafeFile.createExclusive(path: target, mode: 0o600, contents: Array("untouched".utf8))
        #expect(symlink(target, d.root + "/link") == 0)
        let refused = try run(d, ["render", "--file", "\(d.root)/link=app/db"], status: 252)
        #expect(refused.stderrText.contains("symbolic link"))
        #expect(try SafeFile.readAll(path: target, maxBytes: 100) == Array("untouched".utf8))
        #expect(try status(d.root + "/link")?.kind == .symlink)
    }

    @Test func renderWritesNothingUnlessEverySecretCanBeRead() throws {
        let d = try daemon()
        let a = d.root + "/a"
        let missing = try run(d, ["render", "--file", "\(a)=app/db", "--file", "\(d.root)/b=app/nope"], status: 254)
        #expect(missing.stderrText.contains("ResourceNotFoundException"))
        #expect(try status(a) == nil)
        try run(d, ["render"], status: 252)
        try run(d, ["render", "--file", "\(a)=app/db:0999"], status: 252)
        try run(d, ["render", "--file", "\(d.root)/no-dir/a=app/db"], status: 255)
    }

    @Test func onlyRootGivesFilesAway() throws {
        let d = try daemon()
        let nobody = TestUser(name: "nobody", uid: 65_534, gid: 65_534)
        let result = try d.cli(["render", "--file", "/tmp/coffer-never=app/db:0400:root"], as: nobody)
        #expect(result.status == 252)
        #expect(result.stderrText.contains("only root"))
        #expect(try status("/tmp/coffer-never") == nil)
    }

    /// posix_spawn with an empty signal mask: the test runner's threads block signals, and a child inherits that.
    func spawnWithNoSignalsBlocked(_ arguments: [String]) throws -> pid_t {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK))
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        let argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, arguments[0], &actions, &attributes, argv, environ)
        guard rc == 0 else { throw SubprocessError(message: "posix_spawn: \(rc)") }
        return pid
    }
}
