import Testing

@testable import CofferCore

@Suite struct TimestampEdgeTests {
    @Test func formatsTheWayAWSCLIPrints() {
        let t = Timestamp(milliseconds: 1_796_566_421_123)  // 2026-12-06T14:13:41.123Z
        #expect(t.iso8601 == "2026-12-06T14:13:41.123000+00:00")
        #expect(t.iso8601Seconds == "2026-12-06T14:13:41Z")
        #expect(t.epochSecondsText == "1796566421.123")
        var bytes: [UInt8] = []
        t.appendISO8601(to: &bytes)
        #expect(String(decoding: bytes, as: UTF8.self) == t.iso8601)
        #expect(Timestamp(milliseconds: -1).iso8601 == "1969-12-31T23:59:59.999000+00:00")
        #expect(Timestamp(milliseconds: -1).epochSecondsText == "-1.999")
        #expect(Timestamp(milliseconds: -1_000).epochSecondsText == "-1")
    }

    /// Found by the frame fuzzer (Fuzz/KnownBugs/frame/timestamp-iso8601-overflow): a decoded document may carry any
    /// Int64, and formatting the values nearest Int64.min trapped on overflow.
    @Test func everyInt64FormatsWithoutTrapping() {
        let extremes: [Int64] = [
            .min, .min + 1, .min + 807, .min + 808, .min + 999, -62_167_219_200_001, .max, .max - 1,
        ]
        for value in extremes {
            let t = Timestamp(milliseconds: value)
            var bytes: [UInt8] = []
            t.appendISO8601(to: &bytes)
            #expect(String(decoding: bytes, as: UTF8.self) == t.iso8601)
            #expect(!t.iso8601Seconds.isEmpty)
            #expect(!t.epochSecondsText.isEmpty)
            _ = t.startOfDay
            _ = t.dayNumber
        }
        // Outside years 0000–9999 the text clamps to the nearest end.
        #expect(Timestamp(milliseconds: .min).iso8601 == "0000-01-01T00:00:00.000000+00:00")
        #expect(Timestamp(milliseconds: .max).iso8601 == "9999-12-31T23:59:59.999000+00:00")
        #expect(Timestamp(milliseconds: .min).epochSecondsText == "-9223372036854776.192")
        #expect(Timestamp(milliseconds: .max).epochSecondsText == "9223372036854775.807")
        #expect(Timestamp(milliseconds: .min).startOfDay.milliseconds <= Int64.min + 86_400_000)
    }

    @Test func arithmeticSaturatesAtTheEnds() {
        #expect(Timestamp(seconds: .max).milliseconds == .max)
        #expect(Timestamp(seconds: .min).milliseconds == .min)
        #expect(Timestamp(milliseconds: .max).adding(milliseconds: 1).milliseconds == .max)
        #expect(Timestamp(milliseconds: .min).adding(milliseconds: -1).milliseconds == .min)
        #expect(Timestamp(milliseconds: 0).adding(days: .max).milliseconds == .max)
        #expect(Timestamp(milliseconds: 0).adding(days: .min).milliseconds == .min)
        #expect(Timestamp(milliseconds: 5).adding(days: 1).milliseconds == 86_400_005)
    }

    @Test func parsesAndRefusesOutOfRangeEpochs() {
        #expect(Timestamp(parsing: "1700000000")?.milliseconds == 1_700_000_000_000)
        #expect(Timestamp(parsing: "1700000000.5")?.milliseconds == 1_700_000_000_500)
        #expect(Timestamp(parsing: "2026-11-29T14:13:41.123+01:00")?.milliseconds == 1_795_958_021_123)
        #expect(Timestamp(parsing: "9223372036854775807") == nil)
        #expect(Timestamp(parsing: "-9223372036854775808") == nil)
        #expect(Timestamp(parsing: "99999999999999999999") == nil)
        #expect(Timestamp(parsing: "1e300") == nil)
    }
}
