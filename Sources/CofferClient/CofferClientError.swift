import CofferCore
import CofferProtocol
import CofferSystem

/// Everything a call to the daemon can fail with: the daemon's answer (an AWS error name and message) or a transport
/// problem (no daemon, no permission, connection lost, timeout).
///
/// Descriptions never contain secret values: service messages come from the daemon, which never puts values in them
/// (docs/PROTOCOL.md, section 8), and transport errors name only paths and limits.
public enum CofferClientError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The daemon answered with an error reply. `name` is the AWS error name (`__type`): one of ``ErrorCode``'s raw
    /// values, or a name this build does not know (a newer daemon); ``code`` maps it.
    case service(name: String, message: String)
    /// Nothing at the socket path (the daemon is not running, or the path is wrong).
    case socketNotFound(path: String)
    /// A socket file exists but nothing listens on it (a stale file left by a stopped daemon).
    case connectionRefused(path: String)
    /// This user may not open the socket or its directory.
    case permissionDenied(path: String)
    /// The path cannot be a socket address (empty, or longer than `sun_path`).
    case invalidSocketPath(path: String)
    /// The daemon closed the connection before answering (it stopped or restarted, or it rejected the stream).
    case connectionClosed
    /// No answer within the request timeout.
    case timedOut(milliseconds: Int)
    /// The calling task was cancelled while it waited; the daemon may still carry the request out.
    case cancelled
    /// The request does not fit in one frame (docs/PROTOCOL.md, section 4.4) or cannot be encoded.
    case requestNotEncodable(String)
    /// The daemon sent something this client cannot read; the connection is dropped.
    case malformedReply(String)
    /// Another operating-system failure (fd exhaustion, ...), described by the failed call.
    case system(String)

    /// The AWS error name as the AWS CLI prints it in `__type`: the service's name for ``service(name:message:)``;
    /// for transport failures a descriptive name of Coffer's own.
    public var errorName: String {
        switch self {
        case .service(let name, _): return name
        case .socketNotFound, .connectionRefused, .permissionDenied, .invalidSocketPath: return "ConnectionError"
        case .connectionClosed: return "ConnectionClosed"
        case .timedOut: return "TimeoutError"
        case .cancelled: return "Cancelled"
        case .requestNotEncodable: return "SerializationException"
        case .malformedReply: return "MalformedReply"
        case .system: return "SystemError"
        }
    }

    /// The known error code of a service error (nil for transport errors and for names this build does not know).
    public var code: ErrorCode? {
        if case .service(let name, _) = self { return ErrorCode(rawValue: name) }
        return nil
    }

    /// The human part of the error.
    public var message: String {
        switch self {
        case .service(_, let message): return message
        case .socketNotFound(let path): return "No Coffer daemon socket at \(path)."
        case .connectionRefused(let path):
            return "Connection refused at \(path): a socket file exists but no daemon is listening."
        case .permissionDenied(let path): return "Permission denied opening the daemon socket \(path)."
        case .invalidSocketPath(let path): return "\(path) cannot be a socket path (empty or too long)."
        case .connectionClosed: return "The daemon closed the connection before answering."
        case .timedOut(let milliseconds): return "No answer from the daemon within \(milliseconds) ms."
        case .cancelled: return "The request was cancelled."
        case .requestNotEncodable(let why): return why
        case .malformedReply(let why): return "Unreadable reply from the daemon: \(why)"
        case .system(let why): return why
        }
    }

    /// Whether the daemon could not be reached at all (no request was delivered).
    public var isConnectFailure: Bool {
        switch self {
        case .socketNotFound, .connectionRefused, .permissionDenied, .invalidSocketPath: return true
        default: return false
        }
    }

    /// Whether this is an answer from the daemon rather than a transport problem.
    public var isServiceError: Bool {
        if case .service = self { return true }
        return false
    }

    public var description: String { "\(errorName): \(message)" }

    /// A service error from a decoded error reply.
    init(_ reply: ErrorReply) { self = .service(name: reply.type, message: reply.message) }

    /// Maps what ``UnixSocket/connect(path:)`` and the descriptor calls throw.
    static func transport(_ error: any Error) -> CofferClientError {
        switch error {
        case let error as CofferClientError: return error
        case let error as SocketError:
            switch error {
            case .noSuchSocket(let path): return .socketNotFound(path: path)
            case .connectionRefused(let path): return .connectionRefused(path: path)
            case .permissionDenied(let path): return .permissionDenied(path: path)
            case .closed: return .connectionClosed
            case .timedOut: return .timedOut(milliseconds: 0)
            default: return .system(error.description)
            }
        case let error as PathError:
            if case .invalidSocketPath(let path) = error { return .invalidSocketPath(path: path) }
            return .system(error.description)
        case let error as SystemError: return .system(error.description)
        default: return .system("\(error)")
        }
    }
}
