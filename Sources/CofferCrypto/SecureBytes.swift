import CSodium

/// Secret bytes (keys) in libsodium guarded memory: `mlock`ed, excluded from core dumps, surrounded by guard pages,
/// read-only once built, and wiped and freed with `sodium_free` when released.
///
/// It never prints its contents (`<redacted, N bytes>`) and is deliberately not `Codable`, `Equatable` or
/// `Hashable`; compare with ``constantTimeEquals(_:)``. Reach the bytes only inside ``withUnsafeBytes(_:)``.
public final class SecureBytes: @unchecked Sendable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    // @unchecked: the memory is written only during init, then mprotect'ed read-only, and freed only in deinit;
    // after init every access is a read, so sharing across threads is safe.
    private let memory: GuardedMemory

    /// Takes ownership of memory that is already filled, and makes it read-only.
    init(sealing memory: consuming GuardedMemory) {
        memory.makeReadOnly()
        self.memory = memory
    }

    /// Allocates `count` guarded bytes and lets `initialize` fill them in place (no intermediate copy). If
    /// `initialize` throws, the memory is wiped and freed and the error is rethrown.
    public convenience init(count: Int, initialize: (UnsafeMutableRawBufferPointer) throws -> Void) throws {
        let memory = try GuardedMemory(count: count)
        try initialize(memory.mutableBuffer)
        self.init(sealing: memory)
    }

    /// `count` bytes from libsodium's CSPRNG (`randombytes_buf`).
    public convenience init(randomCount count: Int) throws(CryptoError) {
        let memory = try GuardedMemory(count: count)
        randombytes_buf(memory.base, count)
        self.init(sealing: memory)
    }

    /// Copies `bytes` into guarded memory. The caller wipes its own copy (see ``CofferCore/wipe(_:)``).
    public convenience init<C: Collection<UInt8>>(copying bytes: C) throws(CryptoError) {
        let memory = try GuardedMemory(count: bytes.count)
        memory.mutableBuffer.copyBytes(from: bytes)
        self.init(sealing: memory)
    }

    public var count: Int { memory.count }

    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(memory.buffer)
    }

    /// Constant-time equality (`sodium_memcmp`): the time depends only on the lengths, never on the contents.
    public func constantTimeEquals(_ other: SecureBytes) -> Bool {
        guard count == other.count else { return false }
        return sodium_memcmp(memory.base, other.memory.base, count) == 0
    }

    /// Constant-time equality with bytes held elsewhere (for example a key being loaded).
    public func constantTimeEquals(_ other: UnsafeRawBufferPointer) -> Bool {
        guard count == other.count else { return false }
        guard let otherBase = other.baseAddress else { return true }
        return sodium_memcmp(memory.base, otherBase, count) == 0
    }

    public var description: String { "<redacted, \(count) bytes>" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .class) }
}
