/// `coffer get NAME` parsed by hand, so that the command that runs most often (a secret fetched per process start)
/// never touches ArgumentParser or Foundation: start-up time is part of its cost.
///
/// The grammar is exactly the documented one for `get`: global `--socket PATH` / `--admin-socket PATH` before the
/// subcommand, then one NAME and at most one each of `--version-id ID`, `--version-stage LABEL`, `--socket PATH`
/// (`--option value` or `--option=value`); `--` ends options. Anything else (help, a typo, a repeated option, a
/// missing NAME) returns nil, and the full parser takes over to give its help or usage error.
package struct FastGet: Equatable {
    package var secretId: String
    package var versionId: String?
    package var versionStage: String?
    package var socket: String?

    package init(secretId: String, versionId: String? = nil, versionStage: String? = nil, socket: String? = nil) {
        self.secretId = secretId
        self.versionId = versionId
        self.versionStage = versionStage
        self.socket = socket
    }

    /// Parses the arguments after the program name; nil when this is not a plain `get`.
    package static func parse(_ arguments: ArraySlice<String>) -> FastGet? {
        var index = arguments.startIndex
        var socket: String?
        var sawAdminSocket = false

        // Global options before the subcommand.
        while index < arguments.endIndex, arguments[index].hasPrefix("-") {
            guard let (name, value, next) = option(arguments, at: index) else { return nil }
            switch name {
            case "--socket" where socket == nil: socket = value
            case "--admin-socket" where !sawAdminSocket: sawAdminSocket = true  // not used by get
            default: return nil
            }
            index = next
        }
        guard index < arguments.endIndex, arguments[index] == "get" else { return nil }
        index += 1

        var name: String?
        var versionId: String?
        var versionStage: String?
        var socketAfter: String?
        var optionsEnded = false
        while index < arguments.endIndex {
            let argument = arguments[index]
            if !optionsEnded, argument == "--" {
                optionsEnded = true
                index += 1
                continue
            }
            if !optionsEnded, argument.hasPrefix("-") {
                guard let (option, value, next) = option(arguments, at: index) else { return nil }
                switch option {
                case "--version-id" where versionId == nil: versionId = value
                case "--version-stage" where versionStage == nil: versionStage = value
                case "--socket" where socket == nil && socketAfter == nil: socketAfter = value
                default: return nil
                }
                index = next
                continue
            }
            guard name == nil, !argument.isEmpty else { return nil }
            name = argument
            index += 1
        }
        guard let name else { return nil }
        return FastGet(
            secretId: name, versionId: versionId, versionStage: versionStage, socket: socket ?? socketAfter)
    }

    /// `--name value` or `--name=value` at `index`: the name, the value and the index after them. Values may start
    /// with `-` only in the `=` form (as ArgumentParser reads them).
    private static func option(_ arguments: ArraySlice<String>, at index: Int) -> (String, String, Int)? {
        let argument = arguments[index]
        guard argument.hasPrefix("--"), argument.count > 2 else { return nil }
        if let equals = argument.firstIndex(of: "=") {
            return (String(argument[..<equals]), String(argument[argument.index(after: equals)...]), index + 1)
        }
        let valueIndex = index + 1
        guard valueIndex < arguments.endIndex, !arguments[valueIndex].hasPrefix("-") else { return nil }
        return (argument, arguments[valueIndex], valueIndex + 1)
    }
}
