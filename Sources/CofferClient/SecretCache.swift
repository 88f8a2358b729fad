import CofferCore

/// An in-process cache of secret values, after AWS's caching clients (aws-secretsmanager-caching for Java, Python,
/// .NET, Go): a program asks the cache instead of the daemon on every use.
///
/// Behaviour (AWS's defaults and rules, with the differences noted):
/// - **TTL**: a value is fresh for ``Configuration/refreshInterval`` (1 hour). As AWS does, each refresh picks the
///   next expiry at random between half the interval and the whole interval, so that many processes started together
///   do not all refresh at once (``Configuration/jitter``).
/// - **Stale while refresh** (unlike AWS, whose caches refresh on the caller's thread): a caller who finds a stale
///   value gets it at once, and one background refresh starts. At most one refresh per secret runs at a time;
///   callers arriving meanwhile get the stale value too. The first fetch of a secret has nothing to serve, so its
///   callers wait for it, together (one request to the daemon, however many callers).
/// - **Failures**: a failed refresh keeps the cached value (it is served until a refresh succeeds, as in AWS) and
///   the next attempt waits `exceptionRetryDelayBase × growthFactor^(failures − 1)`, at most
///   `exceptionRetryDelayMax` (AWS: 1 s, ×2, 1 hour). With no value cached, the error is thrown again to every
///   caller until that delay has passed, so a missing secret does not turn into a request per call.
/// - **Size**: at most ``Configuration/maxCacheSize`` entries (1,024); inserting past it evicts the least recently
///   used entry. A refresh that completes for an evicted entry is dropped.
/// - **Values** stay in ``SensitiveBytes`` (wiped when the last reference is released); a ``SecretValue``'s
///   description shows no value.
/// - ``refreshNow(secretId:versionStage:)`` fetches now and returns the new value (after any refresh already in
///   flight for that secret finishes; unlike AWS it does not sleep first).
///
/// Keys are `(secretId, versionStage)`: the same secret named by name and by ARN is cached twice.
public actor SecretCache {
    public struct Configuration: Sendable {
        /// How long a value is served without a refresh (AWS `secret_refresh_interval`, 1 hour).
        public var refreshInterval: Duration
        /// Pick each expiry at random in [interval / 2, interval], as AWS does.
        public var jitter: Bool
        /// Entries kept before the least recently used is evicted (AWS `max_cache_size`, 1,024).
        public var maxCacheSize: Int
        /// The label asked for when the caller names none (AWS `default_version_stage`).
        public var defaultVersionStage: String
        /// Wait after the first failed refresh (AWS `exception_retry_delay_base`, 1 s).
        public var exceptionRetryDelayBase: Duration
        /// Each further failure multiplies the wait (AWS `exception_retry_growth_factor`, 2).
        public var exceptionRetryGrowthFactor: Int
        /// The wait never exceeds this (AWS `exception_retry_delay_max`, 1 hour).
        public var exceptionRetryDelayMax: Duration

        public init(
            refreshInterval: Duration = .seconds(3_600),
            jitter: Bool = true,
            maxCacheSize: Int = 1_024,
            defaultVersionStage: String = "AWSCURRENT",
            exceptionRetryDelayBase: Duration = .seconds(1),
            exceptionRetryGrowthFactor: Int = 2,
            exceptionRetryDelayMax: Duration = .seconds(3_600)
        ) {
            self.refreshInterval = refreshInterval
            self.jitter = jitter
            self.maxCacheSize = max(maxCacheSize, 1)
            self.defaultVersionStage = defaultVersionStage
            self.exceptionRetryDelayBase = exceptionRetryDelayBase
            self.exceptionRetryGrowthFactor = max(exceptionRetryGrowthFactor, 1)
            self.exceptionRetryDelayMax = exceptionRetryDelayMax
        }
    }

    /// Fetches one secret version by label: `client.getSecretValue(secretId:versionStage:)` in production, anything
    /// in tests.
    public typealias Fetch =
        @Sendable (_ secretId: String, _ versionStage: String) async throws(CofferClientError) ->
        SecretValue

    private typealias Outcome = Result<SecretValue, CofferClientError>

    private struct Key: Hashable {
        var secretId: String
        var versionStage: String
    }

    private struct Entry {
        var value: SecretValue?
        /// When `value` turns stale.
        var expires: ContinuousClock.Instant
        /// The last refresh's failure, kept until a refresh succeeds.
        var error: CofferClientError?
        var failures = 0
        /// No refresh starts (by itself) before this, after a failure.
        var retryAt: ContinuousClock.Instant?
        /// The refresh in flight, if any, and the number that tells its result from a superseded one's.
        var refresh: Task<Outcome, Never>?
        var generation: UInt64 = 0
        /// Recency for LRU eviction.
        var lastUsed: UInt64 = 0
    }

    public let configuration: Configuration
    private let fetch: Fetch
    private let now: @Sendable () -> ContinuousClock.Instant
    private var entries: [Key: Entry] = [:]
    private var tick: UInt64 = 0
    private var generations: UInt64 = 0
    /// Every refresh task not yet finished (including those of evicted entries), for ``waitForRefreshes()``.
    private var running: [UInt64: Task<Outcome, Never>] = [:]

    /// A cache in front of `client`.
    public init(client: CofferClient, configuration: Configuration = Configuration()) {
        self.init(configuration: configuration) { (secretId, versionStage) throws(CofferClientError) in
            try await client.getSecretValue(secretId: secretId, versionStage: versionStage)
        }
    }

    /// A cache over any fetch function, with an injectable monotonic clock (tests).
    public init(
        configuration: Configuration = Configuration(),
        now: @escaping @Sendable () -> ContinuousClock.Instant = { ContinuousClock.now },
        fetch: @escaping Fetch
    ) {
        self.configuration = configuration
        self.now = now
        self.fetch = fetch
    }

    /// Number of cached entries (values, failures and first fetches in flight).
    public var count: Int { entries.count }

    // MARK: Reading

    /// The cached value for `secretId` at `versionStage` (default ``Configuration/defaultVersionStage``), fetching it
    /// on a miss and refreshing it in the background when stale.
    public func getSecretValue(
        secretId: String, versionStage: String? = nil
    ) async throws(CofferClientError)
        -> SecretValue
    {
        let key = Key(secretId: secretId, versionStage: versionStage ?? configuration.defaultVersionStage)
        let moment = now()
        if var entry = entries[key] {
            entry.lastUsed = nextTick()
            entries[key] = entry
            if let value = entry.value {
                if moment < entry.expires { return value }
                if entry.refresh == nil, entry.retryAt.map({ moment >= $0 }) ?? true { _ = startRefresh(key) }
                return value  // stale while the refresh runs (or while a failed one waits to retry)
            }
            if let task = entry.refresh { return try await task.value.get() }
            if let error = entry.error, let retryAt = entry.retryAt, moment < retryAt { throw error }
        } else {
            insert(key, Entry(expires: moment, lastUsed: nextTick()))
        }
        return try await startRefresh(key).value.get()
    }

    /// SecretString's bytes (nil for a binary secret).
    public func getSecretString(
        secretId: String, versionStage: String? = nil
    ) async throws(CofferClientError)
        -> SensitiveBytes?
    {
        try await getSecretValue(secretId: secretId, versionStage: versionStage).secretString
    }

    /// SecretBinary's bytes (nil for a string secret).
    public func getSecretBinary(
        secretId: String, versionStage: String? = nil
    ) async throws(CofferClientError)
        -> SensitiveBytes?
    {
        try await getSecretValue(secretId: secretId, versionStage: versionStage).secretBinary
    }

    /// Fetches the value now, caches it and returns it; waits first for a refresh of the same entry that is
    /// already running (one refresh per secret at a time).
    @discardableResult
    public func refreshNow(
        secretId: String, versionStage: String? = nil
    ) async throws(CofferClientError)
        -> SecretValue
    {
        let key = Key(secretId: secretId, versionStage: versionStage ?? configuration.defaultVersionStage)
        while let running = entries[key]?.refresh { _ = await running.value }
        if entries[key] == nil { insert(key, Entry(expires: now(), lastUsed: nextTick())) }
        return try await startRefresh(key).value.get()
    }

    /// Drops the entries of `secretId` (every label), or of every secret with nil.
    public func invalidate(secretId: String? = nil) {
        if let secretId {
            entries = entries.filter { $0.key.secretId != secretId }
        } else {
            entries.removeAll()
        }
    }

    /// Waits until no refresh is running (tests, orderly shutdown).
    public func waitForRefreshes() async {
        while let (_, task) = running.first { _ = await task.value }
    }

    // MARK: Internals

    private func nextTick() -> UInt64 {
        tick &+= 1
        return tick
    }

    /// Inserts, evicting the least recently used entry if the cache is full. The scan is linear, and runs only when
    /// a new key arrives at a full cache: its cost (microseconds at 1,024 entries) is below that of the fetch that
    /// follows.
    private func insert(_ key: Key, _ entry: Entry) {
        if entries[key] == nil, entries.count >= configuration.maxCacheSize,
            let victim = entries.min(by: { $0.value.lastUsed < $1.value.lastUsed })?.key
        {
            entries.removeValue(forKey: victim)
        }
        entries[key] = entry
    }

    /// Starts the refresh of an existing entry and records it there.
    private func startRefresh(_ key: Key) -> Task<Outcome, Never> {
        generations &+= 1
        let generation = generations
        let fetch = self.fetch
        let task = Task { () -> Outcome in
            let outcome: Outcome
            do throws(CofferClientError) {
                outcome = .success(try await fetch(key.secretId, key.versionStage))
            } catch {
                outcome = .failure(error)
            }
            self.complete(key, generation: generation, outcome)
            return outcome
        }
        entries[key]?.refresh = task
        entries[key]?.generation = generation
        running[generation] = task
        return task
    }

    private func complete(_ key: Key, generation: UInt64, _ outcome: Outcome) {
        running.removeValue(forKey: generation)
        guard var entry = entries[key], entry.generation == generation else { return }  // evicted or superseded
        entry.refresh = nil
        let moment = now()
        switch outcome {
        case .success(let value):
            entry.value = value
            entry.expires = moment + freshness()
            entry.error = nil
            entry.failures = 0
            entry.retryAt = nil
        case .failure(let error):
            entry.error = error
            entry.failures += 1
            entry.retryAt = moment + retryDelay(afterFailures: entry.failures)
        }
        entries[key] = entry
    }

    private func freshness() -> Duration {
        let interval = configuration.refreshInterval
        guard configuration.jitter else { return interval }
        let half = interval / 2
        let spanMilliseconds = max(Self.milliseconds(interval - half), 0)
        return half + .milliseconds(Int64.random(in: 0...spanMilliseconds))
    }

    /// base × factor^(failures − 1), capped (without overflowing on long failure streaks).
    func retryDelay(afterFailures failures: Int) -> Duration {
        var delay = configuration.exceptionRetryDelayBase
        var remaining = max(failures - 1, 0)
        while remaining > 0, delay < configuration.exceptionRetryDelayMax {
            delay = delay * configuration.exceptionRetryGrowthFactor
            remaining -= 1
        }
        return min(delay, configuration.exceptionRetryDelayMax)
    }

    private static func milliseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1_000 + attoseconds / 1_000_000_000_000_000
    }
}
