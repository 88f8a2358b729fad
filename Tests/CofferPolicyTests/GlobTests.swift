import CofferCore
import Testing

@testable import CofferPolicy

@Suite("Glob matcher")
struct GlobTests {
    @Test(
        "wildcards",
        arguments: [
            ("*", "", true),
            ("*", "anything/at:all", true),
            ("", "", true),
            ("", "a", false),
            ("abc", "abc", true),
            ("abc", "abcd", false),
            ("abc", "ab", false),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("a?c", "abbc", false),
            ("a*c", "ac", true),
            ("a*c", "abbbc", true),
            ("a*c", "abbbd", false),
            ("*c", "abc", true),
            ("a*", "a", true),
            ("a*b*c", "aXbYc", true),
            ("a*b*c", "aXcYb", false),
            ("*a*", "bab", true),
            ("**", "", true),
            ("?*", "", false),
            ("*?", "x", true),
            ("app/db-??????", "app/db-AbCdEf", true),
            ("app/db-??????", "app/db-prod-AbCdEf", false),
            ("app/db-*", "app/db-prod-AbCdEf", true),
            ("secret:*", "secret:a:b/c", true),
            ("caf?", "café", true),
            ("caf??", "café", false),
            ("*é", "café", true),
            ("?", "€", true),
            ("??", "€", false),
            ("a*?b", "a€b", true),
        ]
    )
    func wildcards(pattern: String, text: String, expected: Bool) {
        #expect(Glob(pattern: pattern).matches(text) == expected)
    }

    @Test("literal globs treat * and ? as text")
    func literal() {
        let glob = Glob(literal: Array("a*b?".utf8))
        #expect(glob.matches("a*b?"))
        #expect(!glob.matches("aXbY"))
    }

    @Test("pathological patterns stay linear-ish", arguments: [20, 200, 2_000])
    func pathological(size: Int) {
        // a*a*a*…a*b against aaaa…a: exponential for a naive backtracking matcher.
        let pattern = String(repeating: "a*", count: size) + "b"
        let text = String(repeating: "a", count: size * 4)
        let start = Monotonic.nanoseconds()
        #expect(!Glob(pattern: pattern).matches(text))
        #expect(Glob(pattern: pattern).matches(text + "b"))
        #expect(Glob(pattern: String(repeating: "*?", count: size)).matches(text))
        let elapsedMilliseconds = (Monotonic.nanoseconds() - start) / 1_000_000
        // Generous bound (debug build, shared machine); a backtracking matcher would not finish at all.
        #expect(elapsedMilliseconds < 5_000)
    }

    @Test("template variables, escapes and literal substitution")
    func templates() {
        let template = Template(parsing: "a${x}b${*}${?}${$}${y, 'dflt'}*", variables: true, wildcards: true)
        let values = ["x": "*"]
        let lookup = { (variable: PolicyVariable) -> String? in values[variable.key] ?? variable.defaultValue }
        let glob = template.glob(resolving: lookup)
        #expect(glob?.matches("a*b*?$dfltTAIL") == true)
        #expect(glob?.matches("aXb*?$dfltTAIL") == false)  // the substituted * is literal
        #expect(glob?.matches("a*bX?$dflt") == false)  // ${*} is literal
        #expect(template.glob(resolving: { _ in nil }) == nil)  // unresolved
        let plain = Template(parsing: "a${x}b", variables: false, wildcards: true)
        #expect(plain.staticGlob?.matches("a${x}b") == true)
        #expect(
            Template(parsing: "${AWS:UserName}", variables: true, wildcards: false).tokens == [
                .variable(PolicyVariable(key: "aws:username", defaultValue: nil))
            ])
        #expect(
            Template(parsing: "${unterminated", variables: true, wildcards: false).tokens == [
                .literal(Array("${unterminated".utf8))
            ])
    }
}
