import CofferCore
import CofferProtocol
import CofferVault

/// The administration socket: IAM (identity policies, roles, the simulator) and, later, vault administration.
/// Root-only by default (socket mode 0600); every operation is still authorized (`iam:*`, `coffer:*`), so
/// administration can be delegated to a group given access to the socket.
public struct AdminService: RequestService {
    public let vault: Vault
    public var name: String { "admin" }

    public init(vault: Vault) { self.vault = vault }

    public func serves(_ operation: Operation) -> Bool { operation.service == .iam }

    public func handle(
        _ operation: Operation, _ request: Document, caller: Caller, context: WorkerContext,
        reply: @escaping @Sendable (Result<Document, ServiceError>) -> Void
    ) {
        switch operation.service {
        case .iam: vault.handleIAM(operation, request, caller: caller, reply: reply)
        default: reply(.failure(ServiceError(.unknownOperation, "\(operation.name) is not served here.")))
        }
    }
}
