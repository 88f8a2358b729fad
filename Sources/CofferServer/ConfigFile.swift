import CofferCore
import CofferSystem

/// The JSON configuration file (docs/OPERATIONS.md). Unknown keys are errors, so typos do not pass silently.
///
/// ```json
/// {"logLevel": "info", "workers": 2, "socketMode": "0666",
///  "vault": {"partition": "coffer", "region": "local", "accountId": "123456789012"}}
/// ```
public enum DaemonConfigFile {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    public static func apply(path: String, to options: inout DaemonOptions) throws {
        let bytes = try SafeFile.readAll(path: path, maxBytes: 1 << 20)
        let json: JSONValue
        do {
            json = try JSONValue.parse(bytes: bytes)
        } catch {
            throw Failure(description: "\(path): \(error)")
        }
        try apply(json, to: &options, source: path)
    }

    static func apply(_ json: JSONValue, to options: inout DaemonOptions, source: String) throws {
        guard let members = json.objectValue else { throw Failure(description: "\(source): not a JSON object") }
        for (key, value) in members {
            switch key {
            case "stateDirectory": options.stateDirectory = try string(value, key, source)
            case "socket": options.socketPath = try string(value, key, source)
            case "adminSocket": options.adminSocketPath = try string(value, key, source)
            case "keyFile": options.keyFile = try string(value, key, source)
            case "auditLog": options.auditPath = try string(value, key, source)
            case "credentialsSocket": options.credentialsSocketPath = try string(value, key, source)
            case "credentialsSocketMode":
                guard let mode = UInt32(try string(value, key, source), radix: 8), mode <= 0o777 else {
                    throw Failure(description: "\(source): credentialsSocketMode must be octal, like \"0600\"")
                }
                options.credentialsSocketMode = mode
            case "credentialMap":
                guard let units = value.objectValue else {
                    throw Failure(description: "\(source): credentialMap maps units to {credential id: secret name}")
                }
                var map: [String: [String: String]] = [:]
                for (unit, entries) in units {
                    guard let pairs = entries.objectValue else {
                        throw Failure(description: "\(source): credentialMap.\(unit) must be an object")
                    }
                    for (id, secret) in pairs { map[unit, default: [:]][id] = try string(secret, id, source) }
                }
                options.credentialMap = map
            case "logLevel":
                guard let level = LogLevel(name: try string(value, key, source)) else {
                    throw Failure(description: "\(source): unknown logLevel")
                }
                options.logLevel = level
            case "workers":
                guard let n = value.int64Value, (1...64).contains(n) else {
                    throw Failure(description: "\(source): workers must be 1…64")
                }
                options.workers = Int(n)
            case "frameDeadlineMilliseconds":
                options.frameDeadlineMilliseconds = try number(value, key, source, 100...600_000)
            case "idleTimeoutMilliseconds":
                options.idleTimeoutMilliseconds = try number(value, key, source, 1_000...86_400_000)
            case "maxConnections":
                options.maxConnections = try number(value, key, source, 1...1_000_000)
            case "maxConnectionsPerUID":
                options.maxConnectionsPerUID = try number(value, key, source, 1...1_000_000)
            case "rootIsAdministrator":
                guard let flag = value.boolValue else {
                    throw Failure(description: "\(source): rootIsAdministrator must be true or false")
                }
                options.rootIsAdministrator = flag
            case "adminSocketGroup": options.adminSocketGroup = try string(value, key, source)
            case "adminSocketMode":
                guard let mode = UInt32(try string(value, key, source), radix: 8), mode <= 0o777 else {
                    throw Failure(description: "\(source): adminSocketMode must be octal, like \"0660\"")
                }
                options.adminSocketMode = mode
            case "socketMode":
                guard let mode = UInt32(try string(value, key, source), radix: 8), mode <= 0o777 else {
                    throw Failure(description: "\(source): socketMode must be octal, like \"0666\"")
                }
                options.socketMode = mode
            case "masterKey":
                guard let key = value.objectValue else {
                    throw Failure(description: "\(source): masterKey must be an object")
                }
                var kind = "file"
                var credential = "coffer.master-key"
                for (mkey, mvalue) in key {
                    switch mkey {
                    case "source": kind = try string(mvalue, mkey, source)
                    case "path": options.keyFile = try string(mvalue, mkey, source)
                    case "credential": credential = try string(mvalue, mkey, source)
                    case "passphraseStrength":
                        let strength = try string(mvalue, mkey, source)
                        guard strength == "moderate" || strength == "interactive" else {
                            throw Failure(description: "\(source): passphraseStrength is moderate or interactive")
                        }
                        options.passphraseStrength = strength
                    default: throw Failure(description: "\(source): unknown key masterKey.\(mkey)")
                    }
                }
                switch kind {
                case "file": options.keySource = .file
                case "passphrase": options.keySource = .passphrase
                case "systemd-credential": options.keySource = .systemdCredential(name: credential)
                default:
                    throw Failure(description: "\(source): masterKey.source is file, passphrase or systemd-credential")
                }
            case "vault":
                guard let vault = value.objectValue else { throw Failure(description: "\(source): vault: object") }
                for (vkey, vvalue) in vault {
                    switch vkey {
                    case "partition": options.partition = try string(vvalue, vkey, source)
                    case "region": options.region = try string(vvalue, vkey, source)
                    case "accountId": options.accountID = try string(vvalue, vkey, source)
                    default: throw Failure(description: "\(source): unknown key vault.\(vkey)")
                    }
                }
            default:
                throw Failure(description: "\(source): unknown key \(key)")
            }
        }
    }

    static func number(_ value: JSONValue, _ key: String, _ source: String, _ range: ClosedRange<Int>) throws -> Int {
        guard let n = value.int64Value, range.contains(Int(n)) else {
            throw Failure(
                description: "\(source): \(key) must be an integer in \(range.lowerBound)…\(range.upperBound)")
        }
        return Int(n)
    }

    static func string(_ value: JSONValue, _ key: String, _ source: String) throws -> String {
        guard let text = value.stringValue else { throw Failure(description: "\(source): \(key) must be a string") }
        return text
    }
}
