import CofferStore

/// One reader's memory of GetSecretValue's hot-path lookup (the secret, the version holding a label, that version's
/// labels), so that reading the same secret again skips SQLite (about a third of a request's instructions).
///
/// Correctness rests on ``WriteGeneration``: the writer advances it after every batch, before acknowledging any of
/// its writes. An entry is used only while the generation is the one loaded *before* the query that produced it, so
/// a request that starts after a write was acknowledged never sees what preceded that write. Any write clears the
/// whole cache (a vault is read far more than written; per-secret invalidation is not worth its complexity).
///
/// What it holds is what SQLite's page cache holds: rows with sealed values (ciphertext, wrapped data keys), never a
/// plaintext or a key. Bounded by entries and bytes; past either bound it starts over. Not thread-safe: each
/// ``VaultReader`` (one per worker thread) owns one.
final class HotPathCache {
    struct Key: Hashable {
        var byName: Bool
        var identifier: String
        var stage: String
    }
    typealias Found = (SecretRow, VersionRow?, [String])

    static let maxEntries = 1_024
    static let maxBytes = 1 << 20

    private var entries: [Key: Found?] = [:]
    private var generation: UInt64 = .max
    private var bytes = 0

    /// The cached lookup (`.some(nil)`: cached as absent), or nil when not cached at `current`.
    func lookup(_ key: Key, current: UInt64) -> Found?? {
        guard current == generation else { return nil }
        return entries[key]
    }

    /// Remembers a lookup made after loading `generation`.
    func store(_ key: Key, _ found: Found?, generation loaded: UInt64) {
        if loaded != generation {
            entries.removeAll(keepingCapacity: true)
            bytes = 0
            generation = loaded
        }
        let size = HotPathCache.size(key, found)
        if entries.count >= HotPathCache.maxEntries || bytes + size > HotPathCache.maxBytes {
            entries.removeAll(keepingCapacity: true)
            bytes = 0
            guard size <= HotPathCache.maxBytes else { return }
        }
        entries[key] = found
        bytes += size
    }

    var count: Int { entries.count }

    /// Roughly what an entry holds (the byte counts of its strings and blobs, plus a fixed overhead).
    static func size(_ key: Key, _ found: Found?) -> Int {
        var total = 128 + key.identifier.utf8.count + key.stage.utf8.count
        guard let (secret, version, stages) = found else { return total }
        total += secret.name.utf8.count + secret.arn.utf8.count + (secret.description?.utf8.count ?? 0)
        total += (secret.resourcePolicy?.utf8.count ?? 0) + (secret.rotationRules?.utf8.count ?? 0)
        total += (secret.rotationLambdaARN?.utf8.count ?? 0) + (secret.kmsKeyID?.utf8.count ?? 0)
        if let version {
            total += version.versionID.utf8.count + version.seal.ciphertext.count + version.seal.wrappedKey.count
            total += version.seal.dataKeyID.count + version.seal.valueNonce.count
        }
        for stage in stages { total += 16 + stage.utf8.count }
        return total
    }
}

extension VaultReader {
    /// ``StoreQueries/secretWithStage(named:arn:stage:)`` through this reader's ``HotPathCache``.
    func secretWithStage(named name: String?, arn: String?, stage: String) throws -> HotPathCache.Found? {
        let key = HotPathCache.Key(byName: name != nil, identifier: name ?? arn ?? "", stage: stage)
        let current = store.generation.current
        if let cached = hot.lookup(key, current: current) { return cached }
        let found = try store.secretWithStage(named: name, arn: arn, stage: stage)
        hot.store(key, found, generation: current)
        return found
    }
}
