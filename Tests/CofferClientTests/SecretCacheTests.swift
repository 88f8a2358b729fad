import CofferCore
import Synchronization
import Testing

@testable import CofferClient

/// A monotonic clock that only moves when told.
final class ManualClock: Sendable {
    private let origin = ContinuousClock.now
    private let offset = Mutex<Duration>(.zero)

    func advance(by duration: Duration) { offset.withLock { $0 += duration } }
    func now() -> ContinuousClock.Instant { origin + offset.withLock { $0 } }
}

/// A fetch function that counts calls, returns `name@version` values (the version bumps on each fetch), can be made
/// to fail, and can be held at a gate until the test opens it.
final class ScriptedFetch: Sendable {
    private struct State {
        var calls: [String] = []
        var failing: CofferClientError?
        var gate: [CheckedContinuation<Void, Never>]? = nil
    }

    private let state = Mutex(State())

    var calls: [String] { state.withLock { $0.calls } }
    var count: Int { state.withLock { $0.calls.count } }

    func fail(with error: CofferClientError?) { state.withLock { $0.failing = error } }

    /// From now on fetches wait until ``open()``.
    func hold() { state.withLock { $0.gate = [] } }

    func open() {
        let waiting = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            defer { state.gate = nil }
            return state.gate ?? []
        }
        for continuation in waiting { continuation.resume() }
    }

    var waiting: Int { state.withLock { $0.gate?.count ?? 0 } }

    func fetch(_ secretId: String, _ stage: String) async throws(CofferClientError) -> SecretValue {
        let number = state.withLock { state -> Int in
            state.calls.append("\(secretId)/\(stage)")
            return state.calls.count
        }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let held = state.withLock { state -> Bool in
                guard state.gate != nil else { return false }
                state.gate?.append(continuation)
                return true
            }
            if !held { continuation.resume() }
        }
        if let error = state.withLock({ $0.failing }) { throw error }
        return try SecretValue(document: secretResponse(name: secretId, value: "\(secretId)@\(number)"))
    }
}

@Suite struct SecretCacheTests {
    let clock = ManualClock()
    let source = ScriptedFetch()

    func makeCache(_ configuration: SecretCache.Configuration = .init(jitter: false)) -> SecretCache {
        SecretCache(configuration: configuration, now: clock.now) {
            [source] secretId, stage throws(CofferClientError) in
            try await source.fetch(secretId, stage)
        }
    }

    func text(_ cache: SecretCache, _ secretId: String, _ stage: String? = nil) async throws -> String {
        try await cache.getSecretValue(secretId: secretId, versionStage: stage).value.utf8Text
    }

    @Test func freshValuesComeFromTheCache() async throws {
        let cache = makeCache()
        #expect(try await text(cache, "a") == "a@1")
        clock.advance(by: .seconds(3_599))
        #expect(try await text(cache, "a") == "a@1")
        #expect(source.calls == ["a/AWSCURRENT"])
    }

    @Test func staleValueIsServedWhileOneRefreshRuns() async throws {
        let cache = makeCache()
        #expect(try await text(cache, "a") == "a@1")
        clock.advance(by: .seconds(3_600))
        source.hold()
        // Ten callers find the value stale: all get it at once, and exactly one refresh starts.
        for _ in 0..<10 { #expect(try await text(cache, "a") == "a@1") }
        #expect(await eventually { source.waiting == 1 })
        #expect(source.count == 2)
        source.open()
        await cache.waitForRefreshes()
        #expect(try await text(cache, "a") == "a@2")
        #expect(source.count == 2)
    }

    @Test func concurrentFirstFetchesShareOneRequest() async throws {
        let cache = makeCache()
        source.hold()
        let values = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<20 { group.addTask { try await text(cache, "a") } }
            #expect(await eventually { source.waiting == 1 })
            source.open()
            var values: [String] = []
            for try await value in group { values.append(value) }
            return values
        }
        #expect(values == Array(repeating: "a@1", count: 20))
        #expect(source.count == 1)
    }

    @Test func leastRecentlyUsedEntryIsEvicted() async throws {
        let cache = makeCache(.init(jitter: false, maxCacheSize: 2))
        _ = try await text(cache, "a")
        _ = try await text(cache, "b")
        _ = try await text(cache, "a")  // a is now more recent than b
        _ = try await text(cache, "c")  // evicts b
        #expect(await cache.count == 2)
        #expect(try await text(cache, "a") == "a@1")
        #expect(try await text(cache, "b") == "b@4")  // fetched again (and evicts c)
        #expect(source.calls == ["a/AWSCURRENT", "b/AWSCURRENT", "c/AWSCURRENT", "b/AWSCURRENT"])
    }

    @Test func labelsAreCachedSeparately() async throws {
        let cache = makeCache()
        #expect(try await text(cache, "a") == "a@1")
        #expect(try await text(cache, "a", "AWSPREVIOUS") == "a@2")
        #expect(try await text(cache, "a", "AWSCURRENT") == "a@1")
        #expect(source.calls == ["a/AWSCURRENT", "a/AWSPREVIOUS"])
    }

