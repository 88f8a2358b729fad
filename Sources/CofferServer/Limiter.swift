import CofferCore
import Synchronization

/// Connection admission shared by all workers: a total cap and a per-uid cap, so that one local user cannot take
/// every slot.
final class ConnectionLimiter: Sendable {
    private struct Counts {
        var total = 0
        var perUID: [UInt32: Int] = [:]
    }
    private let counts = Mutex(Counts())
    let maxTotal: Int
    let maxPerUID: Int

    init(maxTotal: Int, maxPerUID: Int) {
        self.maxTotal = maxTotal
        self.maxPerUID = maxPerUID
    }

    /// Takes a slot for `uid`; false if either cap is reached.
    func admit(uid: UInt32) -> Bool {
        counts.withLock { c in
            guard c.total < maxTotal, c.perUID[uid, default: 0] < maxPerUID else { return false }
            c.total += 1
            c.perUID[uid, default: 0] += 1
            return true
        }
    }

    func release(uid: UInt32) {
        counts.withLock { c in
            c.total -= 1
            let left = c.perUID[uid, default: 1] - 1
            c.perUID[uid] = left > 0 ? left : nil
        }
    }

    var total: Int { counts.withLock { $0.total } }
}
