import CofferCore

/// A fixed workload for the benchmark suite: one principal with 1,000 identity statements in ten policies.
///
/// Statement N (0…999) allows `GetSecretValue`/`DescribeSecret` on `…:secret:app/svc<N>-??????`; every tenth also
/// has a `StringEquals` on `secretsmanager:VersionStage` and an `ArnLike` on `aws:PrincipalArn`; five more Deny
/// statements (one `NotResource`, one with a policy variable) sit among them. The request reads `app/svc537-AbCdEf`
/// (a statement with conditions). Measure release builds only.
public enum PolicyBenchmark {
    public static let account = "123456789012"
    public static let principal = "arn:coffer:iam::123456789012:role/app/web"

    /// The identity policies of the scenario (ten documents, 1,005 statements).
    public static func policies() -> [PolicySource] {
        var sources: [PolicySource] = []
        for policy in 0..<10 {
            var statements: [String] = []
            for offset in 0..<100 {
                let n = policy * 100 + offset
                var condition = ""
                if n % 10 == 7 {
                    condition = """
                        ,"Condition":{"StringEquals":{"secretsmanager:VersionStage":"AWSCURRENT"},\
                        "ArnLike":{"aws:PrincipalArn":"arn:coffer:iam::\(account):role/app/*"}}
                        """
                }
                statements.append(
                    """
                    {"Sid":"S\(n)","Effect":"Allow","Action":["secretsmanager:GetSecretValue",\
                    "secretsmanager:DescribeSecret"],\
                    "Resource":"arn:coffer:secretsmanager:local:\(account):secret:app/svc\(n)-??????"\(condition)}
                    """
                )
            }
            if policy == 3 {
                statements.append(
                    #"{"Effect":"Deny","Action":"secretsmanager:DeleteSecret","Resource":"*"}"#
                )
                statements.append(
                    #"{"Effect":"Deny","Action":"secretsmanager:*","NotResource":"arn:coffer:secretsmanager:*"}"#
                )
                statements.append(
                    """
                    {"Effect":"Deny","Action":"secretsmanager:GetSecretValue",\
                    "Resource":"arn:coffer:secretsmanager:local:\(account):secret:prod/*"}
                    """
                )
                statements.append(
                    """
                    {"Effect":"Deny","Action":"secretsmanager:PutSecretValue",\
                    "Resource":"arn:coffer:secretsmanager:local:\(account):secret:${aws:username}/*"}
                    """
                )
                statements.append(
                    """
                    {"Effect":"Deny","NotAction":"secretsmanager:Get*","Resource":"*",\
                    "Condition":{"Bool":{"aws:SecureTransport":"false"}}}
                    """
                )
            }
            let json = #"{"Version":"2012-10-17","Statement":["# + statements.joined(separator: ",") + "]}"
            // Far over IAM's size quotas (which would cap a real principal near 300 such statements), so the quota
            // check is skipped. The literal parses; a failure would be a bug here, reported as NaN by run1000.
            guard let document = try? PolicyDocument.parse(json, kind: .managed, checkingEnvelope: false) else {
                continue
            }
            sources.append(PolicySource(policyId: "role/app/web/inline/p\(policy)", document: document))
        }
        return sources
    }

    /// The request the benchmark decides.
    public static func request() -> RequestContext {
        RequestContext(
            action: "secretsmanager:GetSecretValue",
            resource: "arn:coffer:secretsmanager:local:\(account):secret:app/svc537-AbCdEf",
            principalARN: principal,
            principalAccount: account,
            keys: [
                "aws:PrincipalArn": .string(principal),
                "aws:username": .string("web"),
                "secretsmanager:VersionStage": .string("AWSCURRENT"),
                "aws:SecureTransport": .string("true"),
            ]
        )
    }

    /// Builds the scenario and returns the mean time of one decision in microseconds (NaN if the scenario does not
    /// decide as expected).
    public static func run1000(iterations: Int) -> Double {
        let set = PolicySet(identityPolicies: policies())
        let context = request()
        guard set.statementCount == 1_005, set.evaluate(context).isAllowed else { return .nan }
        var allowed = 0
        let start = Monotonic.nanoseconds()
        for _ in 0..<max(1, iterations) where set.evaluate(context).isAllowed {
            allowed += 1
        }
        let elapsed = Monotonic.nanoseconds() - start
        guard allowed == max(1, iterations) else { return .nan }
        return Double(elapsed) / 1_000 / Double(max(1, iterations))
    }
}
