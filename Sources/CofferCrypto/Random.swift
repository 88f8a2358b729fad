import CSodium
import CofferCore

/// libsodium's CSPRNG (`randombytes_*`, seeded from the kernel's `getrandom`). For non-secret randomness (ids,
/// nonces, salts) as arrays; secret randomness goes straight into guarded memory
/// (``SecureBytes/init(randomCount:)``).
public enum SecureRandom {
    public static func bytes(count: Int) -> [UInt8] {
        Sodium.touch()
        var bytes = [UInt8](repeating: 0, count: max(count, 0))
        randombytes_buf(&bytes, bytes.count)
        return bytes
    }

    public static func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        Sodium.touch()
        guard let base = buffer.baseAddress else { return }
        randombytes_buf(base, buffer.count)
    }

    /// A uniform value in `0..<upperBound` without modulo bias (`randombytes_uniform`); 0 if `upperBound < 2`.
    public static func uniform(_ upperBound: UInt32) -> UInt32 {
        Sodium.touch()
        return randombytes_uniform(upperBound)
    }
}

/// Why a password could not be generated. The engine maps these to the AWS errors with ``serviceError``.
public enum RandomPasswordError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `PasswordLength` outside 1...4096.
    case lengthOutOfRange(Int)
    /// `RequireEachIncludedType` with fewer characters than included types.
    case lengthTooShortForRequiredTypes
    /// Every character was excluded.
    case emptyCharacterPool

    /// The AWS error: ValidationException for the length constraint (AWS's model-validation wording),
    /// InvalidParameterException otherwise. AWS does not document the empty-pool case; Coffer answers it as an
    /// invalid parameter.
    public var serviceError: ServiceError {
        switch self {
        case .lengthOutOfRange(let length):
            ServiceError.constraint(
                "\(length)", at: "passwordLength",
                length < Limits.passwordLength.lowerBound
                    ? "Member must have value greater than or equal to \(Limits.passwordLength.lowerBound)"
                    : "Member must have value less than or equal to \(Limits.passwordLength.upperBound)")
        case .lengthTooShortForRequiredTypes:
            ServiceError(.invalidParameter, "Password length is too short based on the required types.")
        case .emptyCharacterPool:
            ServiceError(.invalidParameter, "The password can't be generated because every character is excluded.")
        }
    }

    public var description: String { serviceError.description }
}

