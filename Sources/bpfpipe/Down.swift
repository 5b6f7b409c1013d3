import ArgumentParser
import BPFPipeline

extension BPFPipeCommand {
    struct Down: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove what a pipeline deployed (kept maps stay unless --include-kept)."
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
            let removed = deployment.down(includeKept: includeKept)
            withExtendedLifetime(lock) {}
            print("removed \(removed.count) pin(s) from \(deployment.directory)")
        }
    }
}
