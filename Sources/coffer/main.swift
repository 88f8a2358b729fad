import CofferClient

#if canImport(Glibc)
    import Glibc
#endif

// `coffer get NAME` is parsed by hand and served without touching ArgumentParser (or the Foundation it links): it is
// the command scripts run once per process start, and its start-up time is a target. Everything else, including a
// `get` with `--help` or a typo in it, goes to the full parser.
if let get = FastGet.parse(CommandLine.arguments.dropFirst()) {
    exit(GetRunner.run(get))
}
Coffer.runMain()