/// GetRandomPassword.
///
/// Character types: lowercase `a-z`, uppercase `A-Z`, digits `0-9`, the 32 ASCII punctuation characters
/// ``!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~``, and the space if `includeSpace`. `excludeCharacters` removes characters
/// from every type.
///
/// `requireEachIncludedType` (AWS default true) asks for at least one lowercase letter, uppercase letter, digit and
/// punctuation character, for each of those types that is not excluded. The space is never a required type: AWS
/// documents RequireEachIncludedType as "at least one upper and lowercase letter, one number, and one punctuation"
/// and IncludeSpace as "the password *can* contain one or more space characters". A type whose characters were all
/// removed by `excludeCharacters` is not required either (it has nothing to offer).
///
/// Generation: one uniformly chosen character from each required type, the rest uniformly from the whole pool,
/// then a Fisher–Yates shuffle (so the required characters are not at fixed positions), all with
/// `randombytes_uniform`'s unbiased rejection sampling over batched CSPRNG output (see `UniformSampler`). The password is built in place in a ``CofferCore/SensitiveBytes`` (wiped on release).
public enum RandomPassword {
    public static let lowercase = Array("abcdefghijklmnopqrstuvwxyz".utf8)
    public static let uppercase = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8)
    public static let digits = Array("0123456789".utf8)
    public static let punctuation = Array("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~".utf8)
    public static let space = UInt8(ascii: " ")

    public static func generate(
        length: Int = Limits.defaultPasswordLength,
        excludeCharacters: String = "",
        excludeNumbers: Bool = false,
        excludePunctuation: Bool = false,
        excludeUppercase: Bool = false,
        excludeLowercase: Bool = false,
        includeSpace: Bool = false,
        requireEachIncludedType: Bool = true
    ) throws(RandomPasswordError) -> SensitiveBytes {
        guard Limits.passwordLength.contains(length) else { throw .lengthOutOfRange(length) }
        // Only ASCII characters can be in the pool, so excluding by UTF-8 byte is exact.
        var excluded = [Bool](repeating: false, count: 128)
        for byte in excludeCharacters.utf8 where byte < 128 { excluded[Int(byte)] = true }
        func keep(_ set: [UInt8], unless excludeAll: Bool) -> [UInt8] {
            excludeAll ? [] : set.filter { !excluded[Int($0)] }
        }
        let required = [
            keep(lowercase, unless: excludeLowercase),
            keep(uppercase, unless: excludeUppercase),
            keep(digits, unless: excludeNumbers),
            keep(punctuation, unless: excludePunctuation),
        ].filter { !$0.isEmpty }
        let pool = required.flatMap { $0 } + keep([space], unless: !includeSpace)
        guard !pool.isEmpty else { throw .emptyCharacterPool }
        let mandatory = requireEachIncludedType ? required : []
        guard length >= mandatory.count else { throw .lengthTooShortForRequiredTypes }

        return UniformSampler.with { sampler in
            SensitiveBytes(count: length) { password in
                for (index, type) in mandatory.enumerated() {
                    password[index] = type[Int(sampler.uniform(UInt32(type.count)))]
                }
                for index in mandatory.count..<length {
                    password[index] = pool[Int(sampler.uniform(UInt32(pool.count)))]
                }
                var index = length - 1
                while index > 0 {
                    password.swapAt(index, Int(sampler.uniform(UInt32(index + 1))))
                    index -= 1
                }
            }
        }
    }
}

/// libsodium's `randombytes_uniform` algorithm over CSPRNG output drawn 256 bytes per `randombytes_buf` call.
///
/// Each `randombytes_uniform` call is a `getrandom` syscall here (about 0.5 µs), so a 4,096-character password
/// took 4.3 ms that way; batching makes it about 60 times cheaper with the same distribution. The batch decides the
/// password, so it lives on the stack and is wiped before ``with(_:)`` returns.
struct UniformSampler {
    private let batch: UnsafeMutableBufferPointer<UInt32>
    private var next: Int

    private init(batch: UnsafeMutableBufferPointer<UInt32>) {
        self.batch = batch
        next = batch.count  // empty: the first draw fills it
    }

    static func with<R>(_ body: (inout UniformSampler) throws -> R) rethrows -> R {
        Sodium.touch()
        return try withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 64) { batch in
            defer { sodium_memzero(batch.baseAddress, batch.count * MemoryLayout<UInt32>.size) }
            var sampler = UniformSampler(batch: batch)
            return try body(&sampler)
        }
    }

    /// A uniform value in `0..<upperBound` (0 if `upperBound < 2`), exactly as `randombytes_uniform` computes it.
    mutating func uniform(_ upperBound: UInt32) -> UInt32 {
        while true {
            if let value = Self.reduce(nextWord(), upperBound: upperBound) { return value }
        }
    }

    /// Maps a uniform 32-bit word to `0..<upperBound` without modulo bias, or nil to draw again: words below
    /// 2^32 mod upperBound are rejected, which leaves a range whose length is a multiple of `upperBound`.
    static func reduce(_ word: UInt32, upperBound: UInt32) -> UInt32? {
        guard upperBound >= 2 else { return 0 }
        let minimum = (1 &+ ~upperBound) % upperBound  // 2^32 mod upperBound
        return word < minimum ? nil : word % upperBound
    }

    private mutating func nextWord() -> UInt32 {
        if next == batch.count {
            SecureRandom.fill(UnsafeMutableRawBufferPointer(batch))  // 64 words: the base address always exists
            next = 0
        }
        defer { next += 1 }
        return batch[next]
    }
}
