import CofferClient
import CofferCore

/// `coffer get`, shared by the fast path and the ArgumentParser command so that both behave the same. Nothing here
/// may use ArgumentParser or Foundation.
enum GetRunner {
    /// Prints the value raw on stdout (SecretString's UTF-8 as is, SecretBinary's bytes), with no newline added.
    static func run(_ get: FastGet) -> Int32 {
        let socketPath = CofferSocketPath.client(explicit: get.socket)
        // No Hello: the daemon answers any version-1 request on a fresh connection, and the round trip would add
        // to every fetch (measured in the report of the client's commit).
        let connection = CofferConnection(socketPath: socketPath)
        let secret: SecretValue
        do {
            secret = try connection.getSecretValue(
                secretId: get.secretId, versionId: get.versionId, versionStage: get.versionStage)
        } catch {
            let (text, status) = CLIOutput.failure(error, socketPath: socketPath)
            _ = CLIOutputStream.write(text, to: 2)
            return status
        }
        connection.close()
        let written = secret.value.withUnsafeBytes { CLIOutputStream.write($0, to: 1) }
        return written ? CLIExit.success : CLIExit.failure
    }
}
