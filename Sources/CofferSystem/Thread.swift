import CCofferSys
import Glibc
import Synchronization

/// A named, joinable POSIX thread, for work that must not run on Swift's cooperative pool (the event loop, blocking
/// SQLite and fsync work).
public final class Thread: Sendable {
    private let handle: Mutex<pthread_t?>

    private init(_ thread: pthread_t) {
        handle = Mutex(thread)
    }

    /// Starts `body` on a new thread named `name` (shown by `ps -T`, `top -H`; at most 15 bytes are kept) with the
    /// given stack size (0: the default).
    public static func spawn(name: String, stackSize: Int = 0, _ body: @escaping @Sendable () -> Void) throws -> Thread
    {
        var attributes = pthread_attr_t()
        try returningErrno("pthread_attr_init") { pthread_attr_init(&attributes) }
        defer { pthread_attr_destroy(&attributes) }
        if stackSize > 0 {
            try returningErrno("pthread_attr_setstacksize") {
                pthread_attr_setstacksize(&attributes, max(stackSize, Int(PTHREAD_STACK_MIN)))
            }
        }
        var thread = pthread_t()
        let context = Unmanaged.passRetained(Context(name: name, body: body)).toOpaque()
        do {
            try returningErrno("pthread_create") {
                pthread_create(
                    &thread, &attributes,
                    { raw in
                        guard let raw else { return nil }
                        let context = Unmanaged<Context>.fromOpaque(raw).takeRetainedValue()
                        _ = context.name.withCString { coffer_set_thread_name($0) }
                        context.body()
                        return nil
                    }, context)
            }
        } catch {
            Unmanaged<Context>.fromOpaque(context).release()
            throw error
        }
        return Thread(thread)
    }

    /// Waits for the thread to finish. Only the first call waits; later (or concurrent) calls return at once.
    public func join() {
        guard
            let thread = handle.withLock({ value -> pthread_t? in
                defer { value = nil }
                return value
            })
        else { return }
        pthread_join(thread, nil)
    }

    deinit {
        // Never joined: let it finish on its own and release its resources then.
        if let thread = handle.withLock({ $0 }) { pthread_detach(thread) }
    }

    /// Sets the calling thread's name (at most 15 bytes are kept).
    public static func setCurrentName(_ name: String) {
        _ = name.withCString { coffer_set_thread_name($0) }
    }

    private final class Context: Sendable {
        let name: String
        let body: @Sendable () -> Void
        init(name: String, body: @escaping @Sendable () -> Void) {
            self.name = name
            self.body = body
        }
    }
}
