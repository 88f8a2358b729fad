import CofferCore
import CofferProtocol

/// What `coffer admin` prints, and the requests it builds from its options.
package enum AdminOutput {
    // MARK: Status

    /// `coffer admin status`: one aligned `Label: value` line per fact, sizes and durations for humans. Members this
    /// build does not know (a newer daemon) follow under their own names.
    package static func statusText(_ status: Document) -> String {
        var lines: [(String, String)] = []
        var shown: Set<String> = []
        func add(_ label: String, _ value: String?, members: [String]) {
            shown.formUnion(members)
            if let value { lines.append((label, value)) }
        }
        func int(_ key: String) -> Int64? { status[key]?.intValue }
        func string(_ key: String) -> String? { status[key]?.stringValue }

        add("Sealed", status["Sealed"]?.boolValue.map { $0 ? "yes" : "no" }, members: ["Sealed"])
        add("Version", string("Version"), members: ["Version"])
        add("Uptime", int("UptimeSeconds").map(duration(seconds:)), members: ["UptimeSeconds"])
        add("Vault", string("VaultId"), members: ["VaultId"])
        add(
            "Account",
            string("AccountId").map { account in
                let place = [string("Partition"), string("Region")].compactMap { $0 }
                return place.isEmpty ? account : "\(account) (\(place.joined(separator: ", ")))"
            }, members: ["AccountId", "Partition", "Region"])
        add("Secrets", int("Secrets").map { String($0) }, members: ["Secrets"])
        add("Versions", int("Versions").map { String($0) }, members: ["Versions"])
        add("Database", int("DatabaseBytes").map(bytes), members: ["DatabaseBytes"])
        add("Key source", string("KeySource"), members: ["KeySource"])
        let sealed = status["Sealed"]?.boolValue == true
        add("Master key", int("KeyId").map { "id \($0)" } ?? (sealed ? "- (sealed)" : nil), members: ["KeyId"])
        if let rotation = status["Rotation"]?.mapValue {
            let rewrapped = rotation["Rewrapped"]?.intValue ?? 0
            add(
                "Rotation", "running, \(rotationProgress(rewrapped: rewrapped, versions: int("Versions")))",
                members: ["Rotation"])
        }
        add("Rotation error", string("RotationError").map(oneLine), members: ["RotationError"])
        add("Connections", int("Connections").map { String($0) }, members: ["Connections"])
        add("Requests", int("Requests").map { String($0) }, members: ["Requests"])
        add("Audit records", int("AuditRecords").map { String($0) }, members: ["AuditRecords"])
        add("Audit head", string("AuditHead"), members: ["AuditHead"])
        add(
            "Audit failures", int("AuditWriteFailures").map { $0 == 0 ? "0" : "\($0) (writes failed: see the log)" },
            members: ["AuditWriteFailures"])
        for (key, value) in status.fields where !shown.contains(key) {
            lines.append((key, plain(value)))
        }
        return aligned(lines)
    }

    /// `rewrapped 1024 of ~3590 data keys (28%)` (one data key per version; the total is an estimate because
    /// versions written during the rotation are already under the new key).
    package static func rotationProgress(rewrapped: Int64, versions: Int64?) -> String {
        guard let versions, versions > 0 else { return "\(rewrapped) data keys rewrapped" }
        let percent = min(100, rewrapped * 100 / versions)
        return "\(rewrapped) of ~\(versions) data keys rewrapped (\(percent)%)"
    }

    /// `Label:` padded so that the values line up.
    package static func aligned(_ lines: [(String, String)]) -> String {
        let width = (lines.map { $0.0.count }.max() ?? 0) + 2
        var out = ""
        for (label, value) in lines {
            let head = label + ":"
            out += head + String(repeating: " ", count: max(1, width - head.count + 1)) + value + "\n"
        }
        return out
    }

    /// `512 B`, `12.3 KiB`, `1.5 GiB` — with the exact count after it from 1 KiB on.
    package static func bytes(_ count: Int64) -> String {
        guard count >= 1_024 else { return "\(count) B" }
        let units = ["KiB", "MiB", "GiB", "TiB", "PiB"]
        var unit = 0
        var scaled = Double(count) / 1_024
        while scaled >= 1_024, unit < units.count - 1 {
            scaled /= 1_024
            unit += 1
        }
        let tenths = Int64((scaled * 10).rounded())
        return "\(tenths / 10).\(tenths % 10) \(units[unit]) (\(count) bytes)"
    }

    /// `45s`, `12m 5s`, `3h 4m 12s`, `2d 3h 4m`.
    package static func duration(seconds total: Int64) -> String {
        let seconds = max(0, total)
        let days = seconds / 86_400
        let hours = seconds % 86_400 / 3_600
        let minutes = seconds % 3_600 / 60
        let rest = seconds % 60
        if days > 0 { return "\(days)d \(hours)h \(minutes)m" }
        if hours > 0 { return "\(hours)h \(minutes)m \(rest)s" }
        if minutes > 0 { return "\(minutes)m \(rest)s" }
        return "\(rest)s"
    }

    /// A value as plain text (unknown status members).
    static func plain(_ value: Value) -> String {
        switch value {
        case .string(let text): return oneLine(text)
        case .bool(let flag): return flag ? "yes" : "no"
        case .timestamp(let time): return time.iso8601Seconds
        default: return oneLine(value.description)
        }
    }

    static func oneLine(_ text: String) -> String { CLIOutput.oneLine(text) }

    // MARK: Audit

    /// `coffer admin audit verify`.
    package static func verifyText(_ result: Document) -> String {
        var lines: [(String, String)] = [
            ("Valid", result["Valid"]?.boolValue == true ? "yes" : "no"),
            ("Records", result["Records"]?.intValue.map { String($0) } ?? "-"),
        ]
        if let line = result["FirstBadLine"]?.intValue {
            let sequence = result["FirstBadSequence"]?.intValue.map { " (sequence \($0))" } ?? ""
            lines.append(("First bad line", "\(line)\(sequence)"))
        }
        if let reason = result["Reason"]?.stringValue { lines.append(("Reason", oneLine(reason))) }
        if let head = result["Head"]?.stringValue { lines.append(("Head", head)) }
        return aligned(lines)
    }

    /// The audit records as a table: TIME, PRINCIPAL, OPERATION, RESOURCE, DECISION, ERROR. Secret ARNs are shortened
    /// to the name and its suffix (`--json` has the whole record).
    package static func auditTable(_ records: [String]) -> String {
        let rows = records.map { line -> [String] in
            guard let record = try? JSONValue.parse(line) else { return ["(unreadable record)", "", "", "", "", ""] }
            let time = record["time"]?.stringValue
            let shownTime = time.flatMap(Timestamp.init(parsing:))?.iso8601Seconds ?? time ?? "-"
            return [
                shownTime, principal(record["principal"]), record["operation"]?.stringValue ?? "-",
                resource(record["resource"]?.stringValue), record["decision"]?.stringValue ?? "-",
                record["error"]?.stringValue ?? "",
            ].map(oneLine)
        }
        return CLIOutput.table(
            header: ["TIME", "PRINCIPAL", "OPERATION", "RESOURCE", "DECISION", "ERROR"], rows: rows)
    }

    /// `alice`, `uid:1001`, `app (app.service)`.
    static func principal(_ principal: JSONValue?) -> String {
        guard let principal else { return "-" }
        let name = principal["user"]?.stringValue ?? principal["uid"]?.int64Value.map { "uid:\($0)" } ?? "-"
        if let unit = principal["unit"]?.stringValue { return "\(name) (\(unit))" }
        return name
    }

    /// A secret's ARN as `name-suffix`; anything else as given; `-` for none.
    static func resource(_ resource: String?) -> String {
        guard let resource else { return "-" }
        // arn:partition:secretsmanager:region:account:secret:name-suffix
        let parts = resource.split(separator: ":", maxSplits: 6, omittingEmptySubsequences: false)
        guard parts.count == 7, parts[0] == "arn", parts[5] == "secret" else { return resource }
        return String(parts[6])
    }

    /// The decisions the audit log records.
    package static let decisions = ["allowed", "explicitDeny", "implicitDeny", "notEvaluated", "rejected"]

    /// The AuditQuery request for `coffer admin audit query`'s options (checked here: the daemon matches exactly).
    package static func auditQuery(
        principal: String? = nil, secret: String? = nil, decision: String? = nil, operation: String? = nil,
        since: String? = nil, until: String? = nil, limit: Int? = nil
    ) throws(UsageError) -> Document {
        var request: Document = [:]
        if let principal { request["Principal"] = .string(principal) }
        if let secret { request["Secret"] = .string(secret) }
        if let decision {
            guard let known = decisions.first(where: { $0.lowercased() == decision.lowercased() }) else {
                throw UsageError(
                    "Unknown decision \"\(decision)\"; one of: \(decisions.joined(separator: ", ")).")
            }
            request["Decision"] = .string(known)
        }
        if let operation {
            guard let known = Operation(name: operation) else {
                throw UsageError("Unknown operation \"\(operation)\" (an AWS name like GetSecretValue or Unseal).")
            }
            request["Operation"] = .string(known.name)
        }
        for (option, text, key) in [("--since", since, "Since"), ("--until", until, "Until")] {
            guard let text else { continue }
            guard let time = Timestamp(parsing: text) else {
                throw UsageError(
                    "\(option) \"\(text)\" is not a time (2026-11-29, 2026-11-29T14:13:41Z, or epoch seconds).")
            }
            request[key] = .timestamp(time)
        }
        if let limit {
            guard auditLimits.contains(limit) else {
                throw UsageError("--limit must be between \(auditLimits.lowerBound) and \(auditLimits.upperBound).")
            }
            request["Limit"] = .int(Int64(limit))
        }
        return request
    }

    /// What AuditQuery accepts as Limit.
    package static let auditLimits = 1...10_000

    // MARK: Keys

    /// `coffer admin key systemd-creds-command`: the command that turns the key file into an encrypted systemd
    /// credential, and what to do next. Printed, never run.
    package static func systemdCredsCommand(credential: String, keyFile: String) throws(UsageError) -> String {
        guard !credential.isEmpty, !credential.contains("/"), credential != ".", credential != ".." else {
            throw UsageError("\"\(credential)\" cannot be a credential name (a file name: no /).")
        }
        let encrypted = "/etc/credstore.encrypted/\(credential)"
        let config =
            credential == "coffer.master-key"
            ? #""masterKey": {"source": "systemd-credential"}"#
            : #""masterKey": {"source": "systemd-credential", "credential": "\#(credential)"}"#
        return """
            # Run as root on this host (it needs the host key or the TPM2; add --with-key=tpm2 to bind it to the TPM):
            systemd-creds encrypt --name=\(shellQuoted(credential)) \(shellQuoted(keyFile)) \(shellQuoted(encrypted))
            # Then:
            #   1. In /etc/systemd/system/coffer.service.d/master-key.conf:
            #        [Service]
            #        LoadCredentialEncrypted=\(credential)
            #   2. In the configuration file: \(config)
            #   3. systemctl daemon-reload && systemctl restart coffer
            #   4. coffer admin status   # Key source: systemd-credential, and the same master key id as before
            #   5. Only then remove the plain key: shred -u \(shellQuoted(keyFile))
            # Keep a copy of the key offline: the credential only decrypts on this host.

            """
    }

    /// A word for a POSIX shell: as is when it has only safe characters, else in single quotes.
    package static func shellQuoted(_ word: String) -> String {
        let safe = word.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
                || "/._-+=:,@%".utf8.contains(c)
        }
        if safe, !word.isEmpty { return word }
        return "'" + word.split(separator: "'", omittingEmptySubsequences: false).joined(separator: #"'\''"#) + "'"
    }
}
