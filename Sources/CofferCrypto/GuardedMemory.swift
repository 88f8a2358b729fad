import CSodium

/// One `sodium_malloc` allocation and its only owner: guard pages on both sides, a canary, `mlock`ed and
/// `MADV_DONTDUMP`; `sodium_free` wipes and unmaps it when the owner goes away.
///
/// Non-copyable so that exactly one value owns the pointer and `deinit` frees it exactly once. `sodium_malloc`
/// places the usable bytes right before the trailing guard page, so an overrun faults instead of reading a
/// neighbour.
struct GuardedMemory: ~Copyable {
    let base: UnsafeMutableRawPointer
    let count: Int

    /// Throws ``CryptoError/allocationFailed`` when `sodium_malloc` returns NULL (ENOMEM, or `mlock` beyond
    /// `RLIMIT_MEMLOCK`).
    init(count: Int) throws(CryptoError) {
        try Sodium.initialize()
        guard count >= 0, let pointer = sodium_malloc(max(count, 1)) else { throw .allocationFailed }
        base = pointer
        self.count = count
    }

    deinit { sodium_free(base) }

    var mutableBuffer: UnsafeMutableRawBufferPointer { UnsafeMutableRawBufferPointer(start: base, count: count) }
    var buffer: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }
    var bytes: UnsafeMutablePointer<UInt8> { base.assumingMemoryBound(to: UInt8.self) }

    /// Zeroes the first `byteCount` bytes (`sodium_memzero` is not optimized away).
    func wipe(_ byteCount: Int) { sodium_memzero(base, min(byteCount, count)) }

    /// Any later write faults. Defence in depth only: if `mprotect` fails the bytes are still guarded and wiped,
    /// so the result is ignored. `sodium_free` makes the pages writable again before wiping them.
    func makeReadOnly() { _ = sodium_mprotect_readonly(base) }
}
