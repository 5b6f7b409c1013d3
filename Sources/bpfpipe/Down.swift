import ArgumentParser
import BPFPipeline

extension BPFPipeCommand {
    struct Down: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove what a pipeline deployed; removing link pins detaches (kept maps stay unless --include-kept)."
        )

        @Argument(help: "The pipeline file (YAML).")
        var file: String

        @Flag(name: .customLong("include-kept"), help: "Also remove kept maps (keep: true, pin: shared) and their data.")
        var includeKept = false

        @OptionGroup var locking: LockOptions

        func run() throws {
            let spec = try decodeOrExit(file)
            let deployment = Deployment(spec: spec)
            let lock = try locking.acquire(deployment.directory)
            for k in deployment.removeKilledRuns() { print(KilledRunsText.line(k)) }
            let removed = deployment.down(includeKept: includeKept)
            withExtendedLifetime(lock) {}
            let links = removed.filter { $0.contains("/links/") }.count
            print("removed \(removed.count) pin(s) from \(deployment.directory)" + (links > 0 ? " (\(links) link(s) detached)" : ""))
        }
    }
}
