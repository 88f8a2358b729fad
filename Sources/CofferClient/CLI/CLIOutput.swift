import CofferCore
import CofferProtocol

/// What the CLI prints.
package enum CLIOutput {
    // MARK: JSON

    /// A response as the AWS CLI prints it: AWS-shaped JSON, 4-space indentation, dates in AWS CLI v2's format, and
    /// a final newline. An empty response prints nothing (as `aws secretsmanager tag-resource` does).
    package static func responseJSON(_ document: Document) -> String {
        guard !document.isEmpty else { return "" }
        return AWSJSON.json(from: document).serialized(pretty: true) + "\n"
    }

    /// The error line on stderr for an error reply: `{"__type": "<AWS error name>", "Message": "..."}`.
    package static func errorJSON(name: String, message: String) -> String {
        var out = "{\"__type\": "
        JSONValue.writeString(name, to: &out)
        out += ", \"Message\": "
        JSONValue.writeString(message, to: &out)
        out += "}\n"
        return out
    }

    /// What to print on stderr for a failed call, and the exit status: the error JSON (254) for an answer from the
    /// daemon; for transport failures (255), a sentence that names the socket and says how to start the daemon.
    /// `role` says which socket it was: the admin socket's hints name its own option and variable.
    package static func failure(
        _ error: CofferClientError, socketPath: String, role: SocketRole = .client
    ) -> (text: String, status: Int32) {
        let status = CLIExit.status(for: error)
        let text: String
        switch error {
        case .service(let name, let message):
            text = errorJSON(name: name, message: message)
        case .socketNotFound(let path) where role == .admin:
            text =
                "coffer: cannot connect to the Coffer daemon's admin socket: there is no socket at \(path).\n"
                + adminHint
        case .connectionRefused(let path) where role == .admin:
            text =
                "coffer: cannot connect to the Coffer daemon's admin socket: \(path) exists but no daemon is listening "
                + "on it (it stopped or crashed).\n" + adminHint
        case .permissionDenied(let path) where role == .admin:
            text =
                "coffer: cannot connect to the Coffer daemon's admin socket at \(path): permission denied.\n"
                + "  Administration is for root (sudo coffer admin ...) or for the members of the group the\n"
                + "  configuration names in adminSocketGroup.\n"
        case .socketNotFound(let path):
            text = "coffer: cannot connect to the Coffer daemon: there is no socket at \(path).\n" + startHint
        case .connectionRefused(let path):
            text =
                "coffer: cannot connect to the Coffer daemon: \(path) exists but no daemon is listening on it "
                + "(it stopped or crashed).\n" + startHint
        case .permissionDenied(let path):
            text =
                "coffer: cannot connect to the Coffer daemon at \(path): permission denied.\n"
                + "  Your user may not open this socket or its directory; ask the administrator for access,\n"
                + "  or point --socket / COFFER_SOCKET at a daemon you may use.\n"
        case .invalidSocketPath(let path):
            text = "coffer: \"\(path)\" cannot be a socket path (empty, or longer than 107 bytes).\n"
        case .connectionClosed:
            text = "coffer: the Coffer daemon at \(socketPath) closed the connection before answering.\n"
        case .timedOut(let milliseconds):
            text = "coffer: no answer from the Coffer daemon at \(socketPath) within \(milliseconds / 1_000) s.\n"
        default:
            text = "coffer: \(error.message)\n"
        }
        return (text, status)
    }

    private static let adminHint = """
          Is cofferd running? A system daemon's admin socket is \(CofferSocketPath.systemAdminDefault); under `make run`
          it is $PWD/.coffer/run/admin.sock. Choose it with --admin-socket PATH or COFFER_ADMIN_SOCKET.

        """

    private static let startHint = """
          Is cofferd running? In a Coffer checkout, start a development daemon with `make run`
          and use its socket: export COFFER_SOCKET=$PWD/.coffer/run/coffer.sock
          A system daemon listens on \(CofferSocketPath.systemDefault) (systemctl start cofferd).
          Choose the socket with --socket PATH or the COFFER_SOCKET environment variable.

        """

    // MARK: Tables

    /// Columns left-aligned under upper-case headings, two spaces apart; the last column is not padded. Widths
    /// count characters (grapheme clusters).
    package static func table(header: [String], rows: [[String]]) -> String {
        let columns = header.count
        var widths = header.map(\.count)
        for row in rows {
            for (index, cell) in row.prefix(columns).enumerated() { widths[index] = max(widths[index], cell.count) }
        }
        var out = ""
        for row in [header] + rows {
            var line = ""
            for index in 0..<columns {
                let cell = index < row.count ? row[index] : ""
                if index == columns - 1 {
                    line += cell
                } else {
                    line += cell + String(repeating: " ", count: widths[index] - cell.count + 2)
                }
            }
            while line.hasSuffix(" ") { line.removeLast() }
            out += line + "\n"
        }
        return out
    }

    /// `coffer ls`: NAME, LAST CHANGED, DESCRIPTION (and DELETED ON with `--all`).
    package static func secretsTable(_ secrets: [SecretMetadata], showDeletion: Bool) -> String {
        var header = ["NAME", "LAST CHANGED", "DESCRIPTION"]
        if showDeletion { header.insert("DELETED ON", at: 2) }
        let rows = secrets.map { secret -> [String] in
            var row = [
                secret.name, date(secret.lastChangedDate ?? secret.createdDate),
                oneLine(secret.description ?? ""),
            ]
            if showDeletion { row.insert(secret.deletedDate.map(date) ?? "", at: 2) }
            return row
        }
        return table(header: header, rows: rows)
    }

    /// `coffer versions`: VERSION ID, STAGES, CREATED, LAST ACCESSED.
    package static func versionsTable(_ versions: [SecretVersionInfo]) -> String {
        let rows = versions.map { version -> [String] in
            [
                version.versionId,
                version.versionStages.map { $0.isEmpty ? "-" : $0.joined(separator: ",") } ?? "(deprecated)",
                date(version.createdDate),
                version.lastAccessedDate.map { String($0.iso8601Seconds.prefix(10)) } ?? "",
            ]
        }
        return table(header: ["VERSION ID", "STAGES", "CREATED", "LAST ACCESSED"], rows: rows)
    }

    /// `2026-11-29T14:13:41Z` (UTC), or `-`.
    package static func date(_ timestamp: Timestamp?) -> String { timestamp?.iso8601Seconds ?? "-" }

    /// Control characters (newlines in a description) would break the table: shown as spaces.
    static func oneLine(_ text: String) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? " " : $0 }))
    }

    /// The whole listing as one ListSecrets-shaped document (`coffer ls --json`).
    package static func mergedList(_ pages: [Document], member: String) -> Document {
        var all: [Value] = []
        for page in pages { all += page[member]?.listValue ?? [] }
        return [member: .list(all)]
    }
}