    @Test func failuresWithoutAValueAreRememberedUntilTheRetryDelay() async throws {
        let cache = makeCache()
        source.fail(with: .service(name: "ResourceNotFoundException", message: "no"))
        await #expect(throws: CofferClientError.service(name: "ResourceNotFoundException", message: "no")) {
            _ = try await text(cache, "a")
        }
        // Within the first delay (1 s) the error is thrown again without asking the daemon.
        clock.advance(by: .milliseconds(900))
        await #expect(throws: CofferClientError.self) { _ = try await text(cache, "a") }
        #expect(source.count == 1)
        // After it, one more attempt; its failure doubles the delay.
        clock.advance(by: .milliseconds(100))
        await #expect(throws: CofferClientError.self) { _ = try await text(cache, "a") }
        #expect(source.count == 2)
        clock.advance(by: .milliseconds(1_999))
        await #expect(throws: CofferClientError.self) { _ = try await text(cache, "a") }
        #expect(source.count == 2)
        source.fail(with: nil)
        clock.advance(by: .milliseconds(1))
        #expect(try await text(cache, "a") == "a@3")
    }

    @Test func failedRefreshKeepsServingTheOldValue() async throws {
        let cache = makeCache()
        #expect(try await text(cache, "a") == "a@1")
        source.fail(with: .connectionClosed)
        clock.advance(by: .seconds(3_600))
        #expect(try await text(cache, "a") == "a@1")  // starts a refresh, which fails
        await cache.waitForRefreshes()
        #expect(source.count == 2)
        #expect(try await text(cache, "a") == "a@1")  // within the retry delay: no new refresh
        await cache.waitForRefreshes()
        #expect(source.count == 2)
        source.fail(with: nil)
        clock.advance(by: .seconds(1))
        #expect(try await text(cache, "a") == "a@1")  // stale once more; this refresh succeeds
        await cache.waitForRefreshes()
        #expect(try await text(cache, "a") == "a@3")
    }

    @Test func retryDelayGrowsAndIsCapped() async {
        let cache = makeCache(
            .init(
                exceptionRetryDelayBase: .seconds(1), exceptionRetryGrowthFactor: 2,
                exceptionRetryDelayMax: .seconds(10)))
        #expect(await cache.retryDelay(afterFailures: 1) == .seconds(1))
        #expect(await cache.retryDelay(afterFailures: 2) == .seconds(2))
        #expect(await cache.retryDelay(afterFailures: 4) == .seconds(8))
        #expect(await cache.retryDelay(afterFailures: 5) == .seconds(10))
        #expect(await cache.retryDelay(afterFailures: 10_000) == .seconds(10))
    }

    @Test func refreshNowFetchesAndReturnsTheNewValue() async throws {
        let cache = makeCache()
        #expect(try await text(cache, "a") == "a@1")
        #expect(try await cache.refreshNow(secretId: "a").value.utf8Text == "a@2")
        #expect(try await text(cache, "a") == "a@2")
        #expect(try await cache.refreshNow(secretId: "new").value.utf8Text == "new@3")
    }

    @Test func refreshNowWaitsForTheRefreshInFlight() async throws {
        let cache = makeCache()
        _ = try await text(cache, "a")
        clock.advance(by: .seconds(3_600))
        source.hold()
        _ = try await text(cache, "a")  // background refresh #2, held
        #expect(await eventually { source.waiting == 1 })
        let forced = Task { try await cache.refreshNow(secretId: "a").value.utf8Text }
        try await Task.sleep(for: .milliseconds(20))
        #expect(source.count == 2)  // refreshNow has not started a second concurrent refresh
        source.open()
        #expect(try await forced.value == "a@3")
        #expect(source.count == 3)
    }

    @Test func jitterKeepsValuesFreshForAtLeastHalfTheInterval() async throws {
        let cache = makeCache(.init(refreshInterval: .seconds(100), jitter: true))
        _ = try await text(cache, "a")
        clock.advance(by: .seconds(49))
        _ = try await text(cache, "a")
        #expect(source.count == 1)
        clock.advance(by: .seconds(51))  // now a full interval later: stale whatever the jitter chose
        _ = try await text(cache, "a")
        await cache.waitForRefreshes()
        #expect(source.count == 2)
    }

    @Test func invalidateDropsEntries() async throws {
        let cache = makeCache()
        _ = try await text(cache, "a")
        _ = try await text(cache, "b")
        await cache.invalidate(secretId: "a")
        #expect(await cache.count == 1)
        #expect(try await text(cache, "a") == "a@3")
        await cache.invalidate()
        #expect(await cache.count == 0)
    }

    @Test func typedAccessors() async throws {
        let cache = makeCache()
        #expect(try await cache.getSecretString(secretId: "a")?.utf8Text == "a@1")
        #expect(try await cache.getSecretBinary(secretId: "a") == nil)
    }
}
