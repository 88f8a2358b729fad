import CofferCore
import Testing

@testable import CofferCrypto

private let lower = Set(RandomPassword.lowercase)
private let upper = Set(RandomPassword.uppercase)
private let digits = Set(RandomPassword.digits)
private let punctuation = Set(RandomPassword.punctuation)
private let space: Set<UInt8> = [UInt8(ascii: " ")]

@Suite struct SecureRandomTests {
    @Test func bytes() {
        #expect(SecureRandom.bytes(count: 0).isEmpty)
        #expect(SecureRandom.bytes(count: 33).count == 33)
        #expect(SecureRandom.bytes(count: 32) != SecureRandom.bytes(count: 32))
        var buffer = [UInt8](repeating: 0, count: 64)
        buffer.withUnsafeMutableBytes { SecureRandom.fill($0) }
        #expect(buffer.contains { $0 != 0 })
    }

    @Test func uniformStaysInRangeAndCoversIt() {
        var seen = Set<UInt32>()
        for _ in 0..<2_000 {
            let value = SecureRandom.uniform(10)
            #expect(value < 10)
            seen.insert(value)
        }
        #expect(seen.count == 10)
        #expect(SecureRandom.uniform(1) == 0)
        #expect(SecureRandom.uniform(0) == 0)
    }
}

@Suite struct RandomPasswordTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var length = 32
        var excludeCharacters = ""
        var excludeNumbers = false
        var excludePunctuation = false
        var excludeUppercase = false
        var excludeLowercase = false
        var includeSpace = false
        var requireEachIncludedType = true
        /// Characters that may appear.
        var allowed: Set<UInt8>
        /// Sets of which at least one character must appear in every password.
        var required: [Set<UInt8>]
        var testDescription: String { name }

        func generate() throws -> [UInt8] {
            try RandomPassword.generate(
                length: length, excludeCharacters: excludeCharacters, excludeNumbers: excludeNumbers,
                excludePunctuation: excludePunctuation, excludeUppercase: excludeUppercase,
                excludeLowercase: excludeLowercase, includeSpace: includeSpace,
                requireEachIncludedType: requireEachIncludedType
            ).copyBytes()
        }
    }

    static let all = lower.union(upper).union(digits).union(punctuation)

    static let cases: [Case] = [
        Case(name: "defaults", allowed: all, required: [lower, upper, digits, punctuation]),
        Case(name: "length 4, all four types", length: 4, allowed: all, required: [lower, upper, digits, punctuation]),
        Case(
            name: "length 1 without requirements", length: 1, requireEachIncludedType: false, allowed: all, required: []
        ),
        Case(name: "maximum length", length: 4_096, allowed: all, required: [lower, upper, digits, punctuation]),
        Case(
            name: "no punctuation", length: 3, excludePunctuation: true, allowed: lower.union(upper).union(digits),
            required: [lower, upper, digits]),
        Case(
            name: "digits only", length: 12, excludePunctuation: true, excludeUppercase: true, excludeLowercase: true,
            allowed: digits, required: [digits]),
        Case(
            name: "exclude characters", excludeCharacters: "abcXYZ019!\"\\`~ é",
            allowed: all.subtracting(Array("abcXYZ019!\"\\`~".utf8)),
            required: [lower, upper, digits, punctuation]),
        Case(
            name: "all digits excluded by character", length: 3, excludeCharacters: "0123456789",
            allowed: lower.union(upper).union(punctuation), required: [lower, upper, punctuation]),
        Case(
            name: "with space", length: 64, includeSpace: true, allowed: all.union(space),
            required: [lower, upper, digits, punctuation]),
        Case(
            name: "only space", length: 5, excludeNumbers: true, excludePunctuation: true, excludeUppercase: true,
            excludeLowercase: true, includeSpace: true, allowed: space, required: [space]),
    ]

    @Test(arguments: cases)
    func generatesOnlyAllowedCharactersAndEveryRequiredType(_ testCase: Case) throws {
        let runs = testCase.length > 1_000 ? 20 : 300
        for _ in 0..<runs {
            let password = try testCase.generate()
            #expect(password.count == testCase.length)
            #expect(password.allSatisfy { testCase.allowed.contains($0) })
            for type in testCase.required {
                #expect(password.contains { type.contains($0) })
            }
        }
    }

    @Test func resultIsRedacted() throws {
        let password = try RandomPassword.generate()
        #expect(password.description == "<redacted, 32 bytes>")
        #expect(password.isValidUTF8)
    }

    @Test func spaceIsIncludedButNotRequired() throws {
        var sawSpace = false
        var sawNoSpace = false
        for _ in 0..<300 {
            let password = try RandomPassword.generate(length: 8, includeSpace: true).copyBytes()
            if password.contains(UInt8(ascii: " ")) { sawSpace = true } else { sawNoSpace = true }
        }
        #expect(sawSpace)
        #expect(sawNoSpace)  // (94/95)^8 ≈ 92% of passwords have no space: space is not required
        // Length 4 with space still only needs the four classic types.
        #expect(try RandomPassword.generate(length: 4, includeSpace: true).count == 4)
    }

    @Test func requiredCharactersAreNotAtFixedPositions() throws {
        // Without the shuffle, position 0 would always hold the lowercase letter.
        var typesAtFirstPosition = Set<Int>()
        for _ in 0..<200 {
            let password = try RandomPassword.generate(length: 4).copyBytes()
            let first = password[0]
            typesAtFirstPosition.insert(
                lower.contains(first) ? 0 : upper.contains(first) ? 1 : digits.contains(first) ? 2 : 3)
        }
        #expect(typesAtFirstPosition.count == 4)
    }

    @Test func selectionIsRoughlyUniform() throws {
        var counts = [Int](repeating: 0, count: 10)
        for _ in 0..<2_000 {
            let password = try RandomPassword.generate(
                length: 32, excludePunctuation: true, excludeUppercase: true, excludeLowercase: true
            ).copyBytes()
            for byte in password { counts[Int(byte - UInt8(ascii: "0"))] += 1 }
        }
        // 64,000 draws: 6,400 expected per digit, standard deviation ≈ 76; ±15% is about 12 deviations.
        for count in counts { #expect((5_440...7_360).contains(count)) }
    }

    @Test func tooShortForTheRequiredTypes() {
        #expect(throws: RandomPasswordError.lengthTooShortForRequiredTypes) {
            _ = try RandomPassword.generate(length: 3)
        }
        #expect(throws: RandomPasswordError.lengthTooShortForRequiredTypes) {
            _ = try RandomPassword.generate(length: 2, excludeCharacters: "0123456789")
        }
        let error = RandomPasswordError.lengthTooShortForRequiredTypes.serviceError
        #expect(error.code == .invalidParameter)
        #expect(error.message == "Password length is too short based on the required types.")
    }

    @Test func emptyPool() {
        #expect(throws: RandomPasswordError.emptyCharacterPool) {
            _ = try RandomPassword.generate(
                excludeNumbers: true, excludePunctuation: true, excludeUppercase: true, excludeLowercase: true)
        }
        let everything = String(
            decoding: RandomPassword.lowercase + RandomPassword.uppercase + RandomPassword.digits
                + RandomPassword.punctuation, as: UTF8.self)
        #expect(throws: RandomPasswordError.emptyCharacterPool) {
            _ = try RandomPassword.generate(excludeCharacters: everything)
        }
        #expect(RandomPasswordError.emptyCharacterPool.serviceError.code == .invalidParameter)
    }

    @Test(arguments: [0, -1, 4_097])
    func lengthOutOfRange(_ length: Int) {
        #expect(throws: RandomPasswordError.lengthOutOfRange(length)) {
            _ = try RandomPassword.generate(length: length)
        }
        let error = RandomPasswordError.lengthOutOfRange(length).serviceError
        #expect(error.code == .validation)
        #expect(error.message.contains("'\(length)' at 'passwordLength'"))
        #expect(error.message.contains(length > 0 ? "less than or equal to 4096" : "greater than or equal to 1"))
    }
}

