import CofferCore
import CofferCrypto
import CofferProtocol
import CofferStore
import CofferSystem
import Glibc
import Testing

@testable import CofferVault

@Suite struct BackupRestoreTests {
    /// Everything observable about the vault: values of every version, labels, tags, descriptions, policies.
    func fingerprint(_ h: Harness) throws -> [String] {
        var out: [String] = []
        let list = try h.ok(.listSecrets, ["IncludePlannedDeletion": true])
        for entry in (list["SecretList"]?.listValue ?? []).compactMap(\.mapValue) {
            let name = entry["Name"]?.stringValue ?? ""
            let described = try h.ok(.describeSecret, ["SecretId": .string(name)])
            out.append(
                "\(name) desc=\(described["Description"]?.stringValue ?? "-") tags=\(described["Tags"].map { "\($0)" } ?? "-") deleted=\(described["DeletedDate"] != nil)"
            )
            let versions = try h.ok(.listSecretVersionIds, ["SecretId": .string(name), "IncludeDeprecated": true])
            for v in (versions["Versions"]?.listValue ?? []).compactMap(\.mapValue) {
                let id = v["VersionId"]?.stringValue ?? ""
                var value = "(scheduled)"
                if described["DeletedDate"] == nil {
                    let got = try h.ok(.getSecretValue, ["SecretId": .string(name), "VersionId": .string(id)])
                    value =
                        got.secretText("SecretString") ?? got.secretBytes("SecretBinary").map { Hex.encode($0) } ?? "?"
                }
                out.append("  \(id) \(v.strings("VersionStages")) \(value)")
            }
            let policy = try h.ok(.getResourcePolicy, ["SecretId": .string(name)])
            out.append("  policy=\(policy["ResourcePolicy"]?.stringValue ?? "-")")
        }
        return out.sorted()
    }

    @Test func backupThenRestoreIsIdentical() throws {
        let h = try Harness()
        for i in 0..<12 {
            try h.create(
                "b/\(i)", "v\(i)",
                extra: [
                    "Description": .string("d\(i)"),
                    "Tags": .list([.map(["Key": "n", "Value": .string("\(i)")])]),
                ])
            _ = try h.put("b/\(i)", "v\(i)-2", stages: i % 2 == 0 ? nil : ["CUSTOM"])
        }
        try h.ok(.createSecret, ["Name": "bin", "SecretBinary": .bytes([0, 1, 2, 255])])
        let policy =
            #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:coffer:iam::123456789012:user/bob"},"Action":"secretsmanager:GetSecretValue","Resource":"*"}]}"#
        try h.ok(.putResourcePolicy, ["SecretId": "b/3", "ResourcePolicy": .string(policy)])
        try h.ok(.deleteSecret, ["SecretId": "b/5", "RecoveryWindowInDays": 30])
        let before = try fingerprint(h)

        // Stream the backup as the CLI does.
        var file: [UInt8] = []
        var id: String?
        var sha = ""
        while true {
            var request: Document = ["Offset": .int(Int64(file.count))]
            if let id { request["BackupId"] = .string(id) }
            let reply = OneShot<Result<Document, ServiceError>>()
            h.vault.handleAdmin(.backup, request, caller: .system) { reply.fulfill($0) }
            let chunk = try reply.wait().get()
            id = chunk["BackupId"]?.stringValue
            sha = chunk["Sha256"]?.stringValue ?? ""
            if case .bytes(let bytes)? = chunk["Chunk"] { file += bytes }
            if chunk["Done"]?.boolValue == true { break }
        }
        #expect(Hex.encode(Digest.sha256(file)) == sha)
        // The snapshot file is gone from the state directory once streamed.
        #expect(system("ls '\(h.dir.path)' | grep -q '^backup-'") != 0)
        let backupPath = h.dir.path + "/copy.backup"
        try SafeFile.createExclusive(path: backupPath, mode: 0o600, contents: file)

        let target = TempDir()
        let report = try Vault.restore(backup: backupPath, into: target.path + "/vault.db", keys: [h.key])
        #expect(report.secrets == 13)
        #expect(report.verifiedValues == report.versions)
        let restored = try Harness(existing: (target.path + "/vault.db", h.key, h.clock, target))
        let after = try fingerprint(restored)
        #expect(
            after == before,
            "missing: \(Set(before).subtracting(after).sorted()) extra: \(Set(after).subtracting(before).sorted())")
        restored.vault.close()

        // Restoring with the wrong key fails and leaves nothing behind.
        let other = TempDir()
        #expect(throws: (any Error).self) {
            try Vault.restore(backup: backupPath, into: other.path + "/vault.db", keys: [try MasterKey.generate(id: 1)])
        }
        #expect(try SafeFile.status(path: other.path + "/vault.db") == nil)
        // A corrupted backup is refused.
        var corrupt = file
        for i in stride(from: 4_096, to: min(corrupt.count, 12_288), by: 1) { corrupt[i] ^= 0x5A }
        let bad = h.dir.path + "/corrupt.backup"
        try SafeFile.createExclusive(path: bad, mode: 0o600, contents: corrupt)
        #expect(throws: (any Error).self) {
            try Vault.restore(backup: bad, into: other.path + "/vault.db", keys: [h.key])
        }
    }
}
