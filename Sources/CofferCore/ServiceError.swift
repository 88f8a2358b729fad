/// The AWS error names Coffer answers with, on the wire and in the CLI (`__type`).
///
/// The raw value is the stable, documented name; clients switch on it. Internal failures that are not the caller's
/// fault map to `internalServiceError` with a generic message so that nothing internal (paths, SQL, key material)
/// leaks to a client.
public enum ErrorCode: String, Sendable, CaseIterable, Hashable {
    // Secrets Manager
    case resourceNotFound = "ResourceNotFoundException"
    case resourceExists = "ResourceExistsException"
    case invalidRequest = "InvalidRequestException"
    case invalidParameter = "InvalidParameterException"
    case validation = "ValidationException"
    case limitExceeded = "LimitExceededException"
    case invalidNextToken = "InvalidNextTokenException"
    case malformedPolicyDocument = "MalformedPolicyDocumentException"
    case publicPolicy = "PublicPolicyException"
    case decryptionFailure = "DecryptionFailure"
    case encryptionFailure = "EncryptionFailure"
    case internalServiceError = "InternalServiceError"
    case accessDenied = "AccessDeniedException"
    // IAM (admin socket)
    case noSuchEntity = "NoSuchEntity"
    case entityAlreadyExists = "EntityAlreadyExists"
    case malformedPolicyDocumentIAM = "MalformedPolicyDocument"
    case limitExceededIAM = "LimitExceeded"
    case invalidInput = "InvalidInput"
    case validationIAM = "ValidationError"
    case deleteConflict = "DeleteConflict"
    // Coffer's own
    case sealed = "VaultSealedException"
    case unknownOperation = "UnknownOperationException"
    case serializationError = "SerializationException"
    case throttling = "ThrottlingException"
    case unsupportedProtocolVersion = "UnsupportedProtocolVersionException"
}

/// An error that is the answer to a request: an AWS error name and a human message.
///
/// Messages must never contain secret values. They may contain names and ARNs, which are metadata in AWS too.
public struct ServiceError: Error, Sendable, Equatable, CustomStringConvertible {
    public var code: ErrorCode
    public var message: String

    public init(_ code: ErrorCode, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }

    // Common AWS messages, spelled once.
    public static let secretNotFound = ServiceError(
        .resourceNotFound, "Secrets Manager can't find the specified secret.")
    public static let markedForDeletion = ServiceError(
        .invalidRequest,
        "You can't perform this operation on the secret because it was marked for deletion."
    )
    public static let invalidName = ServiceError(
        .validation,
        "Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!"
    )
    public static let internalFailure = ServiceError(
        .internalServiceError,
        "An error occurred on the server side."
    )

    /// AWS's "1 validation error detected" wording for a model-constraint violation.
    public static func constraint(_ value: String, at field: String, _ constraint: String) -> ServiceError {
        ServiceError(
            .validation,
            "1 validation error detected: Value '\(value)' at '\(field)' failed to satisfy constraint: \(constraint)"
        )
    }

    /// Same as ``constraint(_:at:_:)`` for values that must not be echoed (possibly sensitive).
    public static func constraint(at field: String, _ constraint: String) -> ServiceError {
        ServiceError(
            .validation,
            "1 validation error detected: Value at '\(field)' failed to satisfy constraint: \(constraint)"
        )
    }
}