@Suite struct UniformSamplerTests {
    @Test(arguments: [2, 3, 10, 26, 32, 62, 94, 95, 4_096, 1 << 31, UInt32.max - 1, UInt32.max] as [UInt32])
    func rejectionLeavesAMultipleOfTheBound(_ bound: UInt32) {
        let minimum = UInt64(1 << 32) % UInt64(bound)
        #expect((UInt64(1 << 32) - minimum) % UInt64(bound) == 0)
        if minimum > 0 {
            #expect(UniformSampler.reduce(UInt32(minimum - 1), upperBound: bound) == nil)
            #expect(UniformSampler.reduce(0, upperBound: bound) == nil)
        }
        #expect(UniformSampler.reduce(UInt32(minimum), upperBound: bound) == UInt32(minimum % UInt64(bound)))
        #expect(UniformSampler.reduce(.max, upperBound: bound) == UInt32.max % bound)
    }

    @Test func degenerateBounds() {
        #expect(UniformSampler.reduce(12_345, upperBound: 0) == 0)
        #expect(UniformSampler.reduce(12_345, upperBound: 1) == 0)
    }

    @Test func samplesCoverTheRangeAcrossBatches() {
        var counts = [Int](repeating: 0, count: 7)
        UniformSampler.with { sampler in
            for _ in 0..<7_000 {
                let value = sampler.uniform(7)
                counts[Int(value)] += 1
            }
        }
        // 1,000 expected per value, standard deviation ≈ 29: ±200 is about 7 deviations.
        for count in counts { #expect((800...1_200).contains(count)) }
    }
}
