import CofferCore
import CofferProtocol

/// The admin socket's request decoding: every IAM and administration operation, from a document the input gives
/// directly (no frame to find first), so the fuzzer spends its time in the members' decoding and checks.
///
/// Input: byte 0 picks the operation (``operations``); byte 1 picks the caller (bit 0: root or `nobody`, who has a
/// delegated managed policy) and the encoding (bit 7 set: the rest is JSON text mapped as `coffer call` maps it,
/// `AWSJSON`; clear: the rest is a binary document body). Requests then run as in ``DispatchTarget``.
enum AdminTarget {
    static let operations: [Operation] = Operation.allCases.filter { $0.service == .iam || $0.service == .admin }

    static func run(_ input: UnsafeRawBufferPointer) -> [String] {
        guard input.count >= 2 else { return [] }
        let operation = operations[Int(input[0]) % operations.count]
        let callerIndex = Int(input[1] & 1)
        let rest = UnsafeRawBufferPointer(rebasing: input[2...])
        let request: Document
        if input[1] & 0x80 != 0 {
            let text = String(decoding: rest, as: UTF8.self)
            do {
                request = try AWSJSON.document(fromJSONText: text)
            } catch {
                return []
            }
        } else {
            do {
                request = try WireCodec.decodeDocument(from: rest)
            } catch {
                return []
            }
        }
        let header = FrameHeader(kind: .request, operation: operation, requestID: UInt32(callerIndex))
        return DispatchTarget.execute(operation, request, header: header, callerIndex: callerIndex)
    }
}
