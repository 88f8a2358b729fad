import CofferCore

/// The constants of the wire format (docs/PROTOCOL.md, sections 3 and 4), each limit with its reason.
public enum WireFormat {
    /// The protocol version this codec speaks and writes into every frame it encodes.
    public static let protocolVersion: UInt8 = 1
    /// Versions a peer may list in Hello's `ProtocolVersions` that this codec can speak.
    public static let supportedVersions: [Int64] = [1]

    /// Size of the big-endian `uint32` length prefix in front of every frame.
    public static let lengthFieldSize = 4
    /// version (1) + kind (1) + operation (2) + request id (4).
    public static let headerSize = 8
    /// The smallest `length` a frame may declare: a header and nothing else. (A valid body adds at least the 4-byte
    /// member count, but the framing layer only knows about the header.)
    public static let minimumFrameLength = headerSize
    /// The largest `length` a frame may declare (header + body): ``Limits/maxFrameBytes``, the 64 KiB AWS secret
    /// limit plus room for every other member of the largest request. Checked on the prefix before allocating.
    public static let maximumFrameLength = Limits.maxFrameBytes

    /// Lists and documents nest at most this deep, counting the body document as level 1. The deepest AWS shape
    /// Coffer carries nests 6 levels; 32 leaves room and bounds the decoder's recursion (and its stack use).
    public static let maxNestingDepth = 32
    /// A key's length is a `uint16`; AWS member names are under 64 bytes and map keys (version ids) under 65.
    public static let maxKeyBytes = Int(UInt16.max)

    /// The fewest bytes one document member can take on the wire (a 2-byte key length, an empty key, a one-byte
    /// tag such as `true`). A member count larger than the remaining bytes ÷ this is rejected before reserving.
    static let minimumMemberSize = 3
    /// The fewest bytes one list element can take on the wire (a one-byte tag such as `false`).
    static let minimumValueSize = 1

    /// Request id 0 is reserved for the connection-level error reply sent before closing on a bad frame length.
    public static let connectionErrorRequestID: UInt32 = 0
}

/// Value tags (docs/PROTOCOL.md, section 4.1). Tags 0x00 and 0x09–0xFF are reserved.
enum ValueTag {
    static let `false`: UInt8 = 0x01
    static let `true`: UInt8 = 0x02
    static let integer: UInt8 = 0x03
    static let string: UInt8 = 0x04
    static let bytes: UInt8 = 0x05
    static let timestamp: UInt8 = 0x06
    static let list: UInt8 = 0x07
    static let document: UInt8 = 0x08
}

/// Members whose values are secrets (docs/PROTOCOL.md, section 4.2): decoded into ``SensitiveBytes``.
public enum SecretMembers {
    /// A string member with this key is a secret string (AWS `SecretString`).
    public static let secretString = "SecretString"
    /// A bytes member with this key is a secret binary (AWS `SecretBinary`).
    public static let secretBinary = "SecretBinary"
    /// A string member with this key is a secret string (GetRandomPassword's `RandomPassword`).
    public static let randomPassword = "RandomPassword"
    /// A string member with this key is a secret string (the admin socket's `Unseal` passphrase).
    public static let passphrase = "Passphrase"

    /// Whether a member with these key bytes and this value tag is secret. Compares raw bytes, so the decoder can
    /// decide before it has built anything from the value.
    static func isSecret(key: UnsafeRawBufferPointer, tag: UInt8) -> Bool {
        switch key.count {
        case 12:
            if tag == ValueTag.string { return equals(key, secretStringBytes) }
            if tag == ValueTag.bytes { return equals(key, secretBinaryBytes) }
            return false
        case 14:
            return tag == ValueTag.string && equals(key, randomPasswordBytes)
        case 10:
            return tag == ValueTag.string && equals(key, passphraseBytes)
        default:
            return false
        }
    }

    /// Same decision for a key held as a String (the encoder and the JSON mapping).
    static func isSecret(key: String, tag: UInt8) -> Bool {
        switch tag {
        case ValueTag.string: return key == secretString || key == randomPassword || key == passphrase
        case ValueTag.bytes: return key == secretBinary
        default: return false
        }
    }

    private static let secretStringBytes: [UInt8] = Array(secretString.utf8)
    private static let secretBinaryBytes: [UInt8] = Array(secretBinary.utf8)
    private static let randomPasswordBytes: [UInt8] = Array(randomPassword.utf8)
    private static let passphraseBytes: [UInt8] = Array(passphrase.utf8)

    private static func equals(_ lhs: UnsafeRawBufferPointer, _ rhs: [UInt8]) -> Bool {
        guard lhs.count == rhs.count else { return false }
        for i in 0..<rhs.count where lhs[i] != rhs[i] { return false }
        return true
    }
}
