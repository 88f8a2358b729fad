import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Severity, with syslog/journald numbers (journald reads a `<N>` prefix on stderr lines as the priority).
public enum LogLevel: Int, Sendable, Comparable, CaseIterable {
    case error = 3
    case warning = 4
    case notice = 5
    case info = 6
    case debug = 7

    public static func < (lhs: LogLevel, rhs: LogLevel) -> Bool { lhs.rawValue > rhs.rawValue }

    public init?(name: String) {
        switch name.lowercased() {
        case "error": self = .error
        case "warning", "warn": self = .warning
        case "notice": self = .notice
        case "info": self = .info
        case "debug": self = .debug
        default: return nil
        }
    }
}

/// A minimal logger: one line per event. Libraries log at debug; the daemon owns notice-level events.
///
/// Never pass secret values: messages are plain strings and nothing here redacts them.
public struct Logger: Sendable {
    public var label: String
    private let level: LevelBox
    private let sink: @Sendable (LogLevel, String) -> Void

    /// The threshold, shared by every copy of this logger (so that a reload changes it everywhere).
    public var minimum: LogLevel {
        get { LogLevel(rawValue: level.value.load(ordering: .relaxed)) ?? .info }
        nonmutating set { level.value.store(newValue.rawValue, ordering: .relaxed) }
    }

    final class LevelBox: Sendable {
        let value: Atomic<Int>
        init(_ level: LogLevel) { value = Atomic(level.rawValue) }
    }

    public init(label: String, minimum: LogLevel = .info, sink: @escaping @Sendable (LogLevel, String) -> Void) {
        self.label = label
        self.level = LevelBox(minimum)
        self.sink = sink
    }

    /// Writes `<priority>label: message` lines to stderr, the form journald understands.
    public static func standardError(label: String, minimum: LogLevel = .info) -> Logger {
        Logger(label: label, minimum: minimum) { level, line in
            var text = "<\(level.rawValue)>\(line)\n"
            text.withUTF8 { bytes in
                var offset = 0
                while offset < bytes.count {
                    let n = write(2, bytes.baseAddress.map { $0 + offset }, bytes.count - offset)
                    if n <= 0 { return }
                    offset += n
                }
            }
        }
    }

    /// Discards everything (tests).
    public static let none = Logger(label: "", minimum: .error) { _, _ in }

    public func log(_ level: LogLevel, _ message: @autoclosure () -> String) {
        guard level >= minimum else { return }
        sink(level, "\(label): \(message())")
    }

    public func error(_ message: @autoclosure () -> String) { log(.error, message()) }
    public func warning(_ message: @autoclosure () -> String) { log(.warning, message()) }
    public func notice(_ message: @autoclosure () -> String) { log(.notice, message()) }
    public func info(_ message: @autoclosure () -> String) { log(.info, message()) }
    public func debug(_ message: @autoclosure () -> String) { log(.debug, message()) }
}
