import CofferCore
import CofferFuzzing
import CofferProtocol

/// The seed inputs of each fuzz target, built from the request catalogue (written to Fuzz/Corpus by `writeSeeds`).
enum FuzzSeeds {
    static func seeds(for target: FuzzTarget) -> [[UInt8]] {
        switch target {
        case .frame: return frame
        case .dispatch: return dispatch
        case .policy: return policy
        case .admin: return admin
        }
    }

    /// Chunk byte + stream: each request whole, fed in 1-, 4- and 256-byte chunks; pipelined batches; framing and
    /// header errors.
    static var frame: [[UInt8]] {
        var seeds: [[UInt8]] = []
        for (index, (operation, document)) in RequestCatalogue.all.enumerated() {
            let chunk: UInt8 = [0, 3, 255][index % 3]
            seeds.append([chunk] + RequestCatalogue.frame(operation, document, id: UInt32(index + 1)))
        }
        let get = RequestCatalogue.frame(.getSecretValue, ["SecretId": "app/db"])
        let hello = RequestCatalogue.frame(.hello, Hello.request(client: "seed"))
        seeds.append([7] + hello + get + get)
        seeds.append([0, 0, 0, 0, 3, 1, 2, 3])  // length below the header
        seeds.append([255, 0xFF, 0xFF, 0xFF, 0xFF])  // length 2^32-1
        seeds.append([255] + get.prefix(4) + [9] + get.dropFirst(5))  // version 9
        seeds.append([255] + get.prefix(5) + [2] + get.dropFirst(6))  // a response kind
        seeds.append([255] + hello + Array(get.dropLast(3)))  // a truncated second frame
        return seeds
    }

    /// Frames for every operation, from each of the four callers (request id low bits), and short sessions.
    static var dispatch: [[UInt8]] {
        var seeds: [[UInt8]] = []
        for (operation, document) in RequestCatalogue.secretsManager {
            for caller in 0..<4 { seeds.append(RequestCatalogue.frame(operation, document, id: UInt32(8 + caller))) }
        }
        for (operation, document) in RequestCatalogue.admin {
            for caller in [0, 1] { seeds.append(RequestCatalogue.frame(operation, document, id: UInt32(4 + caller))) }
        }
        let session: [(Operation, Document)] = [
            (.createSecret, ["Name": "s/new", "SecretString": RequestCatalogue.secret("a")]),
            (.putSecretValue, ["SecretId": "s/new", "SecretString": RequestCatalogue.secret("b")]),
            (.updateSecretVersionStage, ["SecretId": "s/new", "VersionStage": "AWSCURRENT"]),
            (.getSecretValue, ["SecretId": "s/new", "VersionStage": "AWSPREVIOUS"]),
            (.deleteSecret, ["SecretId": "s/new", "ForceDeleteWithoutRecovery": true]),
        ]
        seeds.append(session.enumerated().flatMap { RequestCatalogue.frame($1.0, $1.1, id: UInt32(4 * $0)) })
        seeds.append(RequestCatalogue.frame(.hello, Hello.request(client: "seed", versions: [1, 2])))
        return seeds
    }

    static let policies: [String] = [
        RequestCatalogue.readPolicy,
        RequestCatalogue.resourcePolicy,
        #"{"Version":"2012-10-17","Statement":{"Effect":"Deny","NotAction":"secretsmanager:Get*","NotResource":"*"}}"#,
        #"{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
        """
        {"Version":"2012-10-17","Statement":[{"Sid":"A1","Effect":"Allow","Action":"secretsmanager:*",\
        "Resource":"arn:coffer:secretsmanager:local:123456789012:secret:${aws:username}/*",\
        "Condition":{"StringLike":{"secretsmanager:SecretId":"*${?}*"},"Bool":{"aws:SecureTransport":"true"},\
        "Null":{"aws:ResourceTag/owner":"false"}}}]}
        """,
        """
        {"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["secretsmanager:CreateSecret",\
        "secretsmanager:TagResource"],"Resource":"*","Condition":{"ForAllValues:StringEquals":{"aws:TagKeys":\
        ["team","env"]},"ForAnyValue:StringEqualsIgnoreCase":{"aws:TagKeys":"TEAM"},\
        "StringEqualsIfExists":{"aws:RequestTag/team":"x"}}}]}
        """,
        """
        {"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:*","Resource":"*","Condition":{\
        "NumericLessThanEquals":{"aws:EpochTime":1795961621},"DateGreaterThan":{"aws:CurrentTime":\
        "2020-01-01T00:00:00Z"},"ArnLike":{"aws:PrincipalArn":"arn:coffer:iam::*:user/b?b"},\
        "StringNotEquals":{"coffer:ExecutablePath":"/usr/bin/evil"},"IpAddress":{"aws:SourceIp":"10.0.0.0/8"},\
        "BinaryEquals":{"coffer:Blob":"QUJD"}}}]}
        """,
        """
        {"Version":"2012-10-17","Id":"rp","Statement":[{"Sid":"X","Effect":"Allow","NotPrincipal":{"AWS":\
        ["arn:coffer:iam::123456789012:user/eve","123456789012"]},"Action":"secretsmanager:GetSecretValue",\
        "Resource":"*"},{"Effect":"Allow","Principal":"*","Action":"secretsmanager:DescribeSecret","Resource":"*",\
        "Condition":{"StringEquals":{"aws:PrincipalAccount":"123456789012"}}},{"Effect":"Deny","Principal":\
        {"Service":"x.amazonaws.com"},"Action":"*","Resource":"*"}]}
        """,
        #"{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:Get*","Resource":"${aws:username}"}]}"#,
        #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s?cretsmanager:*Value","Resource":"arn:*:*:*:*:secret:*"}]}"#,
    ]

    static let contexts = [
        "secretsmanager:GetSecretValue\narn:coffer:secretsmanager:local:123456789012:secret:alice/db-AbCdEf\n"
            + "aws:username=alice\naws:ResourceTag/owner=alice\nsecretsmanager:SecretId=alice/db",
        "secretsmanager:TagResource\n*\naws:TagKeys=team,env\naws:RequestTag/team=x",
        "iam:GetRole\narn:coffer:iam::123456789012:role/x.service\naws:EpochTime=1700000000\n"
            + "aws:CurrentTime=2026-01-01T00:00:00Z\naws:SourceIp=10.1.2.3\naws:PrincipalArn=arn:coffer:iam::1:user/bob",
    ]

    static var policy: [[UInt8]] {
        var seeds = policies.map { Array($0.utf8) }
        for (index, text) in policies.enumerated() {
            seeds.append(Array(text.utf8) + [0] + Array(contexts[index % contexts.count].utf8))
        }
        return seeds
    }

    /// Operation index + caller/encoding byte + the document, binary and as JSON.
    static var admin: [[UInt8]] {
        var seeds: [[UInt8]] = []
        let operations = Operation.allCases.filter { $0.service == .iam || $0.service == .admin }
        for (operation, document) in RequestCatalogue.admin {
            guard let index = operations.firstIndex(of: operation) else { continue }
            let body = (try? document.encoded()) ?? []
            seeds.append([UInt8(index), 0] + body)
            seeds.append([UInt8(index), 1] + body)
            seeds.append([UInt8(index), 0x80] + Array(AWSJSON.json(from: document).serialized().utf8))
        }
        return seeds
    }
}
