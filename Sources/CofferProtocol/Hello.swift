import CofferCore

/// The `Hello` operation (docs/PROTOCOL.md, section 7.1): version negotiation and health check.
public enum Hello {
    /// A Hello request listing the versions this codec speaks, naming the client (`coffer/0.1`).
    public static func request(client: String? = nil, versions: [Int64] = WireFormat.supportedVersions) -> Document {
        var document: Document = ["ProtocolVersions": .list(versions.map { .int($0) })]
        if let client { document["Client"] = .string(client) }
        return document
    }

    /// The daemon's Hello response.
    public static func response(server: String, version: Int64 = Int64(WireFormat.protocolVersion)) -> Document {
        ["ProtocolVersion": .int(version), "Server": .string(server)]
    }

    /// Daemon side: the version to speak, given a Hello request: the highest version the client lists that
    /// `supported` holds (absent `ProtocolVersions` means `[1]`). No common version throws
    /// `UnsupportedProtocolVersionException` (the daemon then closes); a malformed member throws
    /// `SerializationException`.
    public static func negotiate(
        _ request: Document, supported: [Int64] = WireFormat.supportedVersions
    )
        throws(ServiceError) -> Int64
    {
        var offered: [Int64] = [1]
        if let value = request["ProtocolVersions"] {
            guard case .list(let elements) = value else {
                throw Document.typeError("ProtocolVersions", expected: "list", got: value)
            }
            offered = []
            for element in elements {
                guard case .int(let version) = element else {
                    throw Document.typeError("ProtocolVersions", expected: "integer", got: element)
                }
                offered.append(version)
            }
        }
        if let client = request["Client"], client.stringValue == nil {
            throw Document.typeError("Client", expected: "string", got: client)
        }
        guard let chosen = offered.filter(supported.contains).max() else {
            let list = offered.map(String.init).joined(separator: ", ")
            throw ServiceError(
                .unsupportedProtocolVersion,
                "None of the protocol versions [\(list)] is supported; this server speaks \(supported.map(String.init).joined(separator: ", "))."
            )
        }
        return chosen
    }
}
