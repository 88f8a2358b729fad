import CofferCore
import CofferProtocol
import CofferVault

/// What one listening socket serves: which operations it accepts and how it answers them.
///
/// Called on a worker thread. `handle` must call `reply` exactly once, either before returning (reads) or later
/// from another thread (writes answered after their commit).
public protocol RequestService: Sendable {
    /// A short name for logs and metrics (`client`, `admin`).
    var name: String { get }
    /// Whether this socket serves `operation` at all. Others are refused with AccessDeniedException, whoever asks
    /// (the client socket never serves IAM or administration).
    func serves(_ operation: Operation) -> Bool
    func handle(
        _ operation: Operation, _ request: Document, caller: Caller, context: WorkerContext,
        reply: @escaping @Sendable (Result<Document, ServiceError>) -> Void)
}

/// Per-worker state a service may use: the worker's own vault reader (a read-only SQLite connection and guarded
/// decryption scratch). Not Sendable: it lives on its worker thread.
public final class WorkerContext {
    public let reader: VaultReader
    public let workerIndex: Int

    init(reader: VaultReader, workerIndex: Int) {
        self.reader = reader
        self.workerIndex = workerIndex
    }
}

/// The client socket: AWS Secrets Manager operations, every one authorized by the vault.
public struct SecretsManagerService: RequestService {
    public let vault: Vault
    public var name: String { "client" }

    public init(vault: Vault) { self.vault = vault }

    public func serves(_ operation: Operation) -> Bool { operation.service == .secretsManager }

    public func handle(
        _ operation: Operation, _ request: Document, caller: Caller, context: WorkerContext,
        reply: @escaping @Sendable (Result<Document, ServiceError>) -> Void
    ) {
        vault.handle(operation, request, caller: caller, reader: context.reader, reply: reply)
    }
}
