import CofferCore
import CofferProtocol
import CofferStore

/// Builders for the AWS response shapes (only members with values appear, as in AWS).
enum Shapes {
    static func tagList(_ tags: [(key: String, value: String)]) -> Value {
        .list(tags.map { .map(["Key": .string($0.key), "Value": .string($0.value)]) })
    }

    /// version id → labels, for labeled versions only (deprecated versions are hidden, as in AWS).
    static func versionsToStages(_ stages: [(stage: String, versionID: String)]) -> Document {
        var order: [String] = []
        var byVersion: [String: [String]] = [:]
        for (stage, version) in stages {
            if byVersion[version] == nil { order.append(version) }
            byVersion[version, default: []].append(stage)
        }
        return Document(order.map { ($0, .list((byVersion[$0] ?? []).map { .string($0) })) })
    }

    /// DescribeSecret's body, or a ListSecrets entry (`listEntry` switches VersionIdsToStages to
    /// SecretVersionsToStages, AWS's name in lists).
    static func metadata(
        _ row: SecretRow, tags: [(key: String, value: String)], stages: [(stage: String, versionID: String)],
        listEntry: Bool
    ) -> Document {
        var doc: Document = ["ARN": .string(row.arn), "Name": .string(row.name)]
        if let description = row.description { doc["Description"] = .string(description) }
        if let kms = row.kmsKeyID { doc["KmsKeyId"] = .string(kms) }
        if let enabled = row.rotationEnabled { doc["RotationEnabled"] = .bool(enabled) }
        if let lambda = row.rotationLambdaARN { doc["RotationLambdaARN"] = .string(lambda) }
        if let rotated = row.lastRotatedMs { doc["LastRotatedDate"] = .timestamp(Timestamp(milliseconds: rotated)) }
        doc["LastChangedDate"] = .timestamp(Timestamp(milliseconds: row.lastChangedMs))
        if let accessed = row.lastAccessedMs { doc["LastAccessedDate"] = .timestamp(Timestamp(milliseconds: accessed)) }
        if let deleted = row.deletedMs { doc["DeletedDate"] = .timestamp(Timestamp(milliseconds: deleted)) }
        if row.tagsTouched || !tags.isEmpty { doc["Tags"] = tagList(tags) }
        if !stages.isEmpty {
            doc[listEntry ? "SecretVersionsToStages" : "VersionIdsToStages"] = .map(versionsToStages(stages))
        }
        doc["CreatedDate"] = .timestamp(Timestamp(milliseconds: row.createdMs))
        return doc
    }

    static func stageList(_ stages: [String]) -> Value { .list(stages.map { .string($0) }) }
}

/// Labels with special meaning.
enum Stage {
    static let current = "AWSCURRENT"
    static let previous = "AWSPREVIOUS"
    static let pending = "AWSPENDING"
}
